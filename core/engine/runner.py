"""Run a recipe: load model and data, apply each step in order, measure, report.

:meth:`Engine.run` is synchronous (CLI, tests); :meth:`Engine.start` runs the
same thing in a background thread and returns a :class:`RunHandle`.
:class:`core.engine.process.ProcessEngine` runs it in a worker process instead.

Given a :class:`~core.engine.cache.StepCache`, a run starts from the longest
prefix of its stack that an earlier finished run left in the cache, and leaves
its own prefixes there when it finishes (see :mod:`core.engine.prefixes`). A
finished run's folder keeps only what the run recorded (see
:mod:`core.engine.housekeeping`).
"""

from __future__ import annotations

import copy
import logging
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import events as ev
from core.engine import distributed
from core.engine.cache import StepCache
from core.engine.context import RunContext
from core.engine.control import RunControl
from core.engine.device import resolve_device
from core.engine.housekeeping import tidy_run_folder
from core.engine.prefixes import Prefixes
from core.errors import RunCancelled, StudioError
from core.recipe import Recipe

log = logging.getLogger(__name__)

# Families whose steps make the model the reference the rest is compared with,
# as long as nothing has compressed it yet (fine-tuning makes the teacher).
_BASELINE_FAMILIES = ("training",)
_NEUTRAL_FAMILIES = ("training", "analysis")


@dataclass
class RunResult:
    run_id: str
    status: str  # finished | failed | cancelled
    results: dict[str, Any] = field(default_factory=dict)
    state: Any = None
    error: str = ""
    workdir: Path | None = None


