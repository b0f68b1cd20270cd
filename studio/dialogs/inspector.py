"""Model inspector: the task and its head, per-layer heads and FFN width, parameters by component, size, head
importance."""

from __future__ import annotations

import html

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QLabel, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from core.tasks.head_info import head_text
from studio.widgets.importance_map import ImportanceMap


def _table(headers: list[str], rows: list[list[str]]) -> QTableWidget:
    table = QTableWidget(len(rows), len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().setDefaultSectionSize(22)  # compact rows: a 12-layer model fits without scrolling
    for i, row in enumerate(rows):
        for j, text in enumerate(row):
            table.setItem(i, j, QTableWidgetItem(text))
    # Tall enough for up to 8 rows without scrolling; the heat map below takes what is left.
    table.setMinimumHeight(table.horizontalHeader().sizeHint().height() + 22 * min(len(rows), 8) + 6)
    return table


COMPONENT_HEADERS = ("Component", "Parameters", "Share", "Bytes", "Share of bytes")


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 10_000 else f"{n:,} B"


def component_rows(info: dict) -> list[list[str]]:
    """One row per component with weights: parameters, their share of the total, bytes held and their share.

    The total is the sum of the components, so each share column adds to 100 %.
    """
    params = info["by_component"]
    sizes = info.get("bytes_by_component") or {}
    total_params = max(1, sum(params.values()))
    total_bytes = max(1, sum(sizes.values()))
    rows = []
    for name, count in params.items():
        size = sizes.get(name, 0)
        if not count and not size:
            continue
        rows.append([name, f"{count:,}", f"{100 * count / total_params:.1f} %",
                     _mb(size) if sizes else "", f"{100 * size / total_bytes:.1f} %" if sizes else ""])
    return rows


class ModelInspector(QDialog):
    """Shows the dict from :func:`studio.widgets.model_data_panel.check_model_source`."""

    def __init__(self, info: dict, parent: QWidget | None = None, sensitivity: dict | None = None):
        super().__init__(parent)
        self.info = info
        self.setWindowTitle(f"Model inspector: {info.get('source', '')}")
        self.resize(560, 760)
        total = info["parameters"]
        summary = QLabel(
            f"<b>{info['model_type']}</b>, hidden size {info.get('hidden_size')}, vocabulary {info.get('vocab_size')}<br>"
            f"{total:,} parameters, {info.get('size_bytes', 0) / 1e6:.1f} MB as saved"
            + (f"<br>Weights: {info['precision']}" if info.get("precision") else "")
        )
        # What the model predicts: the task and its head (class, outputs, label names), or no task head yet.
        head = info.get("head")
        self.task_label = QLabel(f"<b>Task:</b> {html.escape(head_text(head))}" if head else "")
        self.task_label.setWordWrap(True)
        self.task_label.setVisible(bool(head))
        layers = [[str(i + 1), str(l["heads"]), str(l["head_size"]), str(l["ffn"])] for i, l in enumerate(info["layers"])]
        by_component = component_rows(info)
        self.layers_table = _table(["Layer", "Heads", "Head size", "FFN width"], layers)
        self.components_table = _table(list(COMPONENT_HEADERS), by_component)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.task_label)
        layout.addWidget(QLabel("Encoder layers"))
        layout.addWidget(self.layers_table, 3)
        layout.addWidget(QLabel("Parameters and bytes by component (quantized and packed weights counted by the "
                                "weights they hold)"))
        layout.addWidget(self.components_table, 2)
        self.importance = ImportanceMap()
        layout.addWidget(QLabel("Head importance (sensitivity analysis)"))
        layout.addWidget(self.importance, 3)
        layout.addWidget(buttons)
        if sensitivity is not None:
            self.set_sensitivity(sensitivity)

    def set_sensitivity(self, result: dict) -> None:
        """Show the scores of an ``analyze.sensitivity`` step (the dict of its JSON, plus ``run_id``)."""
        run = str(result.get("run_id", ""))[:8]
        metric = {"gradient": "gradient importance", "accuracy_drop": "accuracy drop when switched off"}.get(
            result.get("metric"), str(result.get("metric", "")))
        self.importance.set_scores(result["heads"], f"Head importance ({metric}) from run {run}: brighter = "
                                                    "more important")
