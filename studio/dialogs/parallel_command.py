"""Run > Run on several processes: the exact ``torchrun`` command that runs the current recipe as N processes.

With "processes" above 1 the studio starts such a run on this machine itself
(:mod:`core.engine.local_launch`); this dialog gives the command for a terminal or
for the nodes of a cluster, against a database URL every process can reach; the run
appears in the runs list like any other. :func:`parallel_command` is Qt-free.
"""

from __future__ import annotations

import shlex

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

MASTER_PORT = 29500


def parallel_command(recipe_path: str, db_url: str, processes: int, nodes: int = 1, node_rank: int = 0,
                     master_addr: str = "HOST", master_port: int = MASTER_PORT) -> str:
    """The shell command that runs ``recipe_path`` as ``processes`` processes per node on ``nodes`` nodes.

    On one node it is ``torchrun --nproc_per_node N --no-python bert-studio run RECIPE --db URL``; on several,
    ``--nnodes``, ``--node_rank``, ``--master_addr`` and ``--master_port`` come first (run it on every node,
    each with its own rank). Arguments are shell-quoted.
    """
    if processes < 1 or nodes < 1 or not 0 <= node_rank < nodes:
        raise ValueError(f"processes {processes}, nodes {nodes}, node rank {node_rank}: need processes >= 1, "
                         f"nodes >= 1 and 0 <= node rank < nodes")
    parts = ["torchrun"]
    if nodes > 1:
        parts += ["--nnodes", str(nodes), "--node_rank", str(node_rank)]
    parts += ["--nproc_per_node", str(processes)]
    if nodes > 1:
        parts += ["--master_addr", master_addr, "--master_port", str(master_port)]
    parts += ["--no-python", "bert-studio", "run", recipe_path, "--db", db_url]
    return shlex.join(parts)


def is_local_database(db_url: str) -> bool:
    """Whether ``db_url`` is a SQLite file, which the other nodes of a cluster cannot reach."""
    return db_url.startswith("sqlite")


class ParallelRunDialog(QDialog):
    """Shows :func:`parallel_command` for the window's recipe, with a Copy button; non-modal."""

    def __init__(self, window, processes: int = 2, parent: QWidget | None = None):
        super().__init__(parent or window)
        self.setWindowTitle("Run on several processes")
        self.window_ = window
        self.processes = QSpinBox()
        self.processes.setRange(1, 1024)
        self.processes.setValue(max(1, processes))
        self.processes.setToolTip("Processes per machine: usually one per GPU (on CPU, each takes a share of the "
                                  "cores)")
        self.nodes = QSpinBox()
        self.nodes.setRange(1, 4096)
        self.nodes.setToolTip("Machines (cluster nodes) taking part; run the command on each one")
        self.node_rank = QSpinBox()
        self.node_rank.setRange(0, 0)
        self.node_rank.setToolTip("This machine's number, 0 on the first node (the one named as master address)")
        self.master_addr = QLineEdit("HOST")
        self.master_addr.setToolTip("Host name or address of node 0, which every node can reach")
        self.command = QPlainTextEdit()
        self.command.setReadOnly(True)
        self.command.setMinimumWidth(560)
        self.command.setMaximumHeight(90)
        self.note = QLabel("")
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        self.copy_button = QPushButton("Copy command")
        self.save_button = QPushButton("Save recipe\u2026")
        form = QFormLayout()
        form.addRow("Processes per node", self.processes)
        form.addRow("Nodes", self.nodes)
        form.addRow("This node's rank", self.node_rank)
        form.addRow("Master address", self.master_addr)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        intro = QLabel("Run this in a terminal where <code>bert-studio</code> is installed (on every node for a "
                       "cluster). The processes record one run into the database below; it then shows in the runs "
                       "list.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.command)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        for spin in (self.processes, self.nodes, self.node_rank):
            spin.valueChanged.connect(lambda _: self.refresh())
        self.master_addr.textChanged.connect(lambda _: self.refresh())
        self.copy_button.clicked.connect(self.copy)
        self.save_button.clicked.connect(self._save)
        self.refresh()

    def recipe_path(self) -> str:
        path = self.window_.recipe_path
        return str(path) if path is not None else "recipe.yaml"

    def command_text(self) -> str:
        return self.command.toPlainText()

    def refresh(self) -> None:
        """Rebuild the command from the fields, the recipe file and the window's database."""
        self.node_rank.setRange(0, self.nodes.value() - 1)
        multi = self.nodes.value() > 1
        self.node_rank.setEnabled(multi)
        self.master_addr.setEnabled(multi)
        url = self.window_.store_url()
        self.command.setPlainText(parallel_command(
            self.recipe_path(), url, self.processes.value(), self.nodes.value(), self.node_rank.value(),
            self.master_addr.text().strip() or "HOST"))
        notes = []
        if self.window_.recipe_path is None:
            notes.append("The recipe is not saved yet: save it (Save recipe\u2026) so the command has a file to run.")
        elif self.window_.is_modified():
            notes.append("The window has changes the recipe file does not: save it first, or the command runs the "
                         "file as it is on disk.")
        if multi and is_local_database(url):
            notes.append("The runs database is a SQLite file on this machine, which other nodes cannot reach: choose "
                         "a shared database (PostgreSQL) under File \u25b8 Runs database location.")
        self.note.setText("\n".join(f"\u26a0 {n}" for n in notes))
        self.note.setVisible(bool(notes))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.command_text())

    def _save(self) -> None:
        self.window_.save_recipe(None)
        self.refresh()
