"""One number per run: a user's score over the run's final figures (higher is better).

A score is a built-in (a weighted geometric mean of accuracy retained, speedup
and size ratio; the fastest or the smallest run that keeps enough accuracy) or
a formula over the figures' names, such as
``speedup * accuracy_retained ** 4 if accuracy_retained >= 0.98 else -inf``.

A formula is never evaluated by Python: :mod:`ast` parses it and only an
allow-listed tree is rebuilt (numbers, figure names, ``+ - * / **``, unary
minus, comparisons, ``and or not``, ``a if cond else b``, and the functions in
:data:`FUNCTIONS`), computed in floating point, so ``9**9**9`` overflows to
"no score" at once instead of building a huge integer; length and size are
bounded. A bad formula raises :class:`~core.errors.StudioError` naming the
unknown name or the syntax error, with its column.

Every score reads ``Score.names``; when one of them is missing from a run's
figures (or is not a number) the score is NaN; a run that violates a
constraint scores ``-inf``.

    score = parse_score({"kind": "geomean", "weights": {"accuracy_retained": 2, "speedup": 1, "size_ratio": 1}})
    score(run.figures)       # -> float
    ranked = rank(runs, score, lambda r: r.figures)
"""

from __future__ import annotations

import ast
import difflib
import math
from abc import ABC, abstractmethod
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from core.errors import StudioError

# The final figures a run ends with (the keys of core.engine.evaluation.final_results' dict).
FIGURES = (
    "accuracy", "loss", "parameters", "nonzero_parameters", "size_bytes", "latency_ms",
    "baseline_accuracy", "baseline_parameters", "baseline_size_bytes", "baseline_latency_ms",
    "accuracy_retained", "parameter_ratio", "size_ratio", "speedup",
)
CONSTANTS = {"inf": math.inf, "pi": math.pi, "e": math.e}
MAX_LENGTH = 500  # characters of a formula
MAX_NODES = 200  # syntax-tree nodes of a formula
MAX_DEPTH = 40  # nesting of a formula's syntax tree
RETAINED = "accuracy_retained"


class ScoreError(StudioError):
    """A score specification or formula that cannot be used; the message says why and where."""


