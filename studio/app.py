"""Create the QApplication and the main window; :func:`run_studio` is what ``bert-studio`` calls."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


_COLLECTORS: dict[int, object] = {}


def collect_garbage_on_gui_thread(app: QApplication):
    """Let Python's cycle collector run only on the GUI thread (pyqtgraph's ``GarbageCollector``: automatic
    collection off, a timer collects).

    Otherwise a collection that happens to start on a background thread (a model being loaded there allocates
    a lot) may destroy a Qt object found in a garbage cycle on that thread; its destructor takes a Qt lock and
    waits for the interpreter lock, which the GUI thread holds while it waits for that Qt lock: both hang
    (seen in the test suite: a background model check and a window's menus being deleted).
    """
    from pyqtgraph.util.garbage_collector import GarbageCollector

    if id(app) not in _COLLECTORS:
        _COLLECTORS[id(app)] = GarbageCollector(interval=0.5)
    return _COLLECTORS[id(app)]


def application(argv: list[str] | None = None) -> QApplication:
    """The running QApplication, created (with the studio's style sheet) if needed."""
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0]] + list(argv or []))
    collect_garbage_on_gui_thread(app)
    app.setApplicationName("BERT Compression Studio")
    app.setOrganizationName("bert-studio")
    qss = RESOURCES / "styles" / "studio.qss"
    if qss.is_file():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))
    return app


def run_studio(argv: list[str]) -> int:
    """Open the studio; an optional first argument is a recipe file to open. Returns the exit code."""
    from core.env import configure_environment

    configure_environment()
    app = application(argv)
    from studio.main_window import MainWindow

    window = MainWindow()
    if argv and Path(argv[0]).is_file():
        window.open_recipe(argv[0])
    window.show()
    window.start_warm_up()
    window.controller.warm_up()  # the run worker imports its libraries meanwhile, in its own process
    return int(app.exec())
