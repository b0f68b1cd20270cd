"""``bert-studio run RECIPE``: run a recipe headless, recording into the database.

Ctrl-C (or SIGTERM) cancels the run at its next batch and the command exits with
130 (143) once the run is recorded as cancelled; a second signal records it as
cancelled and exits at once, without waiting for the engine's thread
(:mod:`core.cli.signals`). A run that finished is never
lost to a recording error or a database gone away: it is recorded afterwards, or
kept in a file (:mod:`core.db.pending`) that the next command opening the
database records, and the command exits with 1 saying where the file is.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time

from core.cli import signals
from core.cli.format import results_text

EXIT_UNRECORDED = 1  # the run ended but the database could not record it (its results are kept in a file)


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run a recipe file headless", description="Run a recipe (YAML or JSON) and record it in the database.")
    p.add_argument("recipe", help="recipe file (.yaml, .yml or .json)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override the recipe's device")
    p.add_argument("--name", help="override the run's name")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--events", metavar="PATH", help="also write every event as a JSON line to PATH (rank 0 only)")
    p.add_argument("--control", metavar="PATH", help="a file whose word (pause, run, cancel) steers the run")
    p.add_argument("--run-id", help="the run's id (default: a new one)")
    p.set_defaults(func=run)


def run(args) -> int:
    from core import events as ev
    from core.cli.database import close_all, open_repository
    from core.cli.progress import TerminalProgress
    from core.db import Recorder
    from core.engine import Engine
    from core.recipe import Recipe

    recipe = Recipe.load(args.recipe)
    if args.device:
        recipe.device = args.device
    if args.name:
        recipe.name = args.name
    recipe.validate()
    from core.applicability import require_applicable

    require_applicable(recipe)  # refused before anything loads or is recorded: the family or int8 state says no
    from core.models.loading import check_folder_task, check_model_source

    check_folder_task(recipe.model.source, recipe.task)  # a folder whose head is another task's: refused, both named
    check_model_source(recipe.model.source)  # its family, weights and tokenizer, as validate checks them
    from core.engine import distributed  # under torchrun / accelerate launch: one run, rank 0 records and prints

    if distributed.setup(recipe.device) and not distributed.is_main():
        return _other_rank(recipe)
    db, repo = open_repository(args.db)
    from core.engine.cache import StepCache

    engine = Engine(cache=StepCache.for_database(args.db))  # leading steps an earlier run computed are reused
    recorder = Recorder(db, engine.bus)
    display = TerminalProgress(engine.bus, quiet=args.quiet)
    writer = None
    if args.events:
        from core.engine.event_stream import EventWriter

        writer = EventWriter(engine.bus, args.events)
    artifacts: list[dict] = []  # kept for a run the database cannot record live
    engine.bus.subscribe(ev.Checkpoint, lambda e: artifacts.append({"kind": e.kind, "path": e.path,
                                                                    "step_index": e.index}))
    started_at = time.time()
    handle = None
    following = threading.Event()
    quiet_recorder = _recording_failures_in_one_line(db)
    try:
        with signals.cooperative() as interrupts:
            handle = engine.start(recipe, run_id=args.run_id)
            if args.control:
                from core.engine.control import follow_control_file

                follow_control_file(args.control, handle, following)
            cancelling = False
            while not handle.done:
                handle.join(0.2)
                if interrupts.requested.is_set() and not cancelling:
                    cancelling = True
                    print("\n" + interrupts.cancel_message("the run stops at its next batch"), file=sys.stderr,
                          flush=True)
                    handle.cancel()
    except signals.StopNow:
        if handle is None:
            raise KeyboardInterrupt from None
        # The engine's thread may be deep in a batch; record the run as cancelled now and leave without it
        # (interpreter shutdown beside a running torch thread can abort the process).
        engine.bus.publish(ev.RunCancelled(run_id=handle.run_id, reason="stopped at once by the user"))
        display.close()
        recorder.close()
        if writer is not None:
            writer.close()
        close_all()
        print(f"\nrun {handle.run_id[:8]} cancelled (stopped at once)", flush=True)
        sys.stderr.flush()
        os._exit(signals.exit_code())
    finally:
        following.set()
        display.close()
        recorder.close()
        quiet_recorder()
        if writer is not None:
            writer.close()
    result = handle.result
    if result is None:  # the thread ended without a result: nothing the engine can raise does that
        print(f"run {handle.run_id[:8]} ended without a result", file=sys.stderr)
        return 1
    kept = _make_sure_it_is_recorded(db, repo, recipe, result, artifacts, started_at)
    print(f"run {result.run_id[:8]} {result.status}")
    if kept is not None:
        if result.status == "finished":
            print(results_text(result.results))
        print(f"error: the run {result.status} but the database {db.url} could not record it; its recipe and results "
              f"are kept in {kept}, and the next bert-studio command that opens this database records them",
              file=sys.stderr)
        return EXIT_UNRECORDED
    if result.status == "failed":
        print(f"error: {result.error}", file=sys.stderr)
        return 1
    if result.status == "cancelled":
        return signals.exit_code()
    print(results_text(result.results))
    return 0


class _OneWarning(logging.Handler):
    """The recorder's failures while the run goes on: one line for the first, none after (no tracebacks)."""

    def __init__(self, db) -> None:
        super().__init__(logging.WARNING)
        self.url, self.said = db.url, False

    def emit(self, record: logging.LogRecord) -> None:
        if self.said:
            return
        self.said = True
        exc = record.exc_info[1] if record.exc_info else None
        text = str(getattr(exc, "orig", None) or exc) if exc is not None else record.getMessage()
        first = (text.strip().splitlines() or [""])[0][:200]
        kind = f"{type(exc).__name__}: " if exc is not None else ""
        print(f"warning: the database {self.url} stopped recording the run ({kind}{first}); the "
              f"run goes on, and its results are recorded at its end or kept in a file", file=sys.stderr, flush=True)


