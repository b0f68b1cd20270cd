"""The palette of registered methods, grouped by family, draggable into the stack."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from core.registry import FAMILIES, all_methods

METHOD_MIME = "application/x-bert-studio-method"
_NAME_ROLE = Qt.ItemDataRole.UserRole


class _PaletteTree(QTreeWidget):
    def mimeTypes(self) -> list[str]:
        return [METHOD_MIME]

    def mimeData(self, items) -> QMimeData:
        data = QMimeData()
        names = [it.data(0, _NAME_ROLE) for it in items if it.data(0, _NAME_ROLE)]
        data.setData(METHOD_MIME, "\n".join(names).encode())
        return data


class MethodPalette(QWidget):
    """Lists :func:`core.registry.all_methods` by family; double-click or drag to add one to the stack."""

    methodActivated = Signal(str)  # method name

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tree = _PaletteTree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setWordWrap(True)
        self.description = QLabel("Double-click a method, or drag it into the stack.")
        self.description.setWordWrap(True)
        self.description.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.description)
        self._populate()
        self.tree.itemActivated.connect(self._activated)
        self.tree.currentItemChanged.connect(self._describe)

    def _populate(self) -> None:
        groups: dict[str, QTreeWidgetItem] = {}
        for spec in all_methods():
            group = groups.get(spec.family)
            if group is None:
                group = QTreeWidgetItem([spec.family.capitalize()])
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
                groups[spec.family] = group
            item = QTreeWidgetItem([spec.title])
            item.setData(0, _NAME_ROLE, spec.name)
            item.setToolTip(0, f"<b>{spec.title}</b> <code>{spec.name}</code><br>{spec.description}")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
            group.addChild(item)
        for family in FAMILIES:
            if family in groups:
                self.tree.addTopLevelItem(groups[family])
        self.tree.expandAll()

    def method_names(self) -> list[str]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            out.extend(group.child(j).data(0, _NAME_ROLE) for j in range(group.childCount()))
        return out

    def _activated(self, item: QTreeWidgetItem) -> None:
        name = item.data(0, _NAME_ROLE)
        if name:
            self.methodActivated.emit(name)

    def _describe(self, item: QTreeWidgetItem | None) -> None:
        from core.registry import get_method

        name = item.data(0, _NAME_ROLE) if item else None
        if name:
            spec = get_method(name)
            self.description.setText(f"<b>{spec.title}</b><br>{spec.description}")
