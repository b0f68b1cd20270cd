"""Export a saved run's final model: pick a format and a folder, watch it write and verify, read the report.

The export (:func:`core.export.export_run`) runs in a background thread; its
progress comes back as a queued signal. An existing, non-empty folder is only
replaced after the user says so.
"""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (QComboBox, QDialog, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from core.metrics.task_figures import headline_label
from studio.dialogs import errors

FORMATS = {
    "hf": "Hugging Face folder (safetensors; loads with the studio's loader or transformers)",
    "onnx": "ONNX (float), for ONNX Runtime",
    "onnx-int8": "ONNX with int8 weights (ONNX Runtime dynamic quantization)",
    "onnx-int4": "ONNX with 4-bit weights and embeddings (ONNX Runtime MatMulNBits): smallest, not fastest",
}


class ExportStopped(Exception):
    """Stop was pressed: raised from the export's progress callback, so its staging folder is removed."""


def default_folder_name(run_name: str, run_id: str) -> str:
    """A folder name from the run's name: letters, digits, dots, dashes and underscores only (no arrows, no %)."""
    name = re.sub(r"[^\w.]+", "-", run_name or "run", flags=re.ASCII).strip("-.") or "run"
    return f"{name}-{run_id[:8]}"


def agreement_text(report) -> tuple[str, str]:
    """(row label, value) for the share that agreed, in the task's own measure (the export report's)."""
    measure = getattr(report, "agreement_measure", "") or "predicted class agrees (share of rows)"
    what, _, unit = measure.partition(" (share of ")
    unit = unit.rstrip(")") or "rows"
    return "Agreement", f"{what[:1].upper() + what[1:]}: {100 * report.argmax_agreement:.1f} % of {unit} " \
                        f"(a batch of {report.rows} validation examples)"


def headline_row(report) -> tuple[str, str] | None:
    """(the task's headline figure's name, its value for the export, the model and the original) or None when
    verification did not measure it: ``("Entity F1", "export 81.0 %, model 81.0 %, original 83.0 % (24 validation
    examples)")``."""
    text = report.headline_text() if hasattr(report, "headline_text") else None
    if not text:
        return None
    values = text.partition(": ")[2]
    return headline_label(report.headline), f"{values} ({report.headline_examples} validation examples)"


def folder_in_use(path: Path) -> bool:
    """Whether writing to ``path`` would replace something (a file, or a folder with anything in it)."""
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def report_html(report) -> str:
    """The verification report as a small table."""
    def mb(n):
        return "\u2014" if n is None else f"{n / 1e6:.2f} MB"

    rows = [("Format", report.format), ("Folder", report.path), ("Size on disk", mb(report.size_bytes)),
            ("Weights file", mb(report.weights_bytes))]
    if report.size_ratio:
        rows.append(("Smaller than the original", f"{report.size_ratio:.2f}x"))
    if report.latency_ms is not None:
        latency = f"{report.latency_ms:.1f} ms ({report.protocol or report.latency_batch})"
        if report.original_latency_ms:
            latency += f"; original {report.original_latency_ms:.1f} ms"
        rows.append(("Latency", latency))
        if report.speed_text():
            rows.append(("Against the original", report.speed_text()))
    rows += [("Max output difference", f"{report.max_abs_diff:.3g} (logits)"),
             agreement_text(report), *filter(None, [headline_row(report)]),
             ("Tolerance", report.tolerance), ("Verified", "yes" if report.verified else "no")]
    body = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>&nbsp;{html.escape(str(v))}</td></tr>" for k, v in rows)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    return f"<table>{body}</table>" + (f"<p>Notes:</p><ul>{notes}</ul>" if notes else "")


class _ExportJob(QObject):
    """Runs ``export_run`` in a thread; every signal reaches the GUI thread queued."""

    progress = Signal(int, int, str)
    done = Signal(bool, object)

    def __init__(self, repo, run_id: str, fmt: str, folder: Path, overwrite: bool):
        super().__init__()
        self.args = (repo, run_id, fmt, folder, overwrite)
        self.stop_requested = threading.Event()
        self.thread = threading.Thread(target=self._target, name="studio-export", daemon=True)

    def _tell(self, step: int, total: int, message: str) -> None:
        # The export calls this between its steps, inside its staging folder: raising here removes that folder.
        # Once the last step is reported the export is in place, and stopping is too late.
        if self.stop_requested.is_set() and step < total:
            raise ExportStopped()
        self.progress.emit(step, total, message)

    def _target(self) -> None:
        from core.export.api import export_run

        repo, run_id, fmt, folder, overwrite = self.args
        try:
            report = export_run(repo, run_id, fmt, folder, overwrite=overwrite,
                                progress=lambda step, total, message: self._tell(step, total, message))
        except BaseException as exc:  # shown in the dialog
            self.done.emit(False, exc)
        else:
            self.done.emit(True, report)


class ExportDialog(QDialog):
    """Exports run ``run_id`` from ``repo`` (a :class:`core.db.Repository`)."""

    exportFinished = Signal(object)  # ExportReport
    exportFailed = Signal(object)  # the exception

    def __init__(self, repo, run_id: str, run_name: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.repo, self.run_id = repo, run_id
        self.setWindowTitle(f"Export run {run_name or run_id[:8]}")
        self.format_box = QComboBox()
        for value, label in FORMATS.items():
            self.format_box.addItem(label, value)
        from core.env import studio_home

        default = studio_home() / "exports" / default_folder_name(run_name, run_id)
        self.folder = QLineEdit(str(default))
        browse = QPushButton("Folder\u2026")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Format", self.format_box)
        form.addRow("Folder", row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 6)
        self.progress.setValue(0)
        self.status = QLabel("The export is written to a temporary folder, reloaded and checked against the "
                             "run's model, then moved into place.")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.report = QLabel("")
        self.report.setTextFormat(Qt.TextFormat.RichText)
        self.report.setWordWrap(True)
        self.report.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.close_button = QPushButton("Close")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the export before its next step; nothing is left in the folder")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.export_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        layout.addWidget(self.report, 1)
        layout.addLayout(buttons)
        self.resize(640, 420)
        self.job: _ExportJob | None = None

    def set_format(self, fmt: str) -> None:
        self.format_box.setCurrentIndex(self.format_box.findData(fmt))

    def _browse(self) -> None:
        settings = getattr(self.parent(), "settings", None)  # the window's StudioSettings, when there is one
        start = settings.last_folder("exports") if settings is not None else ""
        path = QFileDialog.getExistingDirectory(self, "Export into folder", start)
        if path:
            if settings is not None:
                settings.set_last_folder("exports", path)
            self.folder.setText(path)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def start(self) -> bool:
        """Begin the export; returns False when nothing started (busy, no folder, or the user kept the folder)."""
        if self.busy:
            return False
        text = self.folder.text().strip()
        if not text:
            self._fail_text("Choose a folder to export into.")
            return False
        folder = Path(text).expanduser()
        overwrite = False
        if folder_in_use(folder):
            if not errors.ask_yes_no(self, "Replace the folder?", f"{folder} already exists and is not empty. "
                                     "Replace its contents with this export?"):
                self.status.setText("Nothing was exported; the existing folder was left as it is.")
                return False
            overwrite = True
        self.error.hide()
        self.report.setText("")
        self.progress.setValue(0)
        self.export_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.job = _ExportJob(self.repo, self.run_id, self.format_box.currentData(), folder, overwrite)
        self.job.progress.connect(self._progress, Qt.ConnectionType.QueuedConnection)
        self.job.done.connect(self._done, Qt.ConnectionType.QueuedConnection)
        self.status.setText("Exporting\u2026")
        self.job.thread.start()
        return True

    def stop(self) -> None:
        """Ask the export to stop before its next step (a step under way, such as timing, finishes first)."""
        if self.job is None:
            return
        self.job.stop_requested.set()
        self.stop_button.setEnabled(False)
        self.status.setText("Stopping after the current step\u2026")

    @Slot(int, int, str)
    def _progress(self, step: int, total: int, message: str) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(step)
        if self.job is not None and self.job.stop_requested.is_set():
            return  # "Stopping…" stays until the export has stopped
        text = message[:1].upper() + message[1:]
        self.status.setText(f"Step {step + 1} of {total}: {text}\u2026" if step < total else "Done.")

    @Slot(bool, object)
    def _done(self, ok: bool, value: object) -> None:
        self.job = None
        self.export_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if not ok and isinstance(value, ExportStopped):
            self.progress.setValue(0)
            self.status.setText("Export stopped; nothing was written to the folder.")
            return
        if ok:
            self.progress.setValue(self.progress.maximum())
            self.status.setText("Exported and verified.")
            self.report.setText(report_html(value))
            self.exportFinished.emit(value)
        else:
            self._fail_text(f"The export failed: {value}")
            self.exportFailed.emit(value)

    def _fail_text(self, text: str) -> None:
        self.status.setText("")
        self.error.setText(f"\u26a0 {text}")
        self.error.show()

    def reject(self) -> None:
        if self.busy and not errors.ask_yes_no(self, "Export in progress", "The export is still running; close "
                                               "this window anyway? (The export finishes in the background.)"):
            return
        super().reject()
