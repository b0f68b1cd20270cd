"""Python's cycle collector runs on the GUI thread only: a collection on a background thread can destroy Qt
objects there and deadlock with the GUI thread (a hang seen in the suite: a background model check collected
a window's menus while the GUI thread was deleting widgets)."""

import gc
import threading

from PySide6.QtCore import QObject


def test_garbage_cycles_are_collected_on_the_gui_thread_not_where_they_were_made(qtbot):
    from studio.app import application

    application()
    assert not gc.isenabled()  # no automatic collection, whichever thread allocates
    collected_on: list[str] = []

    class Node:
        def __init__(self):
            self.me = self  # a reference cycle: only the cycle collector frees it
            self.qt = QObject()

        def __del__(self):
            collected_on.append(threading.current_thread().name)

    kept: list = []  # containers that stay alive raise the collector's count well past its threshold

    def background():
        Node()
        kept.extend({} for _ in range(20_000))

    worker = threading.Thread(target=background, name="bg")
    worker.start()
    worker.join()
    assert collected_on == []  # with automatic collection on, the background thread could have collected it
    qtbot.waitUntil(lambda: bool(collected_on), timeout=10_000)
    assert collected_on == [threading.main_thread().name]
