"""Rank 0 decides every structural cut of a data-parallel run; the other ranks apply its choice.

A fast check of the selection functions against a fake process group, and a two-process gloo run under
torchrun in which each rank's importance scores point at a different layer (``skewed_ranks.py``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.engine import distributed
from core.methods import selection
from core.recipe import Step
from tests.core.test_distributed import ROOT, _env, _free_port, _only_run, _recipe, sentences  # noqa: F401


@pytest.fixture
def rank1(monkeypatch):
    """This process as rank 1 of 2: a broadcast returns what rank 0 (the test) put in ``rank0``."""
    rank0: list = []
    monkeypatch.setattr(distributed._state, "active", True)
    monkeypatch.setattr(distributed._state, "rank", 1)
    monkeypatch.setattr(distributed._state, "world", 2)
    monkeypatch.setattr(distributed._state, "overruled", 0)
    monkeypatch.setattr(distributed, "broadcast_object", lambda obj: rank0.pop(0))
    return rank0


def test_every_selection_applies_rank_0s_choice(rank1):
    scores = [[0.1, 0.9, 0.5], [0.2, 0.8, 0.3]]  # this rank would cut unit 0 of each layer
    rank1.append({0: [0, 1], 1: [0, 1]})
    assert selection.select_removals(scores, 2) == {0: [0, 1], 1: [0, 1]}
    rank1.append({0: [1, 2], 1: [0, 1]})
    assert selection.select_per_layer(scores, 1 / 3) == {0: [1, 2], 1: [0, 1]}
    rank1.append([0, 2])
    assert selection.select_top([3.0, 2.0, 1.0], 2) == [0, 2]
    rank1.append([0, 1])  # rank 0's choice when it agrees: not counted as replaced
    assert selection.select_top([3.0, 2.0, 1.0], 2) == [0, 1]
    assert distributed.overruled() == 3 and not rank1


def test_layer_choice_block_masks_and_factorization_ranks_go_through_the_decision(rank1):
    from types import SimpleNamespace

    from core.methods.factorization.linear import LinearFactorizeSettings, choose_ranks
    from core.methods.pruning.layers import LayerPruneSettings, choose_layers
    from core.methods.pruning.movement_scores import BlockScores
    from transformers import BertForSequenceClassification

    from core.models.loading import tiny_config

    model = BertForSequenceClassification(tiny_config(2))  # 2 layers of 4 heads
    cfg = LayerPruneSettings(strategy="least_important", keep=1, importance_source="sensitivity")
    state = SimpleNamespace(extras={"sensitivity": {"layers": [1.0, 0.0]}})  # this rank would keep layer 0
    rank1.append([1])
    assert choose_layers(state, model, cfg, SimpleNamespace(log=lambda *a, **k: None)) == [1]

    blocks = BlockScores(model, heads=True, ffn=False, score="magnitude")
    rank1.append({0: [0, 1, 2, 3], 1: [3]})
    blocks.select(model, "heads", 3)
    assert blocks.kept("heads") == {0: [0, 1, 2, 3], 1: [3]}

    rank1.append([5, 7])
    spectra = [torch.tensor([4.0, 3.0, 2.0, 1.0]), torch.tensor([9.0, 1.0])]
    assert choose_ranks(spectra, LinearFactorizeSettings(ratio=0.5)) == [5, 7]
    assert distributed.overruled() == 3 and not rank1


def test_projected_student_starts_from_rank_0s_heads_and_neurons(rank1):
    from core.methods.distillation.projection import project_layer
    from core.models.adapters import adapter_for
    from core.models.loading import tiny_config
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    teacher = BertForSequenceClassification(tiny_config(2))
    student = BertForSequenceClassification(tiny_config(2, num_attention_heads=2, intermediate_size=16))
    adapter = adapter_for(teacher)
    rank1.append([1, 3])  # the heads
    rank1.append(list(range(40, 56)))  # the neurons
    kept = project_layer(adapter, adapter.layers(teacher)[0], adapter.layers(student)[0], torch.eye(32))
    assert kept == [1, 3] and not rank1
    t_in, s_in = adapter.ffn_input(adapter.layers(teacher)[0]), adapter.ffn_input(adapter.layers(student)[0])
    assert torch.equal(s_in.weight, t_in.weight[40:56])


CHOICE = re.compile(r"CHOICE rank (\d) own (.*) applied (.*)$", re.M)  # a progress bar may precede it


def test_two_processes_with_different_scores_end_with_rank_0s_cut(tmp_path, sentences):  # noqa: F811
    recipe = _recipe(
        tmp_path / "cuts.json", "tiny", sentences,
        Step("prune.heads", {"amount": 0.25, "batches": 1, "batch_size": 16}),
        Step("prune.ffn", {"amount": 0.25, "scope": "global", "batches": 1, "batch_size": 16}),
        Step("prune.movement", {"granularity": "blocks", "heads_amount": 0.25, "ffn_amount": 0.25, "max_steps": 4,
                                "batch_size": 16, "start_share": 0.0, "end_share": 0.5, "prune_every": 1}),
        Step("prune.layers", {"strategy": "least_important", "importance_source": "gradient", "keep": 1,
                              "batches": 1, "batch_size": 16}),
        train=32,
    )
    home = tmp_path / "home"
    db = f"sqlite:///{home / 'runs.db'}"
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
               str(Path(__file__).with_name("skewed_ranks.py")), "run", str(recipe), "--db", db]
    out = subprocess.run(command, cwd=ROOT, env=_env(home), capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

    # Both ranks made the same sequence of choices; rank 1 applied rank 0's every time, often against its own.
    choices = {r: [(own, applied) for rank, own, applied in CHOICE.findall(out.stderr) if rank == str(r)]
               for r in (0, 1)}
    assert len(choices[0]) == len(choices[1]) >= 4, choices
    assert all(own == applied for own, applied in choices[0])
    assert [applied for _, applied in choices[1]] == [own for own, _ in choices[0]]
    differed = sum(o1 != o0 for (o0, _), (o1, _) in zip(choices[0], choices[1]))
    assert differed >= 4, choices  # the skew made rank 1 want another cut at every step

    # Every step ends with one layout on both ranks, and it is the one rank 0 chose.
    prints = re.findall(r"same architecture after step (\d) \(([\w.]+)\): rank 0 (\w+), rank 1 (\w+)", out.stderr)
    assert [m for _, m, _, _ in prints] == ["prune.heads", "prune.ffn", "prune.movement", "prune.layers"]
    assert all(a == b for _, _, a, b in prints), prints
    replaced = re.findall(r"step \d \(([\w.]+)\): rank 0's structural choice replaced a different one of rank 1",
                          out.stderr)
    assert replaced == ["prune.heads", "prune.ffn", "prune.movement", "prune.layers"], replaced
    database, repo, run = _only_run(db)
    assert run.status == "finished", run.error
    assert repo.metric_series(run.id, "model/heads")[0].value == 6  # 2 of 8 heads went, rank 0's from layer 0
    database.close()
