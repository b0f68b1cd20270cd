"""Names for runs that say what their stack does: ``fine-tune → heads 50 % → int8``.

A run used to be named after its recipe, so two different stacks opened from the
same example both read "quickstart". :func:`run_name` keeps a name the user
chose and otherwise names the run from its stack, the same way in the studio and
on the command line (the database recorder calls it).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

UNNAMED = frozenset({"", "untitled"})
ARROW = " \u2192 "


def _pct(value: Any) -> str:
    try:
        return f"{round(100 * float(value), 1):g} %"  # a searched 0.472333 reads "47.2 %", not "47.2333 %"
    except (TypeError, ValueError):
        return str(value)


def _setting(settings: dict, key: str, method: str) -> Any:
    """``settings[key]``, or the registry's default for ``method`` when the recipe leaves it out."""
    if key in settings:
        return settings[key]
    try:
        from core.registry import get_method

        return getattr(get_method(method).config_cls(), key)
    except (KeyError, AttributeError, TypeError):
        return None


def _heads(s: dict, m: str) -> str:
    count = _setting(s, "count", m)
    return f"{count} heads" if count is not None else f"heads {_pct(_setting(s, 'amount', m))}"


def _movement(s: dict, m: str) -> str:
    if _setting(s, "granularity", m) == "weights":
        return f"movement {_pct(_setting(s, 'final_sparsity', m))}"
    return f"movement heads {_pct(_setting(s, 'heads_amount', m))}, FFN {_pct(_setting(s, 'ffn_amount', m))}"


def _layers(s: dict, m: str) -> str:
    chosen = _setting(s, "layers", m)
    return f"layers {len(chosen)} dropped" if chosen else f"keep {_setting(s, 'keep', m)} layers"


def _student(s: dict, m: str) -> str:
    keep = _setting(s, "keep_layers", m)
    return f"student {len(keep) if keep else _setting(s, 'num_layers', m)} layers"


def _kbit(s: dict, m: str) -> str:
    if _setting(s, "bits_from", m) == "hessian":
        return f"{_setting(s, 'budget_bits', m):g}-bit average (Hessian)"
    return f"{_setting(s, 'bits', m)}-bit"


def _int8(s: dict, m: str) -> str:
    bits = _setting(s, "embedding_bits", m)
    return "int8" if bits is None else f"int8 + {bits}-bit embeddings"


_PHRASES: dict[str, Callable[[dict, str], str]] = {
    "finetune": lambda s, m: "fine-tune",
    "train.layerdrop": lambda s, m: "LayerDrop",
    "prune.heads": _heads,
    "prune.ffn": lambda s, m: f"FFN {_pct(_setting(s, 'amount', m))}",
    "prune.magnitude": lambda s, m: f"magnitude {_pct(_setting(s, 'sparsity', m))}",
    "prune.gradual_magnitude": lambda s, m: f"gradual magnitude {_pct(_setting(s, 'final_sparsity', m))}",
    "prune.movement": _movement,
    "prune.rpp": lambda s, m: "RPP" + (f" {_pct(t)}" if (t := _setting(s, 'target_sparsity', m)) else ""),
    "prune.vocabulary": lambda s, m: "vocabulary",
    "prune.layers": _layers,
    "factorize.embeddings": lambda s, m: f"embeddings {_setting(s, 'embedding_size', m)}",
    "factorize.linear": lambda s, m: f"low-rank {_setting(s, 'targets', m)}",
    "distill.student_init": _student,
    "distill.train": lambda s, m: "distil",
    "distill.task_agnostic": lambda s, m: "distil (general)",
    "share.layers": lambda s, m: "shared layers",
    "quant.dynamic_int8": _int8,
    "quant.kbit": _kbit,
    "quant.qat": lambda s, m: "QAT int8",
    "analyze.sensitivity": lambda s, m: "sensitivity",
    "evaluate": lambda s, m: "evaluate",
}


def step_phrase(method: str, settings: dict | None = None) -> str:
    """A few words for one step: ``heads 50 %``, ``4-bit``, ``fine-tune``; the method's name when unknown."""
    phrase = _PHRASES.get(method)
    return phrase(dict(settings or {}), method) if phrase else method


def _steps_of(steps: Iterable[Any]) -> list[tuple[str, dict]]:
    out = []
    for step in steps:
        if isinstance(step, str):
            out.append((step, {}))
        elif isinstance(step, dict):
            out.append((str(step.get("method", "?")), step.get("settings") or {}))
        else:  # core.recipe.Step
            out.append((step.method, step.settings or {}))
    return out


def stack_name(steps: Iterable[Any]) -> str:
    """``fine-tune → heads 50 % → int8`` (repeats of one phrase in a row are written once with a count)."""
    phrases: list[list] = []
    for method, settings in _steps_of(steps):
        phrase = step_phrase(method, settings)
        if phrases and phrases[-1][0] == phrase:
            phrases[-1][1] += 1
        else:
            phrases.append([phrase, 1])
    if not phrases:
        return "empty stack"
    return ARROW.join(p if n == 1 else f"{p} x{n}" for p, n in phrases)


def run_name(recipe: Any) -> str:
    """The name a run of ``recipe`` (a :class:`~core.recipe.Recipe` or its dict) is recorded under.

    The recipe's own name when it has one; otherwise (empty or "untitled") the stack's name.
    """
    if isinstance(recipe, dict):
        name, steps = str(recipe.get("name") or ""), recipe.get("steps") or []
    else:
        name, steps = str(recipe.name or ""), recipe.steps
    return name if name.strip() not in UNNAMED else stack_name(steps)
