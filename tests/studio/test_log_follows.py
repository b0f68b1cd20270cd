"""The Log dock follows the newest line, also for lines written while it was hidden behind another dock tab
(the screenshot tour found it showing the first lines after four queued runs)."""

from __future__ import annotations

from studio.widgets.log_panel import LogPanel
from tests.studio.conftest import shown


def test_lines_written_while_hidden_are_followed_once_the_log_shows_again(qtbot):
    for ever_shown in (False, True):  # a dock never raised yet, or one hidden behind another tab
        log = LogPanel()
        if ever_shown:
            shown(qtbot, log, 400, 200)
            log.append_line("first")
            log.hide()
        else:
            qtbot.addWidget(log)
        for n in range(300):
            log.append_line(f"line {n}")
        shown(qtbot, log, 400, 200)
        bar = log.verticalScrollBar()
        qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), timeout=3000)


def test_a_user_who_scrolled_up_is_left_where_they_read(qtbot):
    log = LogPanel()
    shown(qtbot, log, 400, 200)
    for n in range(300):
        log.append_line(f"line {n}")
    bar = log.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), timeout=3000)
    bar.setValue(10)
    log.append_line("one more")
    log.hide()
    log.append_line("and one while hidden")
    log.show()
    qtbot.wait(50)
    assert bar.value() == 10