def _recording_failures_in_one_line(db):
    """Route the recorder's log to :class:`_OneWarning` while the run goes on; returns the function that undoes it."""
    log = logging.getLogger("core.db.recorder")
    handler, propagate = _OneWarning(db), log.propagate
    log.addHandler(handler)
    log.propagate = False

    def undo() -> None:
        log.removeHandler(handler)
        log.propagate = propagate

    return undo


def _recorded_status(repo, run_id: str) -> str | None:
    try:
        return repo.get_run(run_id).status
    except Exception:  # missing, or the database cannot be read: either way not recorded
        return None


def _make_sure_it_is_recorded(db, repo, recipe, result, artifacts, started_at):
    """Record a run the live recorder lost (its metrics are gone, nothing else is); None once recorded.

    What is not recorded is kept in a pending file first (so a failure from here on loses nothing), then recorded
    from that file; the file's path is returned when the database still cannot take it.
    """
    from core.cli.database import record_pending_runs
    from core.db import pending

    if _recorded_status(repo, result.run_id) == result.status:
        return None
    plain = json.loads(json.dumps(recipe.to_dict(), default=str))
    try:
        kept = pending.keep(db.url, result.run_id, result.status, recipe=plain, results=result.results,
                            error=result.error, device=recipe.device,
                            step_titles=tuple(step.title() for step in recipe.steps), artifacts=artifacts,
                            started_at=started_at)
    except OSError as exc:
        kept = None
        print(f"warning: could not keep the run's results in a file ({exc})", file=sys.stderr)
    if kept is not None and record_pending_runs(db, only=result.run_id) and \
            _recorded_status(repo, result.run_id) == result.status:
        return None
    return kept or _keep_in_file(recipe, result)


def _keep_in_file(recipe, result):
    """The last resort when the studio's own folder cannot take the pending file: beside the run's checkpoint."""
    from pathlib import Path

    from core.env import studio_home

    folder = Path(result.workdir) if result.workdir else studio_home() / "runs" / result.run_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "unrecorded-run.json"
    path.write_text(json.dumps({"run_id": result.run_id, "status": result.status, "error": result.error,
                                "recipe": recipe.to_dict(), "results": result.results}, indent=2, default=str))
    return path


def _other_rank(recipe) -> int:
    """A process other than rank 0 of a multi-process run: it trains its share; it records and prints nothing."""
    from core.engine import Engine
    from core.engine.distributed import rank

    try:
        with signals.cooperative() as interrupts:
            handle = Engine().start(recipe)  # the run id is rank 0's (broadcast)
            while not handle.done:
                handle.join(0.2)
                if interrupts.requested.is_set():
                    handle.cancel()  # every rank stops at the same step (core.engine.distributed.sync_check)
    except signals.StopNow:
        os._exit(signals.exit_code())
    result = handle.result
    if result is not None and result.status == "failed":
        print(f"error on rank {rank()}: {result.error}", file=sys.stderr)
    return {"finished": 0, "cancelled": signals.exit_code()}.get(result.status if result else "", 1)
