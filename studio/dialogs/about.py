"""About dialog with the versions that matter when reporting a problem."""

from __future__ import annotations

import platform
from importlib import metadata

from PySide6.QtWidgets import QMessageBox, QWidget

PACKAGES = ("torch", "transformers", "datasets", "accelerate", "PySide6-Essentials", "pyqtgraph", "SQLAlchemy")


def versions() -> dict[str, str]:
    import core

    out = {"BERT Compression Studio": core.__version__, "Python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def about_text(note: str = "") -> str:
    """The About text; ``note`` (for instance the runs database in use and why) goes under the versions."""
    from html import escape

    rows = "".join(f"<tr><td>{k}</td><td>&nbsp;{v}</td></tr>" for k, v in versions().items())
    extra = f"<p>{escape(note)}</p>" if note else ""
    return ("<h3>BERT Compression Studio</h3><p>Stack BERT compression methods, watch them run, "
            f"compare and export the winner.</p><table>{rows}</table>{extra}")


def show_about(parent: QWidget | None = None, note: str = "") -> None:
    QMessageBox.about(parent, "About BERT Compression Studio", about_text(note))
