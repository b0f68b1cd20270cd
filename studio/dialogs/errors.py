"""Error and question dialogs behind module-level functions.

Every caller goes through :func:`show_error` / :func:`ask_yes_no` *via this
module* (``errors.show_error(...)``), so tests replace them with a recorder
instead of blocking on a modal dialog.
"""

from __future__ import annotations

import traceback

from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget

from core.errors import StudioError


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> None:
    """A modal error box: ``message`` in plain words, ``details`` behind the "Show Details" toggle."""
    box = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.exec()


def ask_yes_no(parent: QWidget | None, title: str, question: str) -> bool:
    answer = QMessageBox.question(parent, title, question,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def ask_save_discard_cancel(parent: QWidget | None, title: str, question: str) -> str:
    """Unsaved changes: "save", "discard" or "cancel" (Escape and closing the box cancel)."""
    button = QMessageBox.StandardButton
    answer = QMessageBox.question(parent, title, question, button.Save | button.Discard | button.Cancel, button.Save)
    return {button.Save: "save", button.Discard: "discard"}.get(answer, "cancel")


def ask_text(parent: QWidget | None, title: str, label: str, text: str = "") -> str | None:
    """A line of text from the user, or None when cancelled."""
    value, ok = QInputDialog.getText(parent, title, label, text=text)
    return value if ok else None


def report_exception(parent: QWidget | None, title: str, exc: BaseException) -> None:
    """Show ``exc``: a :class:`StudioError` speaks for itself; anything else also gets its traceback."""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, StudioError):
        show_error(parent, title, str(exc), details)
    else:
        show_error(parent, title, f"Unexpected error: {type(exc).__name__}: {exc}", details)
