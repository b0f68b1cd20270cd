"""Recipes waiting to run after the current one, in order.

The queue only holds copies of recipes; :class:`~studio.main_window.MainWindow`
pops the next one when the controller reports that a run ended, so queued runs
go through exactly the same door (:class:`~studio.run_controller.RunController`)
as a run started by hand.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from core.naming import run_name, stack_name
from core.recipe import Recipe


@dataclass(frozen=True)
class QueuedRun:
    """One waiting recipe and the processes it runs on; ``key`` identifies it while it waits (names may repeat)."""

    key: int
    recipe: Recipe
    processes: int = 1

    @property
    def label(self) -> str:
        name, stack = run_name(self.recipe), stack_name(self.recipe.steps)
        where = f"{self.recipe.model.source}, {self.processes} processes" if self.processes > 1 else \
            self.recipe.model.source
        return f"{name} ({where})" if name == stack else f"{name} ({where}): {stack}"


class RunQueue(QObject):
    """FIFO of :class:`QueuedRun` that the user may reorder; ``changed`` fires on every add, move, removal or pop."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._items: list[QueuedRun] = []
        self._keys = itertools.count(1)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[QueuedRun]:
        return list(self._items)

    def add(self, recipe: Recipe, processes: int = 1) -> QueuedRun:
        """Queue a copy of ``recipe`` to run on ``processes`` (later edits in the window do not reach it)."""
        item = QueuedRun(next(self._keys), recipe.copy(), max(1, int(processes)))
        self._items.append(item)
        self.changed.emit()
        return item

    def remove(self, key: int) -> bool:
        """Drop a waiting run; returns whether it was still waiting."""
        before = len(self._items)
        self._items = [i for i in self._items if i.key != key]
        if len(self._items) != before:
            self.changed.emit()
            return True
        return False

    def move(self, key: int, offset: int) -> bool:
        """Move a waiting run ``offset`` places (negative: sooner); returns whether it moved."""
        keys = [i.key for i in self._items]
        if key not in keys:
            return False
        old = keys.index(key)
        new = min(max(old + offset, 0), len(keys) - 1)
        if new == old:
            return False
        self._items.insert(new, self._items.pop(old))
        self.changed.emit()
        return True

    def reorder(self, keys: list[int]) -> None:
        """Put the waiting runs in the order of ``keys`` (runs not named keep their order, after those named)."""
        by_key = {i.key: i for i in self._items}
        named = [by_key[k] for k in dict.fromkeys(keys) if k in by_key]
        rest = [i for i in self._items if i not in named]
        order = named + rest
        if [i.key for i in order] != [i.key for i in self._items]:
            self._items = order
            self.changed.emit()

    def pop(self) -> QueuedRun | None:
        if not self._items:
            return None
        item = self._items.pop(0)
        self.changed.emit()
        return item

    def clear(self) -> None:
        if self._items:
            self._items.clear()
            self.changed.emit()
