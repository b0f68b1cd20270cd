"""Retake the README's screenshots: the studio driven on a real X display (Xvfb) at 1280x800.

    python docs/screenshots/make_screenshots.py --xvfb          # starts its own Xvfb at 1280x800, then every shot
    python docs/screenshots/make_screenshots.py --xvfb --quick  # every shot on the tiny model (a check, minutes)
    DISPLAY=:99 QT_QPA_PLATFORM=xcb python docs/screenshots/make_screenshots.py [--only-stack | --only-compare |
        --only-study]

It needs Xvfb, ImageMagick's ``import`` and Qt's xcb libraries (Debian: ``apt-get install xvfb imagemagick
libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-cursor0``). Each picture is taken by ``import`` in a second
process while the studio runs. Everything the runs write goes to a temporary studio home. The shots: the stack
editor, a live run (dashboard with the processes field, the Study button and the run ETA), the model inspector, a
comparison of four saved runs (ratios against their baselines), and the Study view on a real order study.
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


def shot(widget, name: str) -> None:
    """Capture ``widget``'s top-level X window (or the root window) into docs/screenshots/NAME."""
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    target = ["-window", hex(int(widget.window().winId()))] if widget is not None else ["-window", "root"]
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
    tmp = tempfile.mkdtemp(prefix="studio-shots-")
    os.environ["BERT_STUDIO_HOME"] = tmp
    os.environ["BERT_STUDIO_DB"] = f"sqlite:///{tmp}/runs.db"
    from bench.gui_stall import wait
    from core.env import configure_environment

    configure_environment()
    from studio.app import application

    app = application([])
    from core.recipe import DataRef, EvaluationSettings
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

    only_compare = "--only-compare" in sys.argv
    data = DataRef(train_samples=960, validation_samples=200, test_samples=400, max_length=64)
    evaluation = EvaluationSettings(max_samples=400, latency_repeats=3, latency_batch_size=16)
    if "--inspector-json" in sys.argv:  # re-take only the inspector, from a saved sensitivity result
        from studio.widgets.importance_map import load_sensitivity

        path = sys.argv[sys.argv.index("--inspector-json") + 1]
        window.sensitivity = {**load_sensitivity(path), "run_id": Path(path).parent.parent.name}
        inspector_shot(app, window)
    elif "--only-stack" in sys.argv:
        stack_shot(app, window, data, evaluation)
    elif "--only-study" in sys.argv:
        study_shot(app, window)
    else:
        if not only_compare:
            default_model_shots(app, window, data, evaluation)
            inspector_shot(app, window)
        compare_shot(app, window, evaluation)
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


def default_model_shots(app, window, data, evaluation) -> None:
    from bench.gui_stall import wait
    from core.recipe import Recipe, Step

    stack_shot(app, window, data, evaluation)

    # 2. A live run with head pruning: the head mask fills in while the recovery fine-tuning goes.
    from core.recipe import ModelRef

    live = Recipe(name="heads-half", model=ModelRef("tiny" if QUICK else "default"), data=data, evaluation=evaluation,
                  steps=[
        Step("finetune", {"max_steps": 40, "batch_size": 16, "eval_every": 10, "eval_samples": 200}),
        Step("analyze.sensitivity", {"batches": 4, "batch_size": 16, "layers": False}),
        Step("prune.heads", {"amount": 0.5, "importance_source": "sensitivity"}),
        Step("finetune", {"max_steps": 20, "batch_size": 16, "eval_every": 10, "eval_samples": 200},
             label="Recover (fine-tune)"),
    ])
    window.set_recipe(live)
    window.stack.list.setCurrentRow(2)
    heads = []
    window.controller.bridge.maskUpdate.connect(lambda e: heads.append(e) if e.kind == "heads" else None)
    window.start_run()
    wait(app, 900, until=lambda: window.dashboard.current == 3 and window.plots.point_count("train/loss") >= 48)
    raise_dock(window, "Head mask")
    wait(app, 1.0)
    shot(window, "live-dashboard.png")
    raise_dock(window, "Log")
    wait(app, 1.0)
    shot(window, "studio-live-run.png")
    ended = []
    for sig in (window.controller.bridge.runFinished, window.controller.bridge.runFailed):
        sig.connect(ended.append)
    wait(app, 900, until=lambda: bool(ended) and not window.controller.running)


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

    # 4. Short variants queued one after another, then compared. With --real-compare they run on the
    # embedded MiniLM (about 10 minutes here), otherwise on the tiny model (quick, but the runs tie).
    real = "--real-compare" in sys.argv and not QUICK
    model = "default" if real else "tiny"
    tiny_data = (DataRef(train_samples=1920, validation_samples=128, test_samples=400, max_length=64) if real
                 else DataRef(train_samples=480, validation_samples=128, test_samples=256, max_length=32))
    train = ({"max_steps": 60, "batch_size": 32, "learning_rate": 1e-4, "eval_every": 20, "eval_samples": 128} if real
             else {"max_steps": 30, "batch_size": 16, "learning_rate": 1e-3, "eval_every": 10, "eval_samples": 128})
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
    for name, steps in variants:
        window.set_recipe(Recipe(name=name, model=ModelRef(model), data=tiny_data, evaluation=evaluation,
                                 steps=steps))
        window.queue_current()
    wait(app, 1800, until=lambda: len(finished) >= len(variants) and not window.controller.running)
    window.main_tabs.setCurrentWidget(window.browser)
    window.runs.refresh()
    window.runs.select_runs([r.id for r in window.runs.rows if r.model_source == model][:len(variants)])
    wait(app, 1.5)
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
