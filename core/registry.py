"""The method registry: each compression method is a settings dataclass plus a handler.

A method registers itself with :func:`register_method`, and everything the rest
of the code knows about it is on its :class:`MethodSpec`: its settings, which
encoder families and model states it applies to and why not (:class:`Refusal`),
whether it cuts structures, how a stack's name reads it, whether its result may
be kept in the step cache, and the version of its code. The recipe validator,
the engine's check before a step, the CLI and the studio's palette and forms
are all built from this metadata alone; adding a method touches its own module only.
Settings fields are declared with :func:`setting`, which records a help text and
optional range or choices in the field's metadata.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from core.code_version import code_version
from core.settings import (FieldInfo, brief, build_config, check_field, config_fields,  # noqa: F401 (the registry's API)
                           setting)

FAMILIES = (
    "training",
    "pruning",
    "factorization",
    "distillation",
    "sharing",
    "quantization",
    "analysis",
)

# The task kinds a method may apply to: ``core.tasks.kinds.TaskKind``'s values (a test keeps the two the same; the
# registry sits below the data layer, so it names them as text).
TASKS = ("sequence-classification", "token-classification", "question-answering", "regression", "multi-label")


@dataclass(frozen=True)
class Refusal:
    """Encoder families a method cannot apply to, and why.

    With ``setting`` only a step whose ``setting`` equals ``value`` (its default
    when the step leaves it out) is refused; without, the whole method is.
    ``families`` are model types (the keys of ``core.models.adapters.ADAPTERS``, or a non-transformer
    student's family, ``core.models.student_families``). ``test`` replaces the equality with ``value`` by a
    predicate of the setting's value (``value`` then words it); ``only_if`` (a predicate of the step's
    :class:`SettingsView`) limits the refusal to steps it holds for. With ``tasks`` (task kinds, ``families``
    left empty) it refuses the setting's value on a run of those tasks, whatever the model's family
    (:meth:`MethodSpec.task_refusal`).
    """

    families: tuple[str, ...]
    reason: str
    setting: str | None = None
    value: Any = None
    test: Callable[[Any], bool] | None = None  # refuse when test(setting's value); ``value`` then words it ("above 0")
    only_if: Callable[[Any], bool] | None = None  # and only when only_if(the step's SettingsView) holds
    tasks: tuple[str, ...] = ()  # a refusal on these task kinds instead of on families

    def __post_init__(self):
        if isinstance(self.families, str):
            object.__setattr__(self, "families", (self.families,))

    def matches(self, value: Any) -> bool:
        """Whether a step whose setting holds ``value`` is refused."""
        if self.test is not None:
            try:
                return bool(self.test(value))
            except (TypeError, ValueError):  # a value being typed: the settings check reports it
                return False
        return value == self.value


class SettingsView:
    """A step's settings as attributes: the recipe's raw values over the method's defaults (for phrases).

    Raw, not validated: a stack is named while its settings are still being typed.
    """

    def __init__(self, defaults: Any, settings: dict):
        self._defaults, self._settings = defaults, settings

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        if key in self._settings:
            return self._settings[key]
        return getattr(self._defaults, key, None)


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: everything the studio knows about it, in one place.

    ``trains`` marks methods that update weights by gradient descent and so need
    a float model; ``freezes`` marks methods whose output cannot be trained any
    more (a real int8 or k-bit conversion); ``accepts_frozen`` marks methods that can
    still run on such a model (evaluation). Those are the model states a method
    applies to; ``refuses`` lists the encoder families it does not apply to (see
    :class:`Refusal`). ``structural`` (a bool, or a function of the settings)
    says the step cuts structures, so a family whose layers share weights gets a
    note in the log. ``phrase`` is the few words a stack's name uses for a step
    (``core.naming``): a text, or a function of the step's settings (a
    :class:`SettingsView`). ``cacheable`` False keeps every prefix that ends with
    or after this step out of the step cache (the step changes something the
    cache does not store, such as the run's data). ``needs_adapter`` False lets
    the method run on a model no architecture adapter knows (it never touches
    the model's structure): only such methods apply to a non-transformer student. ``becomes`` (a function of
    the settings) names the family a step turns the model into (:meth:`family_after`). ``tasks`` are the task kinds the method applies to (all five by default), and
    ``task_reason`` says why not the others. :attr:`version` is derived from the handler's source
    (:mod:`core.code_version`), never set by hand.

    A step runs through :func:`core.applicability.apply_step`, which checks the
    model before the handler sees it; ``handler`` itself assumes it may apply.
    """

    name: str
    family: str
    title: str
    description: str
    config_cls: type
    handler: Callable[..., Any]
    trains: bool = False
    freezes: bool = False
    accepts_frozen: bool = False
    refuses: tuple[Refusal, ...] = ()
    structural: bool | Callable[[Any], bool] = False
    phrase: str | Callable[[Any], str] | None = None
    cacheable: bool = True
    needs_adapter: bool = True
    tasks: tuple[str, ...] = TASKS
    task_reason: str = ""
    becomes: Callable[[Any], str | None] | None = None

    def fields(self) -> list[FieldInfo]:
        return config_fields(self.config_cls)

    def default_settings(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config_cls())

    @property
    def version(self) -> str:
        """A hash of the source the handler runs: any change to the method's code is a new version."""
        return code_version(self.handler.__module__)

    def refusal(self, family: str, settings: dict[str, Any] | None = None) -> Refusal | None:
        """The first :class:`Refusal` of ``family`` (whole-method ones first); setting ones only with ``settings``."""
        for refusal in self.refuses:
            if refusal.setting is None and family in refusal.families:
                return refusal
        return self._setting_refusal([r for r in self.refuses if family in r.families], settings)

    def _setting_refusal(self, refusals: list[Refusal], settings: dict[str, Any] | None) -> Refusal | None:
        if settings is None:
            return None
        defaults = self.config_cls()
        for refusal in refusals:
            if refusal.setting is not None and \
                    refusal.matches(settings.get(refusal.setting, getattr(defaults, refusal.setting, None))) and \
                    (refusal.only_if is None or refusal.only_if(SettingsView(defaults, settings))):
                return refusal
        return None

    def task_refusal(self, task: str) -> str | None:
        """Why the method cannot apply to a ``task`` model (a :data:`TASKS` value), None when it can."""
        return None if task in self.tasks else self.task_reason

    def task_setting_refusal(self, task: str, settings: dict[str, Any] | None) -> Refusal | None:
        """The :class:`Refusal` of one of the step's ``settings`` on a ``task`` run (its ``tasks``), if any."""
        return self._setting_refusal([r for r in self.refuses if task in r.tasks], settings)

    def family_after(self, settings: dict[str, Any] | None = None) -> str | None:
        """The encoder family the model has after a step of this method (``becomes``, a function of the step's
        :class:`SettingsView`); None when the step keeps the family (a BiLSTM student from a BERT teacher: ``bilstm``)."""
        if self.becomes is None:
            return None
        try:
            return self.becomes(SettingsView(self.config_cls(), dict(settings or {})))
        except (TypeError, ValueError, AttributeError):
            return None

    def is_structural(self, cfg: Any) -> bool:
        return bool(self.structural(cfg) if callable(self.structural) else self.structural)

    def step_phrase(self, settings: dict[str, Any] | None = None) -> str:
        """A few words for a step of this method (``heads 50 %``); the method's name when it has no phrase."""
        if self.phrase is None or isinstance(self.phrase, str):
            return self.phrase or self.name
        try:
            return str(self.phrase(SettingsView(self.config_cls(), dict(settings or {}))))
        except (TypeError, ValueError, AttributeError):  # a setting being typed: no phrase yet
            return self.name


