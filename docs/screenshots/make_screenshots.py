"""Retake the README's screenshots: the studio driven on a real X display (Xvfb) at 1280x800.

    python docs/screenshots/make_screenshots.py --xvfb          # starts its own Xvfb at 1280x800, then every shot
    python docs/screenshots/make_screenshots.py --xvfb --quick  # every shot on the tiny model (a check, minutes)
    DISPLAY=:99 QT_QPA_PLATFORM=xcb python docs/screenshots/make_screenshots.py [--only-stack] [--only-live]
        [--only-compare] [--only-study] [--only-predictions] [--home DIR]   # --only-* flags combine

It needs Xvfb, ImageMagick's ``import`` and Qt's xcb libraries (Debian: ``apt-get install xvfb imagemagick
libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-cursor0``). Each picture is taken by ``import`` in a second
process while the studio runs. Everything the runs write goes to a temporary studio home. The shots: the stack
editor, a live run (dashboard with the processes field, the Study button and the run ETA), the model inspector, a
comparison of four saved runs (ratios against their baselines), the Study view on a real order study, and the
Predictions dock of the finished live run (teacher and compressed model side by side). The studio home is printed
first and kept: ``--home DIR`` reuses it, so ``--only-predictions --home DIR`` retakes the predictions of the live
run recorded there without running it again (without a finished run there, it runs the live run first).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
SCREEN = (1280, 800)  # the size a new user's laptop shows; every shot is of a window this size
QUICK = "--quick" in sys.argv  # every run on the tiny model: a check that the script works, not the README's shots


def start_xvfb() -> subprocess.Popen:
    """An Xvfb of :data:`SCREEN` on the first free display from :140; sets DISPLAY and the xcb platform."""
    import time

    for n in range(140, 200):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            break
    server = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if Path(f"/tmp/.X11-unix/X{n}").exists():
            break
        time.sleep(0.1)
    os.environ["DISPLAY"] = f":{n}"
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return server


def shot(widget, name: str, crop: tuple[int, int, int, int] | None = None) -> None:
    """Capture ``widget``'s top-level X window (or the root window) into docs/screenshots/NAME; ``crop`` (x, y,
    width, height in the window) keeps that part of it only."""
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    target = ["-window", hex(int(widget.window().winId()))] if widget is not None else ["-window", "root"]
    if crop is not None:
        target += ["-crop", "{2}x{3}+{0}+{1}".format(*crop), "+repage"]
    subprocess.run(["import", *target, str(HERE / name)], check=True, env={**os.environ})
    print("wrote", HERE / name, flush=True)


def raise_dock(window, title: str) -> None:
    from PySide6.QtWidgets import QDockWidget

    for dock in window.findChildren(QDockWidget):
        if dock.windowTitle() == title:
            dock.raise_()


def main() -> int:
    server = start_xvfb() if "--xvfb" in sys.argv else None
    try:
        return take_all()
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)


def take_all() -> int:
    home = sys.argv[sys.argv.index("--home") + 1] if "--home" in sys.argv else None
    tmp = home or tempfile.mkdtemp(prefix="studio-shots-")
    print("studio home", tmp, flush=True)
    os.environ["BERT_STUDIO_HOME"] = tmp
    os.environ["BERT_STUDIO_DB"] = f"sqlite:///{tmp}/runs.db"
    from bench.gui_stall import wait
    from core.env import configure_environment

    configure_environment()
    from studio.app import application

    app = application([])
    from core.recipe import EvaluationSettings
    from studio.main_window import MainWindow
    from studio.run_controller import studio_engine
    from studio.settings import StudioSettings

    engine = studio_engine(workdir_root=f"{tmp}/runs")  # runs go to a worker process, as in the studio
    engine.warm_up()
    window = MainWindow(settings=StudioSettings(f"{tmp}/studio.ini"), engine=engine)
    window.setGeometry(0, 0, *SCREEN)
    window.show()
    window.start_warm_up()
    warmed = []
    window.warmedUp.connect(lambda: warmed.append(1))
    wait(app, 120, until=lambda: bool(warmed))

    data, train = real_data()
    evaluation = EvaluationSettings(max_samples=400, latency_repeats=3, latency_batch_size=16)
    # --only-X flags pick shots and combine (--only-live --only-compare); none: every shot.
    only = {flag[len("--only-"):] for flag in sys.argv if flag.startswith("--only-")}
    if "--inspector-json" in sys.argv:  # re-take only the inspector, from a saved sensitivity result
        from studio.widgets.importance_map import load_sensitivity

        path = sys.argv[sys.argv.index("--inspector-json") + 1]
        window.sensitivity = {**load_sensitivity(path), "run_id": Path(path).parent.parent.name}
        inspector_shot(app, window)
        only = {"nothing"}
    if not only or "stack" in only:
        stack_shot(app, window, data, evaluation)
    if not only or "live" in only:  # the live run, its predictions, then the inspector with its head importance
        predictions_shot(app, window, live_run(app, window, data, train, evaluation))
        inspector_shot(app, window)
    elif "predictions" in only:
        # The live run is the only one with a head-pruning step (the comparison's runs prune FFN and layers).
        finished = sorted((r for r in window.store.list_runs() if r.status == "finished" and "heads" in r.stack),
                          key=lambda r: r.started_at, reverse=True)
        run_id = finished[0].id if finished else live_run(app, window, data, train, evaluation, shots=False)
        predictions_shot(app, window, run_id)
    if not only or "compare" in only:
        compare_shot(app, window, evaluation)
    if not only or "study" in only:
        study_shot(app, window)
    window.controller.shutdown(60)
    window.store.close()
    engine.close()
    return 0


def stack_shot(app, window, data, evaluation) -> None:
    from bench.gui_stall import wait
    from core.recipe import Recipe, Step

    # 1. A stack from several families, the palette open on all of them.
    stack = Recipe(name="compress-minilm", data=data, evaluation=evaluation, steps=[
        Step("finetune", {"epochs": 1.0, "batch_size": 16, "eval_every": 10}),
        Step("analyze.sensitivity", {"batches": 4, "batch_size": 16}),
        Step("prune.heads", {"amount": 0.5, "importance_source": "sensitivity"}),
        Step("prune.ffn", {}),
        Step("distill.train", {}),
        Step("factorize.embeddings", {}),
        Step("quant.dynamic_int8", {}),
    ])
    window.set_recipe(stack)
    window.stack.list.setCurrentRow(2)
    wait(app, 1.5)
    shot(window, "stack-editor.png")


def real_data():
    """The data and the first fine-tune of the live run and of the comparison's runs on the embedded MiniLM: the
    same, so the step cache fine-tunes once (60 steps at 1e-4 take the reviews from chance to about 79 %)."""
    from core.recipe import DataRef

    data = DataRef(train_samples=1920, validation_samples=128, test_samples=400, max_length=64)
    train = {"max_steps": 60, "batch_size": 32, "learning_rate": 1e-4, "eval_every": 20, "eval_samples": 128}
    return data, train


def live_run(app, window, data, train, evaluation, shots: bool = True) -> str:
    """2. A live run with head pruning: the head mask fills in while the recovery fine-tuning goes. Its id."""
    from bench.gui_stall import wait
    from core.recipe import ModelRef, Recipe, Step

    live = Recipe(name="heads-half", model=ModelRef("tiny" if QUICK else "default"), data=data, evaluation=evaluation,
                  steps=[
        Step("finetune", train),
        Step("analyze.sensitivity", {"batches": 4, "batch_size": 16, "layers": False}),
        Step("prune.heads", {"amount": 0.5, "importance_source": "sensitivity"}),
        Step("finetune", {**train, "max_steps": 20, "eval_every": 10}, label="Recover (fine-tune)"),
    ])
    window.set_recipe(live)
    window.stack.list.setCurrentRow(2)
    heads = []
    window.controller.bridge.maskUpdate.connect(lambda e: heads.append(e) if e.kind == "heads" else None)
    ended = []
    for sig in (window.controller.bridge.runFinished, window.controller.bridge.runFailed):
        sig.connect(ended.append)
    window.start_run()
    if shots:
        wait(app, 900, until=lambda: window.dashboard.current == 3 and window.plots.point_count("train/loss") >= 70)
        raise_dock(window, "Head mask")
        wait(app, 1.0)
        shot(window, "live-dashboard.png")
        raise_dock(window, "Log")
        wait(app, 1.0)
        shot(window, "studio-live-run.png")
    wait(app, 900, until=lambda: bool(ended) and not window.controller.running)
    if getattr(ended[0], "error", None):
        raise SystemExit(f"the live run failed: {ended[0].error}")
    return ended[0].run_id


def predictions_shot(app, window, run_id: str) -> None:
    """2b. The Predictions dock of the finished live run: a few validation sentences with the gold label, the
    teacher's and the compressed model's answers side by side. The Run column is widened for it, as a user would
    drag it, so the sentences are not wrapped a few words a line, and taller than the Run dock above it; the
    picture keeps that dock only (the recipe page beside it is squeezed meanwhile)."""
    from bench.gui_stall import wait
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDockWidget

    preview = window.predictions
    preview.set_run(run_id)
    raise_dock(window, "Predictions")
    dock = next(d for d in window.findChildren(QDockWidget) if d.widget() is preview)
    window.resizeDocks([dock], [560], Qt.Orientation.Horizontal)
    window.resizeDocks([window.dockWidget_for(window.dashboard), dock], [150, 600], Qt.Orientation.Vertical)
    preview.show_button.click()
    wait(app, 600, until=lambda: bool(preview.examples) or bool(preview.error))
    if preview.error:
        raise SystemExit(f"the predictions could not be shown: {preview.error}")
    wait(app, 1.5)
    area = dock.geometry()  # the dock and, under it, the tabs of its group (Log, Head mask, Predictions)
    bottom = window.statusBar().geometry().y()
    shot(window, "predictions.png", crop=(area.x(), area.y(), window.width() - area.x(), bottom - area.y()))
    window._share_docks()  # the layout of a first start again for the shots after this one
    raise_dock(window, "Log")


def inspector_shot(app, window) -> None:
    from bench.gui_stall import wait

    # 3. The inspector on the default model, with the head importance of the run's analysis.
    window.data_panel.inspect_model()
    wait(app, 120, until=lambda: window.inspector is not None)
    window.inspector.setGeometry(320, 10, 640, SCREEN[1] - 20)
    wait(app, 1.5)
    shot(window.inspector, "model-inspector.png")
    window.inspector.close()


def compare_shot(app, window, evaluation) -> None:
    from bench.gui_stall import wait
    from core.recipe import DataRef, ModelRef, Recipe, Step

    # 4. Short variants queued one after another, then compared, on the embedded MiniLM (their fine-tune is the live
    # run's, from the step cache); with --quick on the tiny model (quick, but the runs tie).
    real = not QUICK
    model = "default" if real else "tiny"
    tiny_data, train = (real_data() if real else
                        (DataRef(train_samples=480, validation_samples=128, test_samples=256, max_length=32),
                         {"max_steps": 30, "batch_size": 16, "learning_rate": 1e-3, "eval_every": 10,
                          "eval_samples": 128}))
    variants = [
        ("fine-tuned", [Step("finetune", train)]),
        ("fine-tuned + int8", [Step("finetune", train), Step("quant.dynamic_int8", {})]),
        ("FFN half + int8", [Step("finetune", train), Step("prune.ffn", {"amount": 0.5, "batches": 4}),
                             Step("quant.dynamic_int8", {})]),
        ("3 of 6 layers + int8", [Step("finetune", train), Step("prune.layers", {"strategy": "every_other"}),
                                  Step("quant.dynamic_int8", {})]),
    ]
    finished = []
    window.controller.bridge.runFinished.connect(finished.append)
    window.controller.bridge.runFinished.connect(lambda e: ids.add(e.run_id))
    ids: set[str] = set()
    for name, steps in variants:
        window.set_recipe(Recipe(name=name, model=ModelRef(model), data=tiny_data, evaluation=evaluation,
                                 steps=steps))
        window.queue_current()
    wait(app, 1800, until=lambda: len(finished) >= len(variants) and not window.controller.running)
    window.main_tabs.setCurrentWidget(window.browser)
    window.runs.refresh()
    window.runs.select_runs([r.id for r in window.runs.rows if r.model_source == model and r.id in ids])
    wait(app, 1.5)
    # The two scatters (the headline figure against speedup and against size ratio, each against its run's baseline)
    # are what the comparison is for: scroll the pane down to them, below the curves.
    comparison = window.browser.comparison
    bar = comparison.scroll.verticalScrollBar()
    bar.setValue(comparison.scatters["speedup"].parentWidget().y())
    wait(app, 1.0)
    shot(window, "compare-runs.png")



def study_shot(app, window) -> None:
    """5. The Study view on a real order study: a fine-tuned tiny teacher, then two steps tried alone and in both
    orders (four trials), with the trials table, the Pareto plot and the interaction table filled in."""
    from bench.gui_stall import wait
    from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step

    recipe = Recipe(name="order-heads-magnitude", model=ModelRef("tiny"),
                    data=DataRef(train_samples=480, validation_samples=128, test_samples=256, max_length=32),
                    evaluation=EvaluationSettings(max_samples=256, latency_repeats=3, latency_batch_size=16),
                    steps=[Step("finetune", {"max_steps": 30, "batch_size": 16, "learning_rate": 1e-3}),
                           Step("prune.magnitude", {"sparsity": 0.5}), Step("prune.heads", {})])
    window.set_recipe(recipe)
    view = window.open_study()
    view.setup.set_kind("order")
    view.setup.check_steps(view.setup.order_steps, [2, 3])
    ended = []
    view.session.ended.connect(ended.append)
    if not view.start():
        raise SystemExit(f"the study did not start: {view.setup.current_problems}")
    wait(app, 1800, until=lambda: bool(ended))
    view.refresh()
    wait(app, 2.0)
    shot(window, "study-view.png")


if __name__ == "__main__":
    raise SystemExit(main())
