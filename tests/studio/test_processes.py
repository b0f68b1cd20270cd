"""The processes setting and the torchrun command for the current recipe (issue 14, the studio part)."""

from __future__ import annotations

import shlex

import pytest
from PySide6.QtGui import QGuiApplication

from studio.dialogs.parallel_command import parallel_command


def test_the_command_for_one_node_and_for_several():
    one = parallel_command("/r/my recipe.yaml", "postgresql://u@db:5432/runs", 4)
    assert shlex.split(one) == ["torchrun", "--nproc_per_node", "4", "--no-python", "bert-studio", "run",
                                "/r/my recipe.yaml", "--db", "postgresql://u@db:5432/runs"]
    many = parallel_command("r.yaml", "postgresql://db/runs", 8, nodes=3, node_rank=2, master_addr="node0")
    assert shlex.split(many) == ["torchrun", "--nnodes", "3", "--node_rank", "2", "--nproc_per_node", "8",
                                 "--master_addr", "node0", "--master_port", "29500", "--no-python", "bert-studio",
                                 "run", "r.yaml", "--db", "postgresql://db/runs"]
    with pytest.raises(ValueError, match="node rank"):
        parallel_command("r.yaml", "sqlite://", 2, nodes=2, node_rank=2)


def test_the_dialog_shows_the_saved_recipe_n_and_the_database(qtbot, window, tmp_path, db_url):
    panel = window.data_panel
    assert panel.processes() == 1
    assert window.save_recipe(tmp_path / "recipe.yaml")
    panel.processes_box.setValue(3)
    assert window.settings.processes() == 3  # remembered, like the device
    started = []
    window.start_run = lambda: started.append(True)
    window.run_action.trigger()  # more than one process: Run shows the command instead of running in the studio
    assert not started
    dialog = window.parallel_dialog
    assert dialog.isVisible()
    words = shlex.split(dialog.command_text())
    assert words[:3] == ["torchrun", "--nproc_per_node", "3"]
    assert str(tmp_path / "recipe.yaml") in words and db_url in words and window.store_url() == db_url
    assert not dialog.note.isVisible()
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == dialog.command_text()

    dialog.nodes.setValue(2)
    dialog.node_rank.setValue(1)
    dialog.master_addr.setText("gpu-node-0")
    words = shlex.split(dialog.command_text())
    assert words[words.index("--nnodes") + 1] == "2" and words[words.index("--node_rank") + 1] == "1"
    assert words[words.index("--master_addr") + 1] == "gpu-node-0"
    assert "SQLite" in dialog.note.text()  # other nodes cannot reach a file on this machine

    window.stack.remove_current()  # the window now differs from the file the command runs
    dialog.refresh()
    assert "save it first" in dialog.note.text()

    panel.processes_box.setValue(1)
    window.run_action.trigger()
    assert started  # one process: the studio runs it itself, as before


def test_an_unsaved_recipe_says_so(qtbot, window):
    window.data_panel.processes_box.setValue(2)
    dialog = window.show_parallel_command()
    assert "recipe.yaml" in shlex.split(dialog.command_text())
    assert "not saved" in dialog.note.text()
