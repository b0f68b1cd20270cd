"""Choose where the studio keeps its runs: a SQLite file or any SQLAlchemy URL, checked before it is used.

The choice is validated by opening it with :func:`core.db.open_database`
(which refuses a corrupt, foreign or too-new database before changing
anything); until that succeeds, the current database stays in use and the
remembered location is not touched.

Precedence (see :meth:`studio.settings.StudioSettings.database_choice`): a
location chosen here is remembered and wins on every start, even over the
``BERT_STUDIO_DB`` environment variable; without a choice, ``BERT_STUDIO_DB``
is used, else ``studio.db`` in the studio home. "Use default" forgets the choice.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QVBoxLayout, QWidget)

from core.errors import StudioError

ORIGINS = {
    "chosen": "chosen in File \u25b8 Runs database location",
    "environment": "from the BERT_STUDIO_DB environment variable (no location chosen in the studio)",
    "default": "the default, in the studio's data folder",
    "given": "given to the window when it was created",
}


def describe_origin(origin: str) -> str:
    """Why a database is the one in use, in words for the status bar, this dialog and About."""
    return ORIGINS.get(origin, origin)


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
    """``exec()`` returns Accepted after the chosen location opened (``url`` is set) or after "Use default"
    (``use_default`` is True, ``url`` None).

    ``origin`` says why ``current_url`` is in use (see :data:`ORIGINS`); ``default_url`` is where the studio
    goes without a choice.
    """

    def __init__(self, current_url: str, parent: QWidget | None = None, origin: str = "", default_url: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Runs database location")
        self.url: str | None = None
        self.use_default = False
        self.edit = QLineEdit(current_url)
        self.edit.setMinimumWidth(460)
        self.edit.setToolTip("A path to a SQLite file, or a SQLAlchemy URL such as postgresql://user@host/runs")
        browse = QPushButton("File\u2026")
        browse.setToolTip("Pick or name a SQLite file")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.edit, 1)
        row.addWidget(browse)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        in_use = f"In use now: {current_url}" + (f" ({describe_origin(origin)})." if origin else ".")
        default = default_url or "$BERT_STUDIO_DB when it is set, else studio.db in the studio's data folder"
        self.explain = QLabel(
            f"{in_use}<br><br>Choose a SQLite file (a new file becomes an empty database) or a SQLAlchemy URL. "
            "Your choice is remembered and used every time the studio starts, <b>even when the BERT_STUDIO_DB "
            "environment variable is set</b>. Without a choice the studio uses $BERT_STUDIO_DB when it is set, "
            f"else studio.db in its data folder: now that is {default}. <i>Use default</i> goes back to it."
            "<br><br>Runs are not copied: the current database stays as it is, with its runs. The command line "
            "(<tt>bert-studio runs \u2026</tt>) reads --db or BERT_STUDIO_DB, not this choice.")
        self.explain.setObjectName("hint")
        self.explain.setWordWrap(True)
        self.explain.setTextInteractionFlags(self.explain.textInteractionFlags()
                                             | Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        self.default_button = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        self.default_button.setText("Use default")
        self.default_button.setToolTip(f"Forget the chosen location and use {default}")
        self.default_button.setEnabled(origin == "chosen" or not origin)
        self.default_button.clicked.connect(self.choose_default)
        buttons.accepted.connect(self.try_accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.explain)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def choose_default(self) -> None:
        self.url = None
        self.use_default = True
        self.accept()

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
