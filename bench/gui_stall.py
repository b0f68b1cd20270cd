"""How long the studio's event loop stalls while a run goes, against the same window left idle.

Opens the main window offscreen, ticks a 10 ms ``QTimer`` and records the gap
between consecutive ticks: first with the window idle (the baseline, same
process, same machine state), then while a recipe runs on the embedded default
model (a few dozen fine-tuning steps on a small data slice, live plots,
dashboard and database recording all on). Target: the longest gap during the
run stays at or under 100 ms.

The run goes as the studio runs it: in the warm worker process of a
:class:`~core.engine.process.ProcessEngine`, started (and waited for) with the
studio's start-up warm-up. ``--engine thread`` measures the in-thread engine
instead, for comparison.

``--study`` measures the Study view instead: an order study (fine-tune, then two
pruning steps in both orders: four trials) with two workers, started from the
view's form as a user starts it, the view drawing its report as trials start and
end. Same target: the longest gap while the study runs stays at or under 100 ms.

    python -m bench.gui_stall                # embedded MiniLM, 30 steps
    python -m bench.gui_stall --model tiny   # random tiny BERT: a quick check
    python -m bench.gui_stall --study --model tiny --steps 20   # two study workers
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from bench.common import setup, write_result

TARGET_MS = 100.0
TICK_MS = 10


class GapMeter:
    """Records the gaps between ticks of a ``TICK_MS`` timer on the GUI thread."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        # Gaps over the target, with the CPU time the GUI thread and the whole process used meanwhile:
        # little of either means the process waited for a core (machine load), much of the process's
        # but little of the GUI thread's means another thread here held the GIL.
        self.long_gaps: list[dict] = []
        self._last: float | None = None
        self._cpu = (0.0, 0.0)
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), (time.thread_time(), time.process_time())
        if self._last is not None:
            gap = (now - self._last) * 1000
            self.gaps.append(gap)
            if gap > TARGET_MS:
                self.long_gaps.append({"gap_ms": round(gap, 1), "gui_thread_cpu_ms": round((cpu[0] - self._cpu[0]) * 1000, 1),
                                       "process_cpu_ms": round((cpu[1] - self._cpu[1]) * 1000, 1),
                                       "at_s": round(now - self._started, 1)})
        self._last, self._cpu = now, cpu

    def start(self) -> None:
        self.gaps, self.long_gaps, self._last = [], [], None
        self._started = time.perf_counter()
        self.timer.start()

    def stop(self) -> dict:
        self.timer.stop()
        gaps = sorted(self.gaps) or [0.0]
        return {
            "ticks": len(self.gaps),
            "longest_gap_ms": round(gaps[-1], 1),
            "p99_gap_ms": round(gaps[min(len(gaps) - 1, int(0.99 * len(gaps)))], 1),
            "median_gap_ms": round(statistics.median(gaps), 1),
            "gaps_over_target": sum(g > TARGET_MS for g in gaps),
            "long_gaps": self.long_gaps,
        }


