"""Background calls (studio.workers): the result comes back on the GUI thread, and a widget deleted while its call
still runs neither crashes the process nor receives the result (CI once died with a segmentation fault when a
window was torn down while its data check's thread was about to emit from a call that was the window's child)."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QWidget

from studio import workers
from studio.workers import run_in_background


def test_the_result_and_the_error_come_back_on_the_gui_thread(qtbot):
    seen = []
    gui = QThread.currentThread()
    run_in_background(lambda: 7, lambda value: seen.append((value, QThread.currentThread() is gui)), seen.append)
    run_in_background(lambda: 1 / 0, seen.append, lambda exc: seen.append((type(exc), QThread.currentThread() is gui)))
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    assert sorted(seen, key=str) == sorted([(7, True), (ZeroDivisionError, True)], key=str)
    qtbot.waitUntil(lambda: not workers._RUNNING, timeout=5000)


def test_an_owner_deleted_while_its_call_runs_gets_nothing_and_nothing_crashes(qtbot):
    for _ in range(20):  # the crash was a race: try it many times
        owner = QWidget()
        release, got = threading.Event(), []
        call = run_in_background(lambda: release.wait(5) and "late", got.append, got.append, owner)
        assert call.running and call.parent() is None
        owner.deleteLater()
        qtbot.waitUntil(lambda: call.owner_gone, timeout=5000)  # the owner is gone, its call's thread still runs
        release.set()
        call.thread.join(5)
        qtbot.waitUntil(lambda: not call.running, timeout=5000)
        assert got == []


def test_progress_told_from_the_thread_arrives_on_the_gui_thread_and_stops_with_the_owner(qtbot):
    owner, told, gui = QWidget(), [], QThread.currentThread()

    def job(tell):
        for n in range(3):
            tell(n)
        return "done"

    done = []
    run_in_background(job, done.append, done.append, owner,
                      on_told=lambda n: told.append((n, QThread.currentThread() is gui)))
    qtbot.waitUntil(lambda: done == ["done"], timeout=5000)
    assert told == [(0, True), (1, True), (2, True)]
