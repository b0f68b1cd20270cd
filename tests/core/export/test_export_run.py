"""Exporting a recorded run: from the database's final checkpoint, recorded back as an artifact; the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from core import events as ev
from core.errors import ExportError
from core.export.api import export_run
from core.models.checkpoint import save_checkpoint
from core.export import load_export
from tests.conftest import tiny_recipe
from tests.core.export.helpers import logits, prune_layer


@pytest.fixture
def recorded_run(tiny_state, tmp_path):
    """A finished run in a real SQLite database whose final checkpoint is a pruned tiny model."""
    from core.db import Recorder, Repository, open_database

    prune_layer(tiny_state.model, 0, heads=[0, 1], ffn=32)
    ckpt = save_checkpoint(tiny_state, tmp_path / "runs" / "abc" / "final")
    url = f"sqlite:///{tmp_path / 'studio.db'}"
    db = open_database(url)
    bus = ev.EventBus()
    run_id = "3f2a9c1e00000000000000000000beef"
    with Recorder(db, bus):
        bus.publish(ev.RunStarted(run_id=run_id, recipe=tiny_recipe(name="pruned").to_dict(), device="cpu", step_titles=()))
        bus.publish(ev.Checkpoint(run_id=run_id, index=0, path=str(ckpt), kind="final"))
        bus.publish(ev.RunFinished(run_id=run_id, results={"accuracy": 0.6}))
    yield url, Repository(db), run_id, tiny_state
    db.close()


def test_export_run_records_an_artifact(recorded_run, tmp_path):
    url, repo, run_id, state = recorded_run
    report = export_run(repo, run_id[:6], "hf", tmp_path / "export", latency_repeats=1)
    assert report.verified and not report.standard
    assert report.latency_batch.startswith("8 x 32")  # the recipe's validation batch, not built-in sentences
    assert report.original_latency_ms is not None  # the recipe's original model was timed alongside
    exported = load_export(tmp_path / "export")
    batch = state.tokenizer(["a fine film"], return_tensors="pt")
    torch.testing.assert_close(logits(exported.model, batch), logits(state.model, batch), atol=1e-6, rtol=1e-5)
    artifacts = repo.artifacts(run_id, kind="export")
    assert len(artifacts) == 1 and artifacts[0].path == report.path
    assert artifacts[0].meta["format"] == "hf" and artifacts[0].meta["max_abs_diff"] == report.max_abs_diff
    card = (tmp_path / "export" / "README.md").read_text()
    assert "# pruned" in card and "| Accuracy | 60.00 % |" in card


def test_export_run_without_a_final_checkpoint(recorded_run, tmp_path):
    url, repo, run_id, _ = recorded_run
    other = "99990000000000000000000000000000"
    from core.db import Recorder, open_database

    bus = ev.EventBus()
    db = open_database(url)
    with Recorder(db, bus):
        bus.publish(ev.RunStarted(run_id=other, recipe=tiny_recipe().to_dict(), device="cpu", step_titles=()))
        bus.publish(ev.RunFailed(run_id=other, error="boom", details=""))
    db.close()
    with pytest.raises(ExportError, match="no final checkpoint"):
        export_run(repo, other, "onnx", tmp_path / "export")
    assert not (tmp_path / "export").exists()


def test_cli_export(recorded_run, tmp_path, capsys, monkeypatch):
    import core.export.api as api

    import core.cli as cli
    url, repo, run_id, _ = recorded_run
    # the recipe's data and original model are exercised above; here only the command's wiring
    monkeypatch.setattr(api, "_run_inputs", lambda recipe, state, notes: (None, None, None, None))
    out = tmp_path / "onnx"
    assert cli.main(["--db", url, "export", run_id[:8], "--format", "onnx", "--out", str(out)]) == 0
    assert (out / "model.onnx").is_file()
    printed = capsys.readouterr()
    assert "exported onnx to" in printed.out and "[6/6] done" in printed.err
    # a second export to the same folder is refused without --overwrite (exit 2, message, folder intact)
    assert cli.main(["--db", url, "export", run_id[:8], "--format", "onnx", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["--db", url, "export", run_id[:8], "--format", "hf", "--out", str(out), "--overwrite"]) == 0
    assert (out / "model.safetensors").is_file() and not (out / "model.onnx").exists()
    metas = [a.meta["format"] for a in repo.artifacts(run_id, kind="export")]
    assert metas == ["onnx", "hf"]
    assert json.loads((out / "config.json").read_text())["model_type"] == "bert"
