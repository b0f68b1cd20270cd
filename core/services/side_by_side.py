"""Recorded runs re-measured now, side by side: each run's final model and its baseline timed in alternation.

A run's own figures were taken when it ended, on whatever the machine was doing
then; two runs measured at different times do not compare by their latencies.
:func:`measure_runs` loads each selected run's final checkpoint and the baseline,
and times them all in one process, in alternation, under the same protocol
(:func:`core.metrics.latency.measure_profile`), so the ratios it reports are
comparable with each other.

The baseline is the **original model of the run's recipe** (``recipe.model.source``
with a classification head of the run's label count). The run's own baseline is
usually that model fine-tuned, which is not kept as a checkpoint; fine-tuning
changes no shape, so the original runs the same kernels on the same shapes and
its latency and size are the baseline's. Runs whose recipes share a model
source share one baseline and are timed in the same rounds; runs on another
model source get a group (and a baseline) of their own.

Qt-free: the CLI (``bert-studio bench``) and the studio ("Measure side by side")
both call it; the studio from a background thread, with ``check`` to stop it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from core.errors import StudioError
from core.metrics.protocol import Protocol
from core.metrics.timing import Timing, speed_figures

BASELINE = "baseline"
BASELINE_WHAT = ("the original model of the run's recipe (same shapes as the fine-tuned baseline, so the same "
                 "latency and size)")
DEFAULT_ROUNDS = 15
Progress = Callable[[int, int, str], None]


@dataclass
class ProfileResult:
    """One profile of one run: its speed figures (``speed_figures`` keys) and the protocol they were taken under."""

    profile: str
    figures: dict[str, Any]
    protocol: Protocol


@dataclass
class RunMeasurement:
    """A run re-measured now against its baseline."""

    run_id: str
    name: str
    baseline: str  # the baseline's model source
    profiles: list[ProfileResult] = field(default_factory=list)
    size_bytes: int | None = None
    baseline_size_bytes: int | None = None

    @property
    def size_ratio(self) -> float | None:
        if not self.size_bytes or not self.baseline_size_bytes:
            return None
        return self.baseline_size_bytes / self.size_bytes

    def headline(self) -> dict[str, Any]:
        """The first profile's speed figures plus the size ratio: what a comparison plots."""
        out = dict(self.profiles[0].figures) if self.profiles else {}
        if self.size_ratio is not None:
            out["size_ratio"] = self.size_ratio
        return out


@dataclass
class SideBySide:
    """Every run measured, and the raw timings of each baseline group (``group -> profile -> Timing``)."""

    runs: list[RunMeasurement]
    timings: dict[str, dict[str, Timing]] = field(default_factory=dict)

    def by_id(self) -> dict[str, RunMeasurement]:
        return {m.run_id: m for m in self.runs}


@dataclass
class _Loaded:
    run_id: str
    name: str
    state: Any
    recipe: Any


def _field(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, dict) else getattr(record, name, None)


def _load(record) -> _Loaded:
    """A run record's final model and recipe (``record``: a ``RunRecord``, or anything with its fields)."""
    from core.export.api import final_checkpoint
    from core.models.reload import load_model_folder
    from core.recipe import Recipe

    run_id = str(_field(record, "id"))
    recipe = _field(record, "recipe")
    if not recipe:
        raise StudioError(f"run {run_id[:8]} has no recorded recipe, so there is no baseline to time it against")
    parsed = Recipe.from_dict(dict(recipe))
    state = load_model_folder(final_checkpoint(record))
    return _Loaded(run_id, _field(record, "name") or run_id[:8], state, parsed)


