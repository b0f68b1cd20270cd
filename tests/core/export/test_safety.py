"""Refusals and failures: nothing overwritten by accident, nothing half-written, nothing unsafe loaded."""

from __future__ import annotations

import errno
import json
import os
import stat

import pytest
import torch
import torch.nn as nn

from core.errors import ExportError, ModelLoadError
from core.export.api import export_model
from core.models.checkpoint import save_checkpoint
from core.export import load_export
from core.models.loading import STUDIO_MANIFEST
from tests.core.export.helpers import prune_layer


def test_refuses_to_overwrite_without_permission(tiny_state, tmp_path, batch):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="already exists"):
        export_model(tiny_state, target, "hf", batch=batch)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    # Not even with permission: no export wrote this folder, so replacing it would delete the user's file.
    with pytest.raises(ExportError, match="was not written by an export"):
        export_model(tiny_state, target, "hf", batch=batch, overwrite=True)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    (target / "keep.txt").unlink()
    export_model(tiny_state, target, "hf", batch=batch, overwrite=True, latency_repeats=1)  # an empty folder
    report = export_model(tiny_state, target, "onnx", batch=batch, overwrite=True, latency_repeats=1)  # an export
    assert (target / "model.onnx").is_file() and not (target / "model.safetensors").exists()
    assert report.size_bytes == sum(p.stat().st_size for p in target.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary or old folder left


def test_an_export_from_before_the_marker_is_still_replaceable_a_model_folder_of_the_user_is_not(tiny_state, tmp_path,
                                                                                                  batch):
    from core.models.staging import MARKER

    old = tmp_path / "old"
    export_model(tiny_state, old, "hf", batch=batch, latency_repeats=1)
    (old / MARKER).unlink()  # as an earlier version wrote it: the model card says who wrote it
    export_model(tiny_state, old, "hf", batch=batch, overwrite=True, latency_repeats=1)
    assert (old / MARKER).is_file()
    users = tmp_path / "users-model"
    tiny_state.model.save_pretrained(users)
    (users / "README.md").write_text("# my fine-tuned model\n")
    before = sorted(p.name for p in users.iterdir())
    with pytest.raises(ExportError, match="was not written by an export"):
        export_model(tiny_state, users, "hf", batch=batch, overwrite=True)
    assert sorted(p.name for p in users.iterdir()) == before


def test_full_disk_leaves_nothing_behind(tiny_state, tmp_path, batch, monkeypatch):
    import core.models.checkpoint as checkpoint

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "_save_file", full_disk)
    with pytest.raises(ExportError, match="disk .* is full"):
        export_model(tiny_state, tmp_path / "out", "hf", batch=batch)
    assert list(tmp_path.iterdir()) == []