class StallProbe:
    """Says where the GUI process was during long gaps: full collections here, and the GUI thread's stack.

    A watchdog thread looks every 5 ms; once the GUI thread's timer is ``after_ms``
    late it records the GUI thread's innermost frames (it can only look when it
    gets the GIL: a thread of this process holding the GIL shows up as the GUI
    thread's stack not changing while the watchdog was late too).
    """

    def __init__(self, meter: GapMeter, after_ms: float = 60.0):
        import gc
        import threading

        self.meter, self.after_ms = meter, after_ms
        self.samples: list[tuple[float, float, str]] = []  # (when, how late in ms, GUI stack)
        self.collections: list[tuple[float, float, int]] = []  # (start, ms, generation)
        self._gc_start = 0.0
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        gc.callbacks.append(self._on_gc)
        self._thread = threading.Thread(target=self._watch, name="stall-probe", daemon=True)
        self._thread.start()

    def _on_gc(self, phase: str, info: dict) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._gc_start = now
        elif now - self._gc_start > 0.01:
            self.collections.append((self._gc_start, (now - self._gc_start) * 1000, info.get("generation", -1)))

    def _watch(self) -> None:
        import sys
        import traceback

        sampled_for = None
        while not self._stop.wait(0.005):
            last = self.meter._last
            if last is None or not self.meter.timer.isActive():
                continue
            late = (time.perf_counter() - last) * 1000
            if late > self.after_ms and sampled_for != last:
                sampled_for = last
                frame = sys._current_frames().get(self._main)
                stack = "".join(traceback.format_stack(frame, limit=6)) if frame else "?"
                self.samples.append((time.perf_counter(), late, stack))

    def close(self) -> dict:
        import gc

        self._stop.set()
        self._thread.join()
        gc.callbacks.remove(self._on_gc)
        return {"collections_over_10ms": [(round(ms, 1), gen) for _, ms, gen in self.collections],
                "late_gui_stacks": [(round(late, 1), stack) for _, late, stack in self.samples]}


def wait(app, seconds: float, until=None) -> None:
    """Spin the real event loop for ``seconds`` (or until ``until()`` is true)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    deadline = time.monotonic() + seconds
    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(lambda: loop.quit() if time.monotonic() >= deadline or (until and until()) else None)
    poll.start()
    loop.exec()
    poll.stop()


def bench_recipe(model: str, steps: int, batch: int):
    from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step

    return Recipe(
        name="bench-gui-stall", model=ModelRef(model), device="cpu",
        data=DataRef(train_samples=batch * steps, validation_samples=128, test_samples=128, max_length=64),
        steps=[Step("finetune", {"max_steps": steps, "batch_size": batch, "eval_every": 10, "eval_samples": 64})],
        evaluation=EvaluationSettings(max_samples=128, latency_repeats=2, latency_batch_size=16),
    )


def study_template(model: str, steps: int, batch: int):
    """The measured study's template: a fine-tuned teacher, then two pruning steps whose order varies."""
    from core.recipe import Step

    recipe = bench_recipe(model, steps, batch)
    recipe.name = "bench-gui-stall-study"
    recipe.steps += [Step("prune.magnitude", {"sparsity": 0.5}), Step("prune.heads", {})]
    return recipe