def _round_counter(models: int, check: Callable[[], None] | None, on_round: Callable[[int], None]) -> Callable[[], None]:
    """A ``check`` for :func:`~core.metrics.latency.time_rounds` that also reports each round as it starts.

    ``time_rounds`` calls ``check`` once before each model's block, ``models`` times a round, in order; the
    first call of each round is the start of round ``calls // models``.
    """
    calls = 0

    def counted() -> None:
        nonlocal calls
        if check:
            check()
        if calls % models == 0:
            on_round(calls // models)
        calls += 1

    return counted


def _cpu_eval(model):
    return model.to("cpu").eval()


def measure_runs(repo, run_ids: Sequence[str], **kwargs) -> SideBySide:
    """:func:`measure_records` on the runs ``run_ids`` (full ids or unambiguous prefixes) of ``repo``."""
    if not run_ids:
        raise StudioError("name at least one run to measure")
    return measure_records([repo.get_run(run_id) for run_id in run_ids], **kwargs)


def measure_records(records: Sequence[Any], *, profiles: Sequence[str] | None = None,
                    rounds: int = DEFAULT_ROUNDS, threads: int | None = None, warmup: int = 1,
                    progress: Progress | None = None, check: Callable[[], None] | None = None,
                    timer=None) -> SideBySide:
    """Load each run's final model and its baseline and time them in alternation, now, in this process.

    ``records`` are run records (id, name, recipe, artifacts), read beforehand: no database is touched
    here, so the studio can call this from a background thread. ``profiles`` defaults to the first run's
    ``evaluation.latency_profiles``; ``threads`` to its ``latency_threads`` (torch's default when unset).
    ``check`` is called between loads and timed blocks (raise to stop); ``timer`` is for tests.
    ``progress(done, total, message)`` counts loads and timing rounds: it moves once per round, so a long
    measurement shows it is going.
    """
    from core.data.task import prepare_task
    from core.export.api import name_labels
    from core.models.architecture import serialized_size
    from core.models.loading import load_model, load_tokenizer
    from core.metrics.latency import measure_profile

    if not records:
        raise StudioError("name at least one run to measure")
    tell = progress or (lambda current, total, message: None)
    rounds = max(1, int(rounds))
    # One unit per run loaded, until the groups are known; then one per baseline loaded and per round timed.
    loaded: list[_Loaded] = []
    for n, record in enumerate(records):
        tell(n, len(records) + 1, f"loading run {str(_field(record, 'id'))[:8]}")
        loaded.append(_load(record))
        if check:
            check()
    first = loaded[0].recipe
    profiles = list(profiles or first.evaluation.latency_profiles)
    threads = threads or first.evaluation.latency_threads
    groups: dict[tuple, list[_Loaded]] = {}
    for item in loaded:
        num_labels = int(item.state.model.config.num_labels)
        groups.setdefault((item.recipe.model.source, num_labels), []).append(item)
    result = SideBySide([])
    measurements = {item.run_id: item for item in loaded}
    out: dict[str, RunMeasurement] = {}
    total = len(loaded) + len(groups) * (1 + len(profiles) * rounds)
    done = len(loaded)
    for (source, num_labels), members in groups.items():
        recipe = members[0].recipe
        tokenizer = members[0].state.tokenizer or load_tokenizer(source)
        tell(done, total, f"loading the baseline {source}")
        task = prepare_task(recipe.data, tokenizer, recipe.task)
        base = load_model(source, num_labels, seed=recipe.seed, task=recipe.task)
        models = {BASELINE: _cpu_eval(base.model)}
        for item in members:
            name_labels(item.state.model.config, task.label_names)
            models[item.run_id] = _cpu_eval(item.state.model)
        done += 1
        base_size = serialized_size(base.model)
        for item in members:
            out[item.run_id] = RunMeasurement(item.run_id, item.name, source,
                                              size_bytes=serialized_size(item.state.model),
                                              baseline_size_bytes=base_size)
        group = f"{source} ({len(members)} run{'s' if len(members) != 1 else ''})"
        result.timings[group] = {}
        for profile in profiles:
            what = f"timing {profile} ({len(members)} run(s) and the baseline)"
            tell(done, total, f"{what}: warming up")
            timing = measure_profile(models, task, recipe.evaluation.split, profile,
                                     throughput_batch=recipe.evaluation.latency_batch_size,
                                     max_length=recipe.data.max_length, rounds=rounds, warmup=warmup,
                                     threads=threads, timer=timer,
                                     check=_round_counter(len(models), check,
                                                          lambda r, d=done: tell(d + r, total,
                                                                                 f"{what}: round {r + 1} of {rounds}")))
            done += rounds
            result.timings[group][profile] = timing
            for item in members:
                out[item.run_id].profiles.append(
                    ProfileResult(profile, speed_figures(timing, candidate=item.run_id, baseline=BASELINE),
                                  timing.protocol))
    tell(total, total, "done")
    result.runs = [out[run_id] for run_id in measurements]
    return result
