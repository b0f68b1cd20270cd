"""The installed Qt binding keeps Python's reference counts straight.

PySide6-Essentials 6.12.0 loses one reference to ``None`` on every Qt call
that returns nothing; on Python 3.11, where ``None`` is reference-counted, the
studio then aborts with "none_dealloc" after a few thousand such calls (a live
run makes that many in minutes). pyproject.toml pins the binding below 6.12.
"""

import sys

from PySide6.QtWidgets import QLabel


def test_void_qt_calls_do_not_leak_references_to_none(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for i in range(200):
        label.setText(str(i))
    assert sys.getrefcount(None) - before > -50  # a leaking binding loses exactly 200