_REGISTRY: dict[str, MethodSpec] = {}
_LOADED = False


def register_method(
    name: str,
    *,
    family: str,
    title: str,
    description: str,
    config: type,
    trains: bool = False,
    freezes: bool = False,
    accepts_frozen: bool = False,
    refuses: Iterable[Refusal] = (),
    structural: bool | Callable[[Any], bool] = False,
    phrase: str | Callable[[Any], str] | None = None,
    cacheable: bool = True,
    needs_adapter: bool = True,
    tasks: Iterable[str] = TASKS,
    task_reason: str = "",
    becomes: Callable[[Any], str | None] | None = None,
) -> Callable:
    """Decorator registering ``fn(state, config, ctx) -> state`` as a method (see :class:`MethodSpec`)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"settings of {name!r} must be a dataclass")
    refuses = tuple(refuses)
    names = {f.name for f in dataclasses.fields(config)}
    for refusal in refuses:
        if refusal.setting is not None and refusal.setting not in names:
            raise ValueError(f"{name}: a refusal names the setting {refusal.setting!r}, which {config.__name__} lacks")
        if unknown := [t for t in refusal.tasks if t not in TASKS]:
            raise ValueError(f"{name}: a refusal names the unknown task {unknown[0]!r}")
    tasks = tuple(tasks)
    if unknown := [t for t in tasks if t not in TASKS]:
        raise ValueError(f"{name}: unknown task {unknown[0]!r}; the tasks are {', '.join(TASKS)}")
    if set(tasks) != set(TASKS) and not task_reason:
        raise ValueError(f"{name}: a method that leaves out tasks says why (task_reason)")

    def decorate(fn: Callable) -> Callable:
        if name in _REGISTRY and _REGISTRY[name].handler is not fn:
            raise ValueError(f"method {name!r} registered twice")
        _REGISTRY[name] = MethodSpec(name, family, title, description, config, fn, trains, freezes, accepts_frozen,
                                     refuses, structural, phrase, cacheable, needs_adapter, tasks, task_reason,
                                     becomes)
        return fn

    return decorate


def _ensure_loaded() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        importlib.import_module("core.methods")


def get_method(name: str) -> MethodSpec:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown method {name!r} (known: {known})") from None


def all_methods() -> list[MethodSpec]:
    _ensure_loaded()
    return sorted(_REGISTRY.values(), key=lambda s: (FAMILIES.index(s.family), s.name))