def measure_study(app, args, tmp: str) -> dict:
    """The gaps while a two-worker order study runs in the Study view (shown offscreen), against it idle."""
    from studio.study.study_view import StudyView

    view = StudyView(os.environ["BERT_STUDIO_DB"], workdir_root=f"{tmp}/runs")
    view.resize(1280, 760)
    view.show()
    view.set_template(study_template(args.model, args.steps, args.batch))
    view.setup.set_kind("order")
    view.setup.check_steps(view.setup.order_steps, [2, 3])
    view.setup.workers.setValue(args.workers)
    wait(app, 1.0)  # first paint
    meter = GapMeter()
    meter.start()
    wait(app, args.idle)
    idle = meter.stop()

    ended: list = []
    view.session.ended.connect(ended.append)
    meter.start()
    probe = StallProbe(meter) if args.diagnose else None
    started = time.perf_counter()
    if not view.start():
        raise SystemExit(f"the study did not start: {view.setup.current_problems}")
    wait(app, args.timeout, until=lambda: bool(ended))
    running = meter.stop()
    diagnosis = probe.close() if probe else None
    seconds = time.perf_counter() - started
    report = view.session.report()
    view.shutdown(60)
    view.close()
    figures = {
        "mode": "study", "model": args.model, "steps": args.steps, "batch_size": args.batch,
        "workers": args.workers, "study_status": ended[0] if ended else "timed out",
        "trials": [t.status for t in report.trials] if report else [],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "study_seconds": round(seconds, 1), "tick_ms": TICK_MS, "target_ms": TARGET_MS,
        "idle": idle, "during_study": running, "meets_target": running["longest_gap_ms"] <= TARGET_MS,
    }
    if diagnosis is not None:
        figures["diagnosis"] = diagnosis
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="default (embedded MiniLM) or tiny")
    parser.add_argument("--steps", type=int, default=30, help="fine-tuning steps of the measured run")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle baseline")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="skip the studio's start-up warm-up (first run then imports the libraries itself)")
    parser.add_argument("--diagnose", action="store_true",
                        help="also record full collections and the GUI thread's stack during gaps over 60 ms")
    parser.add_argument("--niceness", type=int, default=None,
                        help="the worker's nice increment (default: the studio's, see studio/run_controller.py)")
    parser.add_argument("--engine", choices=("process", "thread"), default="process",
                        help="where the run goes: the studio's worker process (default) or a thread of the GUI process")
    parser.add_argument("--study", action="store_true",
                        help="measure the Study view with a study running (see above) instead of a run")
    parser.add_argument("--workers", type=int, default=2, help="the study's parallel workers (--study)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    setup()
    with tempfile.TemporaryDirectory(prefix="gui-stall-") as tmp:
        os.environ["BERT_STUDIO_HOME"] = tmp
        os.environ["BERT_STUDIO_DB"] = f"sqlite:///{tmp}/runs.db"
        from studio.app import application

        app = application([])
        if args.study:
            figures = measure_study(app, args, tmp)
            write_result("gui_stall_study", figures)
            return 0 if figures["study_status"] == "finished" else 1
        from core.engine import Engine
        from studio.main_window import MainWindow
        from studio.settings import StudioSettings

        from studio.run_controller import studio_engine

        if args.engine == "thread":
            engine = Engine(workdir_root=f"{tmp}/runs")
        else:
            nice = {} if args.niceness is None else {"niceness": args.niceness}
            engine = studio_engine(workdir_root=f"{tmp}/runs", **nice)
        window = MainWindow(settings=StudioSettings(f"{tmp}/studio.ini"), engine=engine)
        window.show()
        warmed: list = []
        worker_ready = getattr(engine, "wait_ready", lambda timeout: True)
        if args.warm_up:  # as the studio does at start-up (studio/app.py)
            window.warmedUp.connect(lambda: warmed.append(True))
            window.start_warm_up()
            window.controller.warm_up()
            wait(app, 120.0, until=lambda: bool(warmed) and worker_ready(0))
        wait(app, 1.0)  # first paint, pyqtgraph set-up
        meter = GapMeter()
        meter.start()
        wait(app, args.idle)
        idle = meter.stop()

        ended: list = []
        bridge = window.controller.bridge
        for signal in (bridge.runFinished, bridge.runFailed, bridge.runCancelled):
            signal.connect(ended.append)
        window.set_recipe(bench_recipe(args.model, args.steps, args.batch))
        meter.start()
        probe = StallProbe(meter) if args.diagnose else None
        started = time.perf_counter()
        window.start_run()
        wait(app, args.timeout, until=lambda: bool(ended))
        running = meter.stop()
        diagnosis = probe.close() if probe else None
        seconds = time.perf_counter() - started
        status = type(ended[0]).__name__ if ended else "timed out"
        window.controller.shutdown(60)
        if args.engine == "process":
            engine.close()
        window.store.close()
        window.close()
    figures = {
        "model": args.model, "steps": args.steps, "engine": args.engine,
        "worker_niceness": getattr(engine, "niceness", None), "warm_up": args.warm_up,
        "batch_size": args.batch, "run_status": status, "load_average": [round(x, 2) for x in os.getloadavg()],
        "run_seconds": round(seconds, 1), "tick_ms": TICK_MS, "target_ms": TARGET_MS,
        "idle": idle, "during_run": running,
        "meets_target": running["longest_gap_ms"] <= TARGET_MS,
    }
    if diagnosis is not None:
        figures["diagnosis"] = diagnosis
    write_result("gui_stall", figures)
    return 0 if status == "RunFinished" else 1


if __name__ == "__main__":
    raise SystemExit(main())
