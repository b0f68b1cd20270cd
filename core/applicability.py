"""Whether a method can apply to a model, read from the methods' own specs; and the one way a step runs.

Each :class:`~core.registry.MethodSpec` says which encoder families it refuses
(:class:`~core.registry.Refusal`, for the whole method or for one value of a
setting) and which model states it takes (``accepts_frozen``: a model already
int8 or k-bit). :func:`applicability` and :func:`stack_problems` answer before a
run, without Qt and without a loaded model (the recipe validator, ``validate``,
``run`` and the studio's palette use them); a spec's ``tasks`` say which task
kinds it applies to (:func:`task_applicability`). :func:`apply_step` asks the same
questions of the loaded model and the run's task, then runs the handler with the model's adapter on
``ctx.adapter``, so no handler checks for itself. A non-transformer student (``bilstm``, ``cnn``: the family a
step turns the model into, :meth:`~core.registry.MethodSpec.family_after`) has no adapter: only the methods that
need none apply to it.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from core.models.adapters import ADAPTERS, Adapter, FamilyRefusal, adapter_for, families, source_profile
from core.models.student_families import NEEDS_TRANSFORMER, STUDENT_FAMILIES, is_student_family, student_family
from core.registry import MethodSpec, get_method
from core.settings import settings_dict
from core.tasks.kinds import TaskKind

FROZEN_REASON = ("the model holds int8 or k-bit weights (quantized before this step, or loaded from such an export), "
                 "so it cannot be trained, distilled or pruned further; start from the float model")


class TaskRefusal(FamilyRefusal):
    """A method that cannot apply to the run's task kind; the message names both and why."""


def task_of(source: Any) -> str:
    """The task kind's value of ``source``: a kind or its spelling, or anything with a ``task`` or ``kind``
    attribute (a recipe, the run's context or task data); sequence classification where none is said."""
    if source is None:
        return TaskKind.SEQUENCE_CLASSIFICATION.value
    if isinstance(source, str):
        return TaskKind.parse(source).value
    for attr in ("task", "kind"):
        if hasattr(source, attr):
            return task_of(getattr(source, attr))
    return TaskKind.SEQUENCE_CLASSIFICATION.value


def task_applicability(method_name: str, task: Any, settings: Mapping[str, Any] | None = None) -> str | None:
    """Why ``method_name`` cannot apply to a model of task ``task`` (None when it can, or the method is unknown);
    with the step's ``settings``, also a setting's value the method refuses on that task."""
    spec = _spec(method_name)
    if spec is None:
        return None
    try:
        kind = task_of(task)
    except ValueError:  # an unknown task is the recipe validator's to report
        return None
    reason = spec.task_refusal(kind)
    if reason:
        return f"{method_name} cannot apply to a {kind} task: {reason}"
    refusal = spec.task_setting_refusal(kind, None if settings is None else dict(settings))
    if refusal is None:
        return None
    return f"{method_name} with {refusal.setting}: {refusal.value} cannot apply to a {kind} task: {refusal.reason}"


def _spec(method: str) -> MethodSpec | None:
    try:
        return get_method(method)
    except KeyError:
        return None


def applicability(method_name: str, family: str, settings: Mapping[str, Any] | None = None,
                  quantized: bool = False, task: Any = None) -> str | None:
    """Why ``method_name`` cannot apply to a ``family`` model (None when it can); Qt-free, no model loaded.

    ``settings`` (the step's; ``{}`` for the defaults) catch refusals that depend
    on one setting; without them (the palette) only a method no settings can
    rescue is refused. ``quantized`` says the model starts with int8 / k-bit weights;
    ``task`` (when given) is the run's task kind.
    """
    reason = family_applicability(method_name, family, settings, quantized)
    if reason is None and task is not None:
        reason = task_applicability(method_name, task, settings)
    return reason


def family_applicability(method_name: str, family: str, settings: Mapping[str, Any] | None = None,
                         quantized: bool = False) -> str | None:
    """:func:`applicability` for the encoder family and the model state alone."""
    adapter = ADAPTERS.get(family)
    if adapter is None and not is_student_family(family):
        return f"{family!r} is not a supported encoder family ({', '.join(families())})"
    title = f"{adapter.title} model" if adapter is not None else STUDENT_FAMILIES[family]
    spec = _spec(method_name)
    if spec is None:  # an unknown method is the recipe validator's to report
        return None
    if quantized and not spec.accepts_frozen:
        return f"{method_name} cannot apply to this {title}: {FROZEN_REASON}"
    if adapter is None and spec.needs_adapter:  # a BiLSTM / CNN student: only methods that need no adapter
        return f"{method_name} cannot apply to a {title} ({family}): {NEEDS_TRANSFORMER}"
    refusal = spec.refusal(family, None if settings is None else dict(settings))
    if refusal is None:
        return None
    if refusal.setting is None:
        return f"{method_name} cannot apply to a {title} ({family}): {refusal.reason}"
    return f"{method_name} with {refusal.setting}: {refusal.value} cannot apply to a {title} ({family}): {refusal.reason}"