class Score(ABC):
    """A single number from a run's final figures; higher is better."""

    names: frozenset[str]

    @abstractmethod
    def value(self, figures: dict[str, float]) -> float:
        """The score from ``figures``, which holds every name in :attr:`names` as a finite float."""

    @abstractmethod
    def describe(self) -> str:
        """One line a person reads next to the score."""

    @abstractmethod
    def spec(self) -> str | dict:
        """What :func:`parse_score` turns back into this score (to store a study's objective)."""

    def __call__(self, figures: Mapping[str, Any]) -> float:
        values = {}
        for name in self.names:
            v = _number(figures.get(name))
            if v is None:
                return math.nan
            values[name] = v
        try:
            return float(self.value(values))
        except (ArithmeticError, ValueError):  # division by zero, overflow, log of a negative: no score
            return math.nan

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def as_number(value: Any, *, finite: bool = False) -> float | None:
    """``value`` as a float, or None for a missing, boolean, non-numeric or NaN one (and an infinite one if ``finite``)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(v) or (finite and math.isinf(v)):
        return None
    return v


_number = as_number


# -- built-ins --------------------------------------------------------------------------------
class GeometricMean(Score):
    """Weighted geometric mean of figures (each higher-is-better), with an optional floor on accuracy retained."""

    DEFAULT_WEIGHTS = {"accuracy_retained": 1.0, "speedup": 1.0, "size_ratio": 1.0}

    def __init__(self, weights: Mapping[str, float] | None = None, min_accuracy_retained: float | None = None):
        self.weights = {k: float(v) for k, v in (weights or self.DEFAULT_WEIGHTS).items() if float(v) != 0}
        self.min_retained = min_accuracy_retained
        self.names = frozenset(self.weights) | (frozenset({RETAINED}) if min_accuracy_retained is not None else frozenset())

    def value(self, figures: dict[str, float]) -> float:
        if self.min_retained is not None and figures[RETAINED] < self.min_retained:
            return -math.inf
        total = sum(self.weights.values())
        if any(figures[k] < 0 for k in self.weights):
            return math.nan
        if any(figures[k] == 0 for k in self.weights):
            return 0.0
        return math.exp(sum(w * math.log(figures[k]) for k, w in self.weights.items()) / total)

    def describe(self) -> str:
        parts = ", ".join(f"{k.replace('_', ' ')} x{w:g}" for k, w in self.weights.items())
        return f"weighted geometric mean of {parts}" + _floor_text(self.min_retained)

    def spec(self) -> dict:
        out: dict[str, Any] = {"kind": "geomean", "weights": dict(self.weights)}
        if self.min_retained is not None:
            out["min_accuracy_retained"] = self.min_retained
        return out


class BestWithFloor(Score):
    """One figure (speedup: ``fastest``, size ratio: ``smallest``) among runs keeping enough accuracy."""

    FIGURE = {"fastest": "speedup", "smallest": "size_ratio"}
    DEFAULT_FLOOR = 0.98

    def __init__(self, kind: str, min_accuracy_retained: float | None = None):
        self.kind = kind
        self.figure = self.FIGURE[kind]
        self.min_retained = self.DEFAULT_FLOOR if min_accuracy_retained is None else min_accuracy_retained
        self.names = frozenset({self.figure, RETAINED})

    def value(self, figures: dict[str, float]) -> float:
        return figures[self.figure] if figures[RETAINED] >= self.min_retained else -math.inf

    def describe(self) -> str:
        what = "fastest run (speedup)" if self.kind == "fastest" else "smallest run (size ratio)"
        return f"{what} with at least {100 * self.min_retained:g} % of the baseline's accuracy"

    def spec(self) -> dict:
        return {"kind": self.kind, "min_accuracy_retained": self.min_retained}


def _floor_text(floor: float | None) -> str:
    return "" if floor is None else f"; runs under {100 * floor:g} % accuracy retained score -inf"


# -- formulas ---------------------------------------------------------------------------------
def _log(x: float, base: float | None = None) -> float:
    return math.log(x) if base is None else math.log(x, base)


FUNCTIONS: dict[str, tuple[Callable[..., float], int, int | None]] = {  # name: (function, fewest args, most args)
    "min": (min, 2, None), "max": (max, 2, None), "log": (_log, 1, 2), "log10": (math.log10, 1, 1),
    "sqrt": (math.sqrt, 1, 1), "exp": (math.exp, 1, 1), "abs": (abs, 1, 1),
}
_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.Pow: math.pow,  # math.pow: floats only, OverflowError instead of a huge int
}
_COMPARE: dict[type, Callable[[float, float], bool]] = {
    ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b, ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
}
_SYMBOLS = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
            ast.LShift: "<<", ast.RShift: ">>", ast.Invert: "~", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
            ast.NotIn: "not in"}
_NODE_WORDS = {ast.Attribute: "attribute access (a.b)", ast.Subscript: "indexing (a[b])", ast.Lambda: "lambda",
               ast.Call: "this call", ast.Starred: "*arguments", ast.NamedExpr: "assignment (:=)",
               ast.JoinedStr: "text", ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a mapping",
               ast.Set: "a set", ast.ListComp: "a comprehension", ast.GeneratorExp: "a generator",
               ast.DictComp: "a comprehension", ast.SetComp: "a comprehension", ast.Await: "await",
               ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "a slice"}

Node = Callable[[dict[str, float]], float]


class Formula(Score):
    """A formula over figure names, parsed into an allow-listed tree (see the module's docstring)."""

    def __init__(self, text: str, known: Iterable[str] = FIGURES):
        if not isinstance(text, str):
            raise ScoreError(f"a score formula must be text; got {type(text).__name__}")
        self.text = text.strip()
        if not self.text:
            raise ScoreError("the score formula is empty")
        if len(self.text) > MAX_LENGTH:
            raise ScoreError(f"the score formula is {len(self.text):,} characters long; at most {MAX_LENGTH} are accepted")
        self.known = frozenset(known)
        tree = _parse(self.text)
        self.tree = tree
        used: set[str] = set()
        self._root = self._build(tree.body, used)
        self.names = frozenset(used)

    def value(self, figures: dict[str, float]) -> float:
        return self._root(figures)

    def describe(self) -> str:
        return f"formula {ast.unparse(self.tree)}"

    def spec(self) -> str:
        return self.text

    # -- building the tree -------------------------------------------------------------
    def _fail(self, node: ast.AST, message: str) -> ScoreError:
        col = getattr(node, "col_offset", None)
        where = f" (column {col + 1})" if col is not None else ""
        return ScoreError(f"score formula {self.text!r}: {message}{where}")

    def _build(self, node: ast.AST, used: set[str]) -> Node:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node, used)
        if isinstance(node, ast.BinOp):
            op = _BINARY.get(type(node.op))
            if op is None:
                raise self._fail(node, f"the operator {_SYMBOLS.get(type(node.op), type(node.op).__name__)} is not allowed "
                                       "(use + - * / **)")
            left, right = self._build(node.left, used), self._build(node.right, used)
            return lambda f: op(left(f), right(f))
        if isinstance(node, ast.UnaryOp):
            operand = self._build(node.operand, used)
            if isinstance(node.op, ast.USub):
                return lambda f: -operand(f)
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(node.op, ast.Not):
                return lambda f: float(not operand(f))
            raise self._fail(node, f"the operator {_SYMBOLS.get(type(node.op), '?')} is not allowed")
        if isinstance(node, ast.Compare):
            return self._compare(node, used)
        if isinstance(node, ast.BoolOp):
            parts = [self._build(v, used) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda f: float(all(p(f) for p in parts))
            return lambda f: float(any(p(f) for p in parts))
        if isinstance(node, ast.IfExp):
            test, yes, no = (self._build(n, used) for n in (node.test, node.body, node.orelse))
            return lambda f: yes(f) if test(f) else no(f)
        if isinstance(node, ast.Call):
            return self._call(node, used)
        raise self._fail(node, f"{_NODE_WORDS.get(type(node), type(node).__name__)} is not allowed in a score formula")

    def _constant(self, node: ast.Constant) -> Node:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._fail(node, f"{value!r} is not a number")
        try:
            number = float(value)
        except OverflowError:
            raise self._fail(node, "the number is too large") from None
        return lambda f: number

    def _name(self, node: ast.Name, used: set[str]) -> Node:
        name = node.id
        if name in self.known:
            used.add(name)
            return lambda f: f[name]
        if name in CONSTANTS:
            number = CONSTANTS[name]
            return lambda f: number
        if name in FUNCTIONS:
            raise self._fail(node, f"{name} is a function: write {name}(...)")
        close = difflib.get_close_matches(name, sorted(self.known | set(CONSTANTS)), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise self._fail(node, f"unknown name {name!r}{hint} (figures: {', '.join(sorted(self.known))}; "
                               f"constants: {', '.join(CONSTANTS)})")

    def _compare(self, node: ast.Compare, used: set[str]) -> Node:
        ops = []
        for op in node.ops:
            fn = _COMPARE.get(type(op))
            if fn is None:
                raise self._fail(node, f"the comparison {_SYMBOLS.get(type(op), '?')} is not allowed (use < <= > >= == !=)")
            ops.append(fn)
        items = [self._build(node.left, used)] + [self._build(c, used) for c in node.comparators]

        def compare(f: dict[str, float]) -> float:
            values = [item(f) for item in items]
            return float(all(op(a, b) for op, a, b in zip(ops, values, values[1:])))

        return compare

    def _call(self, node: ast.Call, used: set[str]) -> Node:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            what = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise self._fail(node, f"unknown function {what!r} (allowed: {', '.join(FUNCTIONS)})")
        name = node.func.id
        fn, fewest, most = FUNCTIONS[name]
        if node.keywords:
            raise self._fail(node, f"{name}() takes no named arguments")
        n = len(node.args)
        if n < fewest or (most is not None and n > most):
            count = str(fewest) if fewest == most else f"{fewest} to {most}" if most else f"at least {fewest}"
            raise self._fail(node, f"{name}() takes {count} argument{'s' if count != '1' else ''}; got {n}")
        args = [self._build(a, used) for a in node.args]
        return lambda f: float(fn(*(a(f) for a in args)))


def _parse(text: str) -> ast.Expression:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset and exc.offset <= len(text) else " at the end"
        raise ScoreError(f"score formula {text!r}: syntax error{col}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        raise ScoreError(f"score formula {text[:60]!r}...: cannot be read ({type(exc).__name__})") from None
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:  # iterative, so a deep tree cannot exhaust the stack here
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            raise ScoreError(f"score formula {text[:60]!r}: too large (at most {MAX_NODES} terms, nested at most "
                             f"{MAX_DEPTH} deep)")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree


# -- reading a specification ------------------------------------------------------------------
BUILTINS = ("geomean", "fastest", "smallest")
_KEYS = {"geomean": {"weights", "min_accuracy_retained"}, "fastest": {"min_accuracy_retained"},
         "smallest": {"min_accuracy_retained"}, "formula": {"formula"}}


def parse_score(spec: Any, known: Iterable[str] = FIGURES) -> Score:
    """A :class:`Score` from a built-in name, a formula, or a mapping with ``kind`` (see the module's docstring).

    ``known``: the figure names a formula or weights may use (the final figures by default).
    Raises :class:`ScoreError` (a ``StudioError``) naming what is wrong.
    """
    if isinstance(spec, Score):
        return spec
    known = frozenset(known)
    if isinstance(spec, str):
        text = spec.strip()
        if text in ("geomean", "fastest", "smallest"):
            return parse_score({"kind": text}, known)
        return Formula(text, known)
    if not isinstance(spec, Mapping):
        raise ScoreError(f"a score is a built-in name ({', '.join(BUILTINS)}), a formula or a mapping with 'kind'; "
                         f"got {type(spec).__name__}")
    kind = spec.get("kind")
    if kind not in _KEYS:
        raise ScoreError(f"unknown score kind {kind!r} (known: {', '.join(_KEYS)})")
    extra = set(spec) - _KEYS[kind] - {"kind"}
    if extra:
        raise ScoreError(f"score kind {kind!r}: unknown keys {sorted(map(str, extra))} (known: {', '.join(sorted(_KEYS[kind]))})")
    if kind == "formula":
        if "formula" not in spec:
            raise ScoreError("score kind 'formula' needs a 'formula'")
        return Formula(spec["formula"], known)
    floor = _floor(spec.get("min_accuracy_retained"))
    if kind == "geomean":
        return GeometricMean(_weights(spec.get("weights"), known), floor)
    return BestWithFloor(kind, floor)


def _floor(value: Any) -> float | None:
    if value is None:
        return None
    v = _number(value)
    if v is None or not 0 < v <= 1.5:
        hint = " (a share: 0.98 for 98 %)" if v is not None and v > 1.5 else ""
        raise ScoreError(f"min_accuracy_retained must be a number above 0 and at most 1.5{hint}; got {value!r}")
    return v


def _weights(raw: Any, known: frozenset[str]) -> dict[str, float] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not raw:
        raise ScoreError("weights must be a mapping of figure names to numbers, e.g. {accuracy_retained: 2, speedup: 1}")
    out = {}
    for name, weight in raw.items():
        if name not in known:
            close = difflib.get_close_matches(str(name), sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ScoreError(f"weights: unknown figure {name!r}{hint}")
        w = _number(weight)
        if w is None or w < 0 or math.isinf(w):
            raise ScoreError(f"weights: the weight of {name!r} must be a number of at least 0; got {weight!r}")
        out[str(name)] = w
    if not any(out.values()):
        raise ScoreError("weights: at least one weight must be above 0")
    return out


# -- ranking ---------------------------------------------------------------------------------------
T = TypeVar("T")


def sort_key(value: float) -> tuple[int, float]:
    """Best first: finite and +inf scores by value, then -inf (a constraint violated), then NaN (no score)."""
    if math.isnan(value):
        return (2, 0.0)
    if value == -math.inf:
        return (1, 0.0)
    return (0, -value)


def rank(items: Sequence[T], score: Score, figures_of: Callable[[T], Mapping[str, Any]]) -> list[tuple[T, float]]:
    """``items`` with their scores, best first (ties keep the given order)."""
    scored = [(item, score(figures_of(item) or {})) for item in items]
    return sorted(scored, key=lambda pair: sort_key(pair[1]))
