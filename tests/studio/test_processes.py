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
    dialog = window.show_parallel_command()  # Run > Run on several processes: the command for a terminal
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
    assert started  # one process: the studio runs it in its worker, as before


def test_an_unsaved_recipe_says_so(qtbot, window):
    window.data_panel.processes_box.setValue(2)
    dialog = window.show_parallel_command()
    assert "recipe.yaml" in shlex.split(dialog.command_text())
    assert "not saved" in dialog.note.text()


class _FakeLaunch:
    """Stands in for :class:`core.engine.local_launch.LocalLaunchEngine`: a bus the test publishes on."""

    def __init__(self, db_url, processes):
        from core import events as ev
        from core.engine.local_launch import LaunchHandle

        self.db_url, self.processes, self.bus = db_url, processes, ev.EventBus()
        self.calls = []
        test = self

        class Handle(LaunchHandle):
            def pause(self):
                test.calls.append("pause")

            def resume(self):
                test.calls.append("resume")

            def cancel(self):
                test.calls.append("cancel")

        self.handle_class = Handle

    def start(self, recipe):
        from pathlib import Path

        self.recipe = recipe
        self.handle = self.handle_class("multi-run", Path("."), Path("."))
        return self.handle


def _fake_launcher(window) -> list:
    """Make the window's launcher a fake; returns the list of launches it starts."""
    launches = []

    def launcher(url, processes):
        launches.append(_FakeLaunch(url, processes))
        return launches[-1]

    window.controller.launcher = launcher
    return launches


def test_run_with_two_processes_starts_the_launch_and_follows_its_events(qtbot, window, db_url):
    from core import events as ev

    launches = _fake_launcher(window)
    window.start_run = lambda: pytest.fail("one-process run started")
    window.data_panel.processes_box.setValue(2)
    window.run_action.trigger()
    assert [(launch.db_url, launch.processes) for launch in launches] == [(db_url, 2)]
    launch = launches[0]
    assert window.controller.running and window.controller.multi_process
    assert window.pause_action.isEnabled() and not window.run_action.isEnabled()
    steps = tuple(step.title() for step in launch.recipe.steps)
    launch.bus.publish(ev.RunStarted(run_id="multi-run", recipe=launch.recipe.to_dict(), device="cpu", step_titles=steps))
    launch.bus.publish(ev.StepStarted(run_id="multi-run", index=0, method="finetune", title=steps[0]))
    launch.bus.publish(ev.Progress(run_id="multi-run", index=0, current=3, total=10))
    qtbot.waitUntil(lambda: window.dashboard.progress.value() == 3, timeout=5000)
    assert window.dashboard.progress.maximum() == 10
    window.pause_action.trigger()
    window.pause_action.trigger()
    window.cancel_action.trigger()
    assert launch.calls == ["pause", "resume", "cancel"]
    with qtbot.waitSignal(window.controller.runningChanged, timeout=5000):
        launch.handle._finish(ev.RunCancelled(run_id="multi-run"))
        launch.bus.publish(ev.RunCancelled(run_id="multi-run"))
    assert not window.controller.running


def test_a_queued_recipe_keeps_its_processes_and_starts_as_a_launch(qtbot, window, db_url):
    from core import events as ev

    launches = _fake_launcher(window)
    window.data_panel.processes_box.setValue(2)
    window.queue_action.trigger()  # nothing runs: it starts at once, through the same door as Run
    assert [launch.processes for launch in launches] == [2]
    window.data_panel.processes_box.setValue(3)
    window.queue_action.trigger()  # waits behind the first, remembering 3 processes
    (waiting,) = window.queue.items()
    assert waiting.processes == 3 and "3 processes" in waiting.label
    first = launches[0]
    with qtbot.waitSignal(window.controller.runningChanged, timeout=5000):
        first.handle._finish(ev.RunFinished(run_id="multi-run", results={}))
        first.bus.publish(ev.RunFinished(run_id="multi-run", results={}))
    qtbot.waitUntil(lambda: len(launches) == 2, timeout=5000)
    assert launches[1].processes == 3 and not window.queue.items()
    window.controller.cancel()
    second = launches[1]
    assert second.calls == ["cancel"]
    with qtbot.waitSignal(window.controller.runningChanged, timeout=5000):  # the launch ends as a real one would
        second.handle._finish(ev.RunCancelled(run_id="multi-run"))
        second.bus.publish(ev.RunCancelled(run_id="multi-run"))
