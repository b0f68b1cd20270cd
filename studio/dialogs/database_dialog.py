"""Choose where the studio keeps its runs: a SQLite file or any SQLAlchemy URL, checked before it is used.

The choice is validated by opening it with :func:`core.db.open_database`
(which refuses a corrupt, foreign or too-new database before changing
anything); until that succeeds, the current database stays in use and the
remembered location is not touched.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QVBoxLayout, QWidget)

from core.errors import StudioError


def as_url(text: str) -> str:
    """A file path becomes a ``sqlite:///`` URL; anything with ``://`` is taken as a URL already."""
    text = text.strip()
    if not text:
        raise StudioError("enter a database file or URL")
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def check_database(text: str) -> str:
    """Open the database at ``text`` once (creating an empty one if it is a new file); returns its URL.

    Raises :class:`~core.errors.StudioError` (``DatabaseError`` included) with the reason it cannot be used.
    """
    from core.db import Repository, open_database

    url = as_url(text)
    if url.startswith("sqlite:///"):
        folder = Path(url[len("sqlite:///"):]).parent
        if not folder.is_dir():
            raise StudioError(f"the folder {folder} does not exist")
    try:
        with open_database(url) as db:
            Repository(db).list_runs(limit=1)
    except StudioError:
        raise
    except Exception as exc:  # SQLAlchemy's own errors (bad URL, missing driver) in plain words
        raise StudioError(f"the database at {url} cannot be opened: {exc}") from exc
    return url


class DatabaseDialog(QDialog):
    """``exec()`` returns Accepted only after the chosen location opened; ``url`` is then set."""

    def __init__(self, current_url: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Runs database location")
        self.url: str | None = None
        self.edit = QLineEdit(current_url)
        self.edit.setMinimumWidth(460)
        browse = QPushButton("File\u2026")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.edit, 1)
        row.addWidget(browse)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        explain = QLabel("A SQLite file (a new file becomes an empty database) or a SQLAlchemy URL. The current "
                         "database is left as it is; its runs stay in it.")
        explain.setObjectName("hint")
        explain.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.try_accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Runs database", "", "SQLite databases (*.db *.sqlite);;All files (*)",
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.edit.setText(path)

    def try_accept(self) -> bool:
        try:
            self.url = check_database(self.edit.text())
        except StudioError as exc:
            self.url = None
            self.error.setText(f"\u26a0 {exc}")
            self.error.show()
            return False
        self.accept()
        return True