def stack_problems(steps: Iterable[tuple[str, Mapping[str, Any]]], family: str | None,
                   quantized: bool = False, task: Any = None) -> list[tuple[int, str]]:
    """``(step index, message)`` for each step that cannot apply to the model the stack starts from.

    The state a step meets follows the stack: after a step that ``freezes``
    the model (a real int8 conversion) the model counts as quantized. An empty
    ``family`` (not known before the model loads) checks the ``task`` alone.
    """
    out = []
    for index, (method, settings) in enumerate(steps):
        reason = family_applicability(method, family, settings, quantized) if family else None
        if reason is None and task is not None:
            reason = task_applicability(method, task, settings)
        if reason:
            out.append((index, reason))
        spec = _spec(method)
        quantized = quantized or bool(spec and spec.freezes)
        family = (spec.family_after(settings) if spec else None) or family  # a BiLSTM student from here on
    return out


def family_after_steps(steps: Iterable[tuple[str, Mapping[str, Any]]], family: str) -> tuple[str, int | None]:
    """The family of the model after ``steps`` (as :func:`stack_problems` follows it), and the index of the last
    step that changed it (a ``distill.student_init`` to a BiLSTM), None if none did."""
    changed = None
    for index, (method, settings) in enumerate(steps):
        spec = _spec(method)
        after = spec.family_after(settings) if spec else None
        if after and after != family:
            family, changed = after, index
    return family, changed


def recipe_problems(recipe, family: str | None = None, quantized: bool | None = None) -> list:
    """:class:`core.errors.Problem` for each step of ``recipe`` that cannot apply to the model it starts from.

    The family and state are read from the recipe's model source when not given
    (a hub name, unknown until loaded, is not checked; its task still is). For ``validate`` / ``run``.
    """
    from core.errors import Problem

    if family is None or quantized is None:
        try:
            found_family, found_quantized = source_profile(str(recipe.model.source))
        except Exception:  # an unreadable folder is the loader's to report, with its own message
            found_family, found_quantized = "", False
        family = found_family if family is None else family
        quantized = found_quantized if quantized is None else quantized
    steps = [(step.method, step.settings or {}) for step in recipe.steps]
    return [Problem(message, step=index, method=steps[index][0]) for index, message in
            stack_problems(steps, family, bool(quantized), getattr(recipe, "task", None))]


def require_applicable(recipe) -> None:
    """Raise :class:`core.errors.RecipeError` naming every step the model the recipe starts from cannot take."""
    from core.errors import RecipeError

    problems = recipe_problems(recipe)
    if problems:
        raise RecipeError(problems)


def admit(spec: MethodSpec, state, cfg: Any = None, ctx=None) -> Adapter | None:
    """The model's adapter, after refusing (``FamilyRefusal``) a step of ``spec`` that cannot apply to it.

    A structural step on a family whose layers share weights (ALBERT) says so in the step log. A method that
    does not need an adapter gets None on a model no adapter knows. A method the run's task (``ctx.task``) is not
    one of its ``tasks`` is refused with :class:`TaskRefusal`.
    """
    settings = settings_dict(cfg)
    if ctx is not None and (reason := task_applicability(spec.name, getattr(ctx, "task", None), settings)):
        raise TaskRefusal(reason)
    student = student_family(state.model)
    if student:  # no adapter: the spec says whether the method applies without one
        if reason := applicability(spec.name, student, settings, bool(getattr(state, "quantized", False))):
            raise FamilyRefusal(reason)
        return None
    try:
        adapter = adapter_for(state.model)
    except FamilyRefusal:
        if spec.needs_adapter:
            raise
        return None
    reason = applicability(spec.name, adapter.family, settings, bool(getattr(state, "quantized", False)))
    if reason:
        raise FamilyRefusal(reason)
    note = adapter.sharing_note(state.model) if spec.is_structural(cfg) else ""
    if note and ctx is not None:
        ctx.log(f"{spec.name}: {note}")
    return adapter


def apply_step(spec: MethodSpec, state, cfg: Any, ctx):
    """Run one step: refuse it before the handler sees the model if it cannot apply, else run the handler.

    The engine applies every step through here (and tests call it to run a method as a run would).
    """
    ctx.adapter = admit(spec, state, cfg, ctx)
    return spec.handler(state, cfg, ctx)
