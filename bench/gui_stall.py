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

    python -m bench.gui_stall                # embedded MiniLM, 30 steps
    python -m bench.gui_stall --model tiny   # random tiny BERT: a quick check
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
        self._last: float | None = None
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append((now - self._last) * 1000)
        self._last = now

    def start(self) -> None:
        self.gaps, self._last = [], None
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
        }


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="default (embedded MiniLM) or tiny")
    parser.add_argument("--steps", type=int, default=30, help="fine-tuning steps of the measured run")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle baseline")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="skip the studio's start-up warm-up (first run then imports the libraries itself)")
    parser.add_argument("--engine", choices=("process", "thread"), default="process",
                        help="where the run goes: the studio's worker process (default) or a thread of the GUI process")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    setup()
    with tempfile.TemporaryDirectory(prefix="gui-stall-") as tmp:
        os.environ["BERT_STUDIO_HOME"] = tmp
        os.environ["BERT_STUDIO_DB"] = f"sqlite:///{tmp}/runs.db"
        from studio.app import application

        app = application([])
        from core.engine import Engine, ProcessEngine
        from studio.main_window import MainWindow
        from studio.settings import StudioSettings

        engine = (ProcessEngine if args.engine == "process" else Engine)(workdir_root=f"{tmp}/runs")
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
        started = time.perf_counter()
        window.start_run()
        wait(app, args.timeout, until=lambda: bool(ended))
        running = meter.stop()
        seconds = time.perf_counter() - started
        status = type(ended[0]).__name__ if ended else "timed out"
        window.controller.shutdown(60)
        if args.engine == "process":
            engine.close()
        window.store.close()
        window.close()
    figures = {
        "model": args.model, "steps": args.steps, "engine": args.engine, "warm_up": args.warm_up,
        "batch_size": args.batch, "run_status": status, "load_average": [round(x, 2) for x in os.getloadavg()],
        "run_seconds": round(seconds, 1), "tick_ms": TICK_MS, "target_ms": TARGET_MS,
        "idle": idle, "during_run": running,
        "meets_target": running["longest_gap_ms"] <= TARGET_MS,
    }
    write_result("gui_stall", figures)
    return 0 if status == "RunFinished" else 1


if __name__ == "__main__":
    raise SystemExit(main())
