"""The palette of registered methods, grouped by family, draggable into the stack.

Methods the loaded model cannot take (its encoder family, int8 / k-bit weights, or the run's task kind) are
greyed out, with the reason from :func:`core.applicability.applicability` as their tooltip and, once clicked,
in the description pane below the list. The model is the one at the end of the stack, where a new method goes:
after a ``distill.student_init`` step that builds a BiLSTM, the methods that need a transformer are greyed too
(:func:`core.applicability.family_after_steps` follows the family as the stack's own check does). The int8 state
is the source model's: a quantization step usually ends a stack, and methods are mostly dropped before it.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from core.registry import FAMILIES, all_methods

METHOD_MIME = "application/x-bert-studio-method"
_NAME_ROLE = Qt.ItemDataRole.UserRole
_USABLE = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled


class _PaletteTree(QTreeWidget):
    itemPressed = Signal(object)  # any item under a press, greyed (disabled) ones too, which Qt never makes current

    def mousePressEvent(self, event) -> None:
        item = self.itemAt(event.position().toPoint())
        if item is not None:
            self.itemPressed.emit(item)
        super().mousePressEvent(event)

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
        self._refusals: dict[str, str] = {}  # method name -> why the loaded model cannot take it
        self._profile: tuple[str, bool, str | None] = ("", False, None)
        self._steps: tuple = ()  # (method, settings) of the stack, whose end a new method joins
        self._checked: tuple | None = None  # what the greying was last computed for
        self._populate()
        self.tree.itemActivated.connect(self._activated)
        self.tree.currentItemChanged.connect(self._describe)
        self.tree.itemPressed.connect(self._describe)  # a greyed method says why it is greyed when clicked

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
            item.setToolTip(0, self._tooltip(spec.name))
            item.setFlags(_USABLE)
            group.addChild(item)
        for family in FAMILIES:
            if family in groups:
                self.tree.addTopLevelItem(groups[family])
        self.tree.expandAll()

    def _items(self) -> list[QTreeWidgetItem]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            out.extend(group.child(j) for j in range(group.childCount()))
        return out

    def method_names(self) -> list[str]:
        return [item.data(0, _NAME_ROLE) for item in self._items()]

    def _tooltip(self, name: str) -> str:
        from core.registry import get_method

        spec = get_method(name)
        text = f"<b>{spec.title}</b> <code>{spec.name}</code><br>{spec.description}"
        reason = self._refusals.get(name)
        return f"<b>Not available for this model:</b> {reason}<br><br>{text}" if reason else text

    def set_model_profile(self, family: str, quantized: bool = False, task: str | None = None,
                          steps=None) -> None:
        """Grey out the methods a ``family`` model (int8 / k-bit when ``quantized``) of task kind ``task`` cannot take
        at the end of the stack ``steps`` (:class:`~core.recipe.Step` objects; None keeps those of :meth:`set_steps`).

        An empty ``family`` (a hub name, known only once loaded) refuses nothing for the family; the task still
        refuses (None keeps the task set by :meth:`set_task`).
        """
        task = self._profile[2] if task is None else task
        self._profile = (family, quantized, task)
        if steps is not None:
            self._steps = tuple((s.method, dict(s.settings or {})) for s in steps)
        self._regrey()

    def set_steps(self, steps) -> None:
        """The stack the next method joins (:class:`~core.recipe.Step` objects): greying follows its end."""
        self.set_model_profile(*self._profile, steps=steps)

    def _regrey(self) -> None:
        from core.applicability import applicability, family_after_steps, task_applicability

        family, quantized, task = self._profile
        if (self._profile, self._steps) == self._checked:
            return
        self._checked = (self._profile, self._steps)
        after, changed = family_after_steps(self._steps, family)
        where = "" if changed is None else f"after step {changed + 1} ({self._steps[changed][0]}), "
        self._refusals = {}
        for item in self._items():
            name = item.data(0, _NAME_ROLE)
            reason = applicability(name, after, None, quantized, task) if after else \
                (task_applicability(name, task) if task else None)
            if reason:
                own = where and family and applicability(name, family, None, quantized, task)
                self._refusals[name] = where + reason if where and not own else reason  # the step's doing
            item.setFlags(_USABLE & ~Qt.ItemFlag.ItemIsEnabled if reason else _USABLE)
            item.setToolTip(0, self._tooltip(name))

    def set_task(self, task: str) -> None:
        """Grey out the methods that cannot apply to a model of task kind ``task`` (a recipe's ``task``)."""
        self.set_model_profile(self._profile[0], self._profile[1], task)

    def refusal(self, name: str) -> str | None:
        """Why the loaded model cannot take method ``name`` (None when it can)."""
        return self._refusals.get(name)

    def _activated(self, item: QTreeWidgetItem) -> None:
        name = item.data(0, _NAME_ROLE)
        if name and name not in self._refusals:
            self.methodActivated.emit(name)

    def _describe(self, item: QTreeWidgetItem | None) -> None:
        from core.registry import get_method

        name = item.data(0, _NAME_ROLE) if item else None
        if name:
            spec = get_method(name)
            reason = self._refusals.get(name)
            self.description.setText(f"<b>{spec.title}</b><br>{spec.description}"
                                     + (f"<br><b>Not available for this model:</b> {reason}" if reason else ""))
