"""Score formulas: parsed by :mod:`ast` and rebuilt from an allow-listed tree, never evaluated by Python."""

from __future__ import annotations

import ast
import math
from typing import Callable, Iterable

from core.scoring.base import (CONSTANTS, FIGURES, MAX_DEPTH, MAX_LENGTH, MAX_NODES, Score, ScoreError,
                               figure_problem)

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
        problem = figure_problem(name, self.known, also=CONSTANTS).replace("unknown figure", "unknown name", 1)
        raise self._fail(node, f"{problem[:-1]}; constants: {', '.join(CONSTANTS)})")

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
