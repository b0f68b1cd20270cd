"""Recent data sources in the model-and-data panel: each remembers the columns chosen for it.

A mixin of :class:`~studio.widgets.model_data_panel.ModelDataPanel`. Picking a
recent file or folder reads its columns again (it may have changed): when the
remembered text, second text and label columns are all still there they are
used at once; otherwise the column-mapping dialog opens, starting from what
still matches. Refusing or cancelling leaves the data in use as it was.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt

from core.recipe import DataRef
from studio.workers import run_in_background

DATA_LABELS = {"default": "default (reviews)"}  # the embedded movie-review sentences (tooltip in the panel)


def read_columns(source: str) -> list[str]:
    """Column names of a dataset source (raises :class:`~core.errors.DataLoadError`)."""
    import datasets

    from core.data.sources import read_source

    ds = read_source(source)
    if isinstance(ds, datasets.DatasetDict):
        ds = ds["train"] if "train" in ds else next(iter(ds.values()))
    return list(ds.column_names)


class RecentDataMixin:
    def column_mapping(self) -> dict:
        """The columns chosen now, as remembered with a recent data source."""
        return self.mapping_of(self.data_ref())

    @staticmethod
    def mapping_of(ref: DataRef) -> dict:
        return {"text_column": ref.text_column, "text_pair_column": ref.text_pair_column,
                "label_column": ref.label_column}

    def add_recent_data(self, path: str, mapping: dict | None = None) -> None:
        """Offer ``path`` in the data list without selecting it; picking it later reapplies ``mapping``."""
        current = self.data_box.currentIndex()
        if self.data_box.findData(path) < 0:
            self.data_box.addItem(path, path)
            self.data_box.setItemData(self.data_box.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
        if mapping:
            self._mappings[path] = dict(mapping)
        self.data_box.setCurrentIndex(current)

    def reopen_data(self, source: str) -> None:
        """Use a recent data ``source`` again with its remembered columns, or ask for them in the mapping dialog.

        The file is read again first (it may have changed): when a remembered column is gone, or no mapping
        was ever accepted for it, the column-mapping dialog opens, starting from what still matches.
        """
        from studio.widgets.task_choice import FILE_TASKS

        if self.task() in FILE_TASKS:  # tags or questions: no columns, the task's reader checks the file again
            self.check_task_data(source)
            return
        mapping = self._mappings.get(source)
        if not mapping:
            self.map_data_source(source)
            return
        self._start(f"Reading {source}\u2026")
        run_in_background(lambda: read_columns(source), lambda columns: self._recent_read(source, mapping, columns),
                          self._data_failed, self)

    def _recent_read(self, source: str, mapping: dict, columns: list[str]) -> None:
        self._data_columns[source] = list(columns)
        ref = replace(self.data_ref(), source=source, **mapping)
        wanted = [c for c in (ref.text_column, ref.text_pair_column, ref.label_column) if c]
        missing = [c for c in wanted if c not in columns]
        if missing:
            self._finish(f"{source} has no column {', '.join(map(repr, missing))} any more: map its columns again.")
            self.map_data_source(source, ref)
            return
        self._finish()
        self.apply_mapping(ref, columns)
        self.status.setText(self.status.text() + " \u2014 the columns chosen last time")

    def _data_picked(self, index: int) -> None:
        source = self.data_box.itemData(index)
        if source and source not in DATA_LABELS:
            self.reopen_data(source)
        elif source == "default":
            self.use_default_data()

    def _show_accepted_data(self) -> None:
        # A recent entry picked in the list but then refused or cancelled: the list shows the data in use again.
        self._select(self.data_box, self._accepted_source, DATA_LABELS)