class Engine:
    """Runs recipes and publishes :mod:`core.events` on ``bus``."""

    def __init__(self, bus: ev.EventBus | None = None, workdir_root: str | Path | None = None,
                 cache: StepCache | None = None):
        from core.env import studio_home

        self.bus = bus or ev.EventBus()
        self.workdir_root = Path(workdir_root) if workdir_root else studio_home() / "runs"
        self.cache = cache  # None: every run computes every step

    def start(self, recipe: Recipe, run_id: str | None = None, **kwargs) -> "RunHandle":
        handle = RunHandle(run_id or new_run_id(), RunControl())
        thread = threading.Thread(target=handle._target, args=(self, recipe, kwargs), name=f"run-{handle.run_id[:8]}", daemon=True)
        handle.thread = thread
        thread.start()
        return handle

    def run(self, recipe: Recipe, run_id: str | None = None, control: RunControl | None = None,
            initial_state=None, task=None, use_cache: bool = True) -> RunResult:
        """Run ``recipe`` to its end; never raises for a failure inside the run (see the result's status).

        The step cache is used unless ``use_cache`` is false, the recipe opts out (``cache: false``) or the
        run starts from a caller's ``initial_state`` (a model the recipe's source does not name).
        """
        import torch

        run_id = run_id or new_run_id()
        control = control or RunControl()
        workdir = self.workdir_root / run_id
        result = RunResult(run_id, "failed", workdir=workdir)
        ctx: RunContext | None = None
        prefixes: Prefixes | None = None
        artifacts: list[str] = []  # what the run records (Checkpoint events): all its folder keeps once finished
        unsubscribe = self.bus.subscribe(ev.Checkpoint, lambda e: artifacts.append(e.path),
                                         filter=lambda e: e.run_id == result.run_id)  # the id ranks agree on
        try:
            recipe.validate()
            if initial_state is None:  # a model the recipe's source names: refuse steps its family cannot take
                from core.applicability import require_applicable

                require_applicable(recipe)
            if distributed.setup(recipe.device):  # one of several processes: one run id, rank 0 records
                run_id = result.run_id = distributed.broadcast_object(run_id)
                workdir = result.workdir = self.workdir_root / run_id
                if not distributed.is_main():
                    workdir = workdir / f"rank-{distributed.rank()}"
                distributed.attach(control)
                use_cache = False  # the cache is one process's: every rank computes every step
            device = distributed.local_device(resolve_device(recipe.device))
            titles = tuple(step.title() for step in recipe.steps)
            self.bus.publish(ev.RunStarted(run_id=run_id, recipe=recipe.to_dict(), device=str(device), step_titles=titles))
            workdir.mkdir(parents=True, exist_ok=True)
            ctx = RunContext(run_id, recipe, self.bus, control, device, workdir, task)
            torch.manual_seed(recipe.seed)
            state = self._prepare(ctx, initial_state)
            if self.cache is not None and use_cache and getattr(recipe, "cache", True) and initial_state is None:
                prefixes = Prefixes(self.cache, ctx)
            start, state = prefixes.resume(state) if prefixes else (0, state)
            state = self._run_steps(ctx, state, start, prefixes)
            ctx.step_index = len(recipe.steps)
            from core.engine.evaluation import final_results

            results = final_results(ctx, state) if distributed.is_main() else None  # evaluation and latency: once
            for key, value in (results or {}).items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):  # raw timings and notes: results only
                    ctx.metric(f"final/{key}", value)
            if distributed.is_main():
                self._save_final(ctx, state)
            results = distributed.broadcast_object(results)
            if prefixes:
                prefixes.commit()
            # Another rank's folder is nobody's record: it keeps nothing (rank 0 records the run).
            tidy_run_folder(workdir, artifacts if distributed.is_main() else ())
            result.status, result.results, result.state = "finished", results, state
            self.bus.publish(ev.RunFinished(run_id=run_id, results=results))
        except RunCancelled:
            if distributed.terminated():  # stopped by the launcher: another rank died
                result.error = distributed.failure(distributed.terminated())
                self.bus.publish(ev.RunFailed(run_id=run_id, error=result.error, details=""))
            else:
                result.status = "cancelled"
                self.bus.publish(ev.RunCancelled(run_id=run_id))
        except StudioError as exc:
            result.error = str(exc)
            distributed.report(result.error)
            self.bus.publish(ev.RunFailed(run_id=run_id, error=str(exc), details=traceback.format_exc()))
        except Exception as exc:  # any failure inside a method ends the run, not the program
            log.exception("run %s failed", run_id)
            result.error = f"{type(exc).__name__}: {exc}"
            if distributed.active():  # a collective that failed: name the rank that died and why
                distributed.report(result.error)
                result.error = distributed.failure(result.error)
            self.bus.publish(ev.RunFailed(run_id=run_id, error=result.error, details=traceback.format_exc()))
        finally:
            unsubscribe()
            if prefixes:
                prefixes.discard()  # what a run that did not finish staged (nothing after a commit)
        return result

    def _save_final(self, ctx: RunContext, state) -> None:
        """Keep the run's final model so it can be exported later (``export RUN``)."""
        from core.models.checkpoint import save_checkpoint

        ctx.progress(0, 1, "saving the final checkpoint", force=True)
        try:
            path = save_checkpoint(state, ctx.workdir / "final")
        except Exception as exc:  # the figures stand even if the disk is full
            log.exception("could not save the final checkpoint of run %s", ctx.run_id)
            ctx.log(f"the final checkpoint could not be saved: {exc}", level="warning")
            return
        self.bus.publish(ev.Checkpoint(run_id=ctx.run_id, index=ctx.step_index, path=str(path), kind="final"))

    def _prepare(self, ctx: RunContext, initial_state):
        from core.data.task import prepare_task
        from core.models.architecture import count_parameters, serialized_size
        from core.models.loading import load_model, load_tokenizer

        recipe = ctx.recipe
        ctx.progress(0, 2, "loading data", force=True)
        if ctx.task is None:
            tokenizer = initial_state.tokenizer if initial_state else load_tokenizer(recipe.model.source)
            ctx.load_data(prepare_task(recipe.data, tokenizer, recipe.task))
        for note in getattr(ctx.task, "notes", ()):  # rows dropped, merged or read as text (a study's shared data too)
            ctx.log(str(note), level="warning")
        ctx.check()
        ctx.progress(1, 2, "loading model", force=True)
        state = initial_state or load_model(recipe.model.source, ctx.task.num_labels, seed=recipe.seed,
                                            label_names=ctx.task.label_names, task=recipe.task)
        state.model.to(ctx.device)
        ctx.set_original(state.replace(model=copy.deepcopy(state.model)))
        parameters = count_parameters(state.model)
        # The starting point of the model-size curves, before any step (index -1, step 0).
        ctx.metric("model/parameters", parameters, step=0)
        ctx.metric("model/size_bytes", serialized_size(state.model), step=0)
        ctx.log(f"loaded {recipe.model.source}: {parameters:,} parameters on {ctx.device}")
        ctx.progress(2, 2, "ready", force=True)
        return state

    def _run_steps(self, ctx: RunContext, state, start: int = 0, prefixes: Prefixes | None = None):
        from core.applicability import apply_step  # the adapters load torch: not when the window imports the engine
        from core.models.architecture import count_parameters

        compressed = is_compressed(ctx.recipe.steps[:start])
        for index, step in enumerate(ctx.recipe.steps):
            if index < start:
                continue  # reused from the step cache
            ctx.check()
            spec = step.spec()
            ctx.step_index = index
            self.bus.publish(ev.StepStarted(run_id=ctx.run_id, index=index, method=step.method, title=step.title()))
            state = apply_step(spec, state, step.config(), ctx)  # refused here, before the handler, if it cannot apply
            distributed.agree(ctx, state.model, index, step.method)
            if spec.freezes:
                state.quantized = True
            change = ctx.settle(step.method)  # a step that changed the data: later steps read the new data
            if spec.family in _BASELINE_FAMILIES and not compressed:
                ctx.set_baseline(state.replace(model=copy.deepcopy(state.model)), index + 1)
            compressed = compressed or spec.family not in _NEUTRAL_FAMILIES
            summary = {"parameters": count_parameters(state.model)}
            if change:
                summary["data_change"] = change
                ctx.log(f"step {index + 1} changed the run's data ({change['reason'] or step.method}): later steps "
                        "read the new data and distil from a teacher made to read it; the baseline keeps its own "
                        "model and data, and the final figures are measured against it")
            if prefixes and not ctx.data_changes:  # after a data change a resumed run would read the data as loaded
                prefixes.after_step(index, state, summary)
            self.bus.publish(ev.StepFinished(run_id=ctx.run_id, index=index, method=step.method, summary=summary))
        return state


def is_compressed(steps) -> bool:
    """Whether any of ``steps`` changes the model beyond training (after which no step makes the baseline)."""
    return any(step.spec().family not in _NEUTRAL_FAMILIES for step in steps)


class RunHandle:
    """A run in a background thread: cancel, pause, resume, wait."""

    def __init__(self, run_id: str, control: RunControl):
        self.run_id = run_id
        self.control = control
        self.thread: threading.Thread | None = None
        self.result: RunResult | None = None

    def _target(self, engine: Engine, recipe: Recipe, kwargs: dict) -> None:
        self.result = engine.run(recipe, run_id=self.run_id, control=self.control, **kwargs)

    def cancel(self) -> None:
        self.control.cancel()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    @property
    def done(self) -> bool:
        return self.thread is not None and not self.thread.is_alive()

    def join(self, timeout: float | None = None) -> RunResult | None:
        if self.thread:
            self.thread.join(timeout)
        return self.result


def new_run_id() -> str:
    return uuid.uuid4().hex