def test_full_disk_keeps_the_previous_export(tiny_state, tmp_path, batch, monkeypatch):
    import core.models.checkpoint as checkpoint

    save_checkpoint(tiny_state, tmp_path / "ckpt")
    before = (tmp_path / "ckpt" / "model.safetensors").read_bytes()
    monkeypatch.setattr(checkpoint, "_save_file", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(ExportError, match="full"):
        save_checkpoint(tiny_state, tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_missing_permission_is_a_clear_error(tiny_state, tmp_path, batch, monkeypatch):
    import core.models.staging as staging

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(staging.tempfile, "mkdtemp", denied)
    with pytest.raises(ExportError, match="no permission to write"):
        export_model(tiny_state, tmp_path / "out", "hf", batch=batch)
    assert list(tmp_path.iterdir()) == []


def test_a_mismatching_reload_fails_the_export(tiny_state, tmp_path, batch, monkeypatch):
    import core.models.reload as loader

    prune_layer(tiny_state.model, 0, heads=[1])  # non-standard: reloaded through load_export
    real = loader.load_model_folder

    def corrupted(path):
        state = real(path)
        with torch.no_grad():
            state.model.classifier.bias.add_(0.01)
        return state

    monkeypatch.setattr(loader, "load_model_folder", corrupted)
    with pytest.raises(ExportError, match="does not reproduce the model"):
        export_model(tiny_state, tmp_path / "out", "hf", batch=batch)
    assert list(tmp_path.iterdir()) == []


def test_progress_is_reported_in_order(tiny_state, tmp_path, batch):
    seen = []
    export_model(tiny_state, tmp_path / "out", "hf", batch=batch, latency_repeats=1,
                 progress=lambda cur, total, msg: seen.append((cur, total, msg)))
    assert [c for c, _, _ in seen] == sorted(c for c, _, _ in seen)
    assert seen[0][0] == 0 and seen[-1][:2] == (seen[-1][1], seen[-1][1]) and seen[-1][2] == "done"


def test_the_model_card_records_what_was_measured(tiny_state, tmp_path, batch):
    recipe = {"name": "tiny-pruned", "model": {"source": "tiny"}, "steps": [{"method": "prune.heads", "settings": {"ratio": 0.5}}]}
    report = export_model(tiny_state, tmp_path / "out", "hf", batch=batch, reference=tiny_state, latency_repeats=1,
                          recipe=recipe, results={"accuracy": 0.75})
    card = (tmp_path / "out" / "README.md").read_text()
    assert "# tiny-pruned" in card and "prune.heads" in card and "| Accuracy | 75.00 % |" in card
    assert f"{report.weights_bytes / 1e6:.2f} MB" in card and "transformers " in card and "from_pretrained" in card
    assert report.speedup is not None and report.original_size_bytes > 0


def test_an_unexportable_module_is_refused_before_writing(tiny_state, tmp_path, batch):
    class Unregistered(nn.Module):
        def forward(self, x):
            return x

    tiny_state.model.bert.encoder.layer[0].intermediate.intermediate_act_fn = Unregistered()
    tiny_state.model.bert.encoder.layer[0].output.dropout = Unregistered()
    with pytest.raises(ExportError, match="Unregistered.*register_module"):
        export_model(tiny_state, tmp_path / "out", "hf", batch=batch)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def studio_folder(tiny_state, tmp_path):
    prune_layer(tiny_state.model, 1, heads=[0, 2])
    from tests.core.export.test_roundtrip import ExportTestGatedLinear

    tiny_state.model.bert.encoder.layer[0].intermediate.dense = ExportTestGatedLinear(32, 64, 1.0)
    return save_checkpoint(tiny_state, tmp_path / "ckpt")


def _edit_manifest(folder, change):
    manifest = json.loads((folder / STUDIO_MANIFEST).read_text())
    change(manifest)
    (folder / STUDIO_MANIFEST).write_text(json.dumps(manifest))


def test_unknown_module_type_is_refused(studio_folder):
    def rename(manifest):
        for entry in manifest["modules"]:
            if entry["kind"] == "custom":
                entry["class"] = "EvilModule"

    _edit_manifest(studio_folder, rename)
    with pytest.raises(ExportError, match="'EvilModule'.*does not know") as err:
        load_export(studio_folder)
    assert isinstance(err.value, ModelLoadError)  # load_model's callers catch it too


def test_pickle_files_are_refused(studio_folder):
    torch.save({"x": torch.zeros(1)}, studio_folder / "pytorch_model.bin")
    with pytest.raises(ExportError, match="pytorch_model.bin.*pickle"):
        load_export(studio_folder)


def test_manifest_naming_a_pickle_weights_file_is_refused(studio_folder):
    _edit_manifest(studio_folder, lambda m: m.update(weights="weights.pkl.safetensors/../model.pt"))
    with pytest.raises(ExportError, match="only a .safetensors file"):
        load_export(studio_folder)


def test_remote_code_is_refused(studio_folder):
    config = json.loads((studio_folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "evil.Model"}
    (studio_folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExportError, match="custom model code"):
        load_export(studio_folder)


def test_weights_that_do_not_fit_the_manifest_are_refused(studio_folder):
    _edit_manifest(studio_folder, lambda m: m.update(modules=[e for e in m["modules"] if e["kind"] != "linear"]))
    with pytest.raises(ExportError, match="do not match the recorded architecture"):
        load_export(studio_folder)


SAFETENSORS_FULL = 'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'


def _safetensors_full_disk(*args, **kwargs):
    from safetensors import SafetensorError

    raise SafetensorError(SAFETENSORS_FULL)  # what its Rust writer raises: not an OSError


def test_a_full_disk_in_the_safetensors_writer_is_a_clear_error(tiny_state, tmp_path, batch, monkeypatch):
    import core.models.checkpoint as checkpoint

    monkeypatch.setattr(checkpoint, "_save_file", _safetensors_full_disk)
    with pytest.raises(ExportError, match="the disk holding .* is full"):
        export_model(tiny_state, tmp_path / "out", "hf", batch=batch)
    assert list(tmp_path.iterdir()) == []


def test_export_command_on_a_full_disk_prints_one_line(tiny_state, tmp_path, monkeypatch, capsys):
    import core.models.checkpoint as checkpoint
    from core.cli import main
    from core.db import Repository, open_database
    from tests.core.db.conftest import record_run

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with open_database(url) as db:
        record_run(db, "fullrun")
        Repository(db).add_artifact("fullrun", "final", str(save_checkpoint(tiny_state, tmp_path / "ckpt")))
    monkeypatch.setattr(checkpoint, "_save_file", _safetensors_full_disk)
    code = main(["--db", url, "export", "fullrun", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: the disk holding {tmp_path / 'out'} is full (No space left on device)" in err
    assert "Traceback" not in err and "SafetensorError" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt", "runs.db"]


def test_export_folders_follow_the_umask(tiny_state, tmp_path, batch):
    previous = os.umask(0o022)
    try:
        export_model(tiny_state, tmp_path / "out", "hf", batch=batch, latency_repeats=1)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()} == {
        p.name: 0o644 for p in (tmp_path / "out").iterdir()}
