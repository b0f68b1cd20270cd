"""One recipe on two CPU processes under torchrun (gloo): one run, shared work, the same model, a clear failure.

Each test launches ``python -m torch.distributed.run --nproc_per_node 2 -m core.cli run``
in a subprocess against a temporary SQLite database, as a user would.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step

ROOT = Path(__file__).resolve().parents[2]
KILL_DEADLINE = 30.0  # seconds from killing rank 1 to the launcher's exit with the run recorded as failed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(home: Path) -> dict:
    return {**os.environ, "BERT_STUDIO_HOME": str(home), "OMP_NUM_THREADS": "1"}


def _command(recipe: Path, db: str, processes: int, quiet: bool = True) -> list[str]:
    cli = ["-m", "core.cli", "run", str(recipe), "--db", db] + (["--quiet"] if quiet else [])
    if processes == 1:
        return [sys.executable, *cli]
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(processes),
            "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *cli]


def _run(recipe: Path, home: Path, processes: int) -> tuple[subprocess.CompletedProcess, str]:
    db = f"sqlite:///{home / 'runs.db'}"
    out = subprocess.run(_command(recipe, db, processes, quiet=False), cwd=ROOT, env=_env(home), capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out, db


def _only_run(db: str):
    from core.db import Repository, open_database

    database = open_database(db)
    repo = Repository(database)
    runs = repo.list_runs()
    assert len(runs) == 1, [(r.id, r.status) for r in runs]
    return database, repo, repo.get_run(runs[0].id)


@pytest.fixture(scope="module")
def sentences(tmp_path_factory) -> str:
    """240 labelled sentences in a CSV: quicker for each of the processes to read than the default corpus."""
    import csv
    import random

    rng = random.Random(0)
    good, bad = "good great fine lovely superb moving".split(), "bad awful dull boring weak flat".split()
    filler = "the a film movie story plot cast and was is very quite".split()
    path = tmp_path_factory.mktemp("data") / "sentences.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["text", "label"])
        for i in range(240):
            words = [rng.choice(filler) for _ in range(rng.randint(3, 12))] + [rng.choice(good if i % 2 else bad)] * 2
            rng.shuffle(words)
            out.writerow([" ".join(words), i % 2])
    return str(path)


def _recipe(path: Path, model: str, data: str, *steps: Step, train: int = 128) -> Path:
    return Recipe(
        name=path.stem, model=ModelRef(model), steps=list(steps), cache=False,
        data=DataRef(source=data, train_samples=train, validation_samples=24, test_samples=32, max_length=32),
        evaluation=EvaluationSettings(max_samples=32, latency_repeats=1, latency_batch_size=8),
    ).save(path)


@pytest.fixture(scope="module")
def no_dropout_model(tmp_path_factory) -> str:
    """A tiny BERT folder without dropout: one process and two then compute the same function of the data."""
    from transformers import BertForSequenceClassification

    from core.models.loading import load_tokenizer, tiny_config

    folder = tmp_path_factory.mktemp("nodrop")
    import torch

    torch.manual_seed(0)
    BertForSequenceClassification(tiny_config(2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
                                  ).save_pretrained(folder)
    load_tokenizer("tiny").save_pretrained(folder)
    return str(folder)


def _final_weights(home: Path, run_id: str) -> dict:
    from safetensors.torch import load_file

    return load_file(str(home / "runs" / run_id / "final" / "model.safetensors"))


def test_two_processes_make_one_run_that_matches_one_process(tmp_path, no_dropout_model, sentences):
    from core import events as ev
    from core.engine import Engine

    recipe = _recipe(tmp_path / "ft.json", no_dropout_model, sentences,
                     Step("finetune", {"batch_size": 16, "learning_rate": 1e-3}))
    two = tmp_path / "two"
    out2, db2 = _run(recipe, two, 2)
    # The reference: the same recipe in one process (this one), the same code path as the CLI's.
    engine = Engine(workdir_root=tmp_path / "one")
    loss1 = []
    engine.bus.subscribe(ev.Metric, lambda e: loss1.append(e.value) if e.key == "train/loss" else None)
    single = engine.run(Recipe.load(recipe))
    assert single.status == "finished", single.error

    database, repo, run = _only_run(db2)  # one run, not one per process
    assert run.status == "finished" and run.results["accuracy"] >= 0
    # Each process took part: every one of the 8 steps, on half of each batch of 16 (accelerate's split_batches).
    for rank in (0, 1):
        assert [p.value for p in repo.metric_series(run.id, f"train/batches_rank{rank}")] == [8]
        assert [p.value for p in repo.metric_series(run.id, f"train/sentences_rank{rank}")] == [64]
    loss2 = repo.metric_series(run.id, "train/loss")
    assert [p.step for p in loss2] == list(range(1, 9))  # one series: rank 1's losses are not recorded beside it
    assert len(repo.metric_series(run.id, "final/accuracy")) == 1
    database.close()
    # The loss recorded is the mean over both processes: the full batch's loss, as one process computes it.
    assert [p.value for p in loss2] == pytest.approx(loss1, rel=1e-4)

    # Same global batch, same sentences per step, averaged gradients: the same model up to float rounding
    # (two half-batch sums instead of one, padding to each half's longest sentence). Tolerance: 1e-3 of
    # how far training moved the weights, elementwise.
    import torch
    from safetensors.torch import load_file

    start = load_file(str(Path(no_dropout_model) / "model.safetensors"))
    w2, w1 = _final_weights(two, run.id), {k: v.detach() for k, v in single.state.model.state_dict().items()}
    w1 = {k: v for k, v in w1.items() if k in w2}  # the checkpoint leaves out tied and derived buffers
    assert w2.keys() == w1.keys()
    moved = max(float((w1[k] - start[k]).abs().max()) for k in w1 if k in start)
    worst = max(float((w2[k] - w1[k]).abs().max()) for k in w1)
    print(f"2 processes vs 1: largest weight difference {worst:.2e}, largest weight change {moved:.2e}")
    assert moved > 1e-3, "training did not move the weights: the comparison would prove nothing"
    assert worst <= 1e-3 * moved, (worst, moved)
    assert not torch.equal(w1["classifier.weight"], start["classifier.weight"])
    assert "2 processes trained: rank 0 8 batches / 64 sentences, rank 1 8 batches / 64 sentences" in out2.stderr


def test_head_pruning_and_distillation_agree_on_both_processes(tmp_path, sentences):
    recipe = _recipe(
        tmp_path / "heads.json", "tiny", sentences,
        Step("finetune", {"max_steps": 2, "batch_size": 16}),
        Step("prune.heads", {"amount": 0.5, "batches": 2, "batch_size": 16}),
        Step("distill.train", {"max_steps": 3, "batch_size": 16, "hidden_weight": 1.0}),
        train=64,
    )
    out, db = _run(recipe, tmp_path / "home", 2)
    lines = re.findall(r"same architecture after step (\d) \(([\w.]+)\): rank 0 (\w+), rank 1 (\w+)", out.stderr)
    assert [(s, m) for s, m, _, _ in lines] == [("1", "finetune"), ("2", "prune.heads"), ("3", "distill.train")]
    assert all(a == b for _, _, a, b in lines)  # both processes hold the same layout after every step
    assert lines[0][2] != lines[1][2]  # and pruning did change it
    database, repo, run = _only_run(db)
    assert run.status == "finished"
    assert repo.metric_series(run.id, "model/heads")[-1].value == 4  # 8 heads, half removed
    assert repo.metric_series(run.id, "distill/kd_loss")
    assert [p.value for p in repo.metric_series(run.id, "distill/sentences_rank1")] == [24]  # 3 steps x 8
    database.close()


def _rank_pid(launcher: int, rank: int, deadline: float) -> int:
    import psutil

    while time.monotonic() < deadline:
        for child in psutil.Process(launcher).children(recursive=True):
            try:
                if child.environ().get("RANK") == str(rank):
                    return child.pid
            except psutil.Error:
                continue
        time.sleep(0.2)
    raise AssertionError(f"no process of rank {rank} appeared")


def _signal_rank_1_in_training(tmp_path, sentences, signum, env=None, until=None) -> tuple[int | None, float, str]:
    """Launch a long training on 2 processes, send ``signum`` to rank 1 mid-training.

    Returns the launcher's exit code, the seconds from the signal to its exit (or to ``until(db)`` being
    true, when given), and the database URL.
    """
    recipe = _recipe(tmp_path / "long.json", "tiny", sentences, Step("finetune", {"epochs": 100, "batch_size": 16}), train=64)
    home = tmp_path / "home"
    home.mkdir()
    db = f"sqlite:///{home / 'runs.db'}"
    log = home / "stderr.txt"
    with log.open("w") as err:
        launcher = subprocess.Popen(_command(recipe, db, 2, quiet=False), cwd=ROOT, env={**_env(home), **(env or {})},
                                    stdout=subprocess.DEVNULL, stderr=err, text=True)
        pid = None
        try:
            deadline = time.monotonic() + 120
            while "[1/1] Fine-tune" not in log.read_text() and time.monotonic() < deadline:
                assert launcher.poll() is None, log.read_text()[-3000:]
                time.sleep(0.2)
            time.sleep(1.0)  # well into training
            pid = _rank_pid(launcher.pid, 1, deadline)
            os.kill(pid, signum)
            sent = time.monotonic()
            if until is None:
                code = launcher.wait(timeout=KILL_DEADLINE + 30)
            else:
                while not until(db) and time.monotonic() - sent < KILL_DEADLINE + 30:
                    time.sleep(0.5)
                code = launcher.poll()
            took = time.monotonic() - sent
        finally:
            if signum == signal.SIGSTOP and pid:
                os.kill(pid, signal.SIGKILL)
            if launcher.poll() is None:
                launcher.kill()
            launcher.wait(timeout=60)
    return code, took, db


def _status(db: str) -> str | None:
    import sqlite3

    with sqlite3.connect(db.removeprefix("sqlite:///"), timeout=5) as con:
        row = con.execute("select status from runs").fetchone()
    return row[0] if row else None


def test_a_hung_process_fails_the_run_after_the_collective_timeout(tmp_path, sentences):
    # SIGSTOP: rank 1 is alive but silent, which the launcher does not notice; rank 0's next collective
    # times out after BERT_STUDIO_DIST_TIMEOUT seconds (20 here, room for uneven start-up on a busy machine).
    code, took, db = _signal_rank_1_in_training(tmp_path, sentences, signal.SIGSTOP,
                                                env={"BERT_STUDIO_DIST_TIMEOUT": "20"},
                                                until=lambda db: _status(db) == "failed")
    print(f"stopped rank 1: the run was recorded failed {took:.1f} s later")
    assert took < 20 + KILL_DEADLINE, took
    database, repo, run = _only_run(db)
    database.close()
    assert run.status == "failed"
    print(run.error)
    assert "process rank 1 of 2" in run.error and "stopped answering" in run.error, run.error


def test_cancelling_one_process_cancels_the_run_on_all(tmp_path, sentences):
    code, took, db = _signal_rank_1_in_training(tmp_path, sentences, signal.SIGINT)  # Ctrl-C reaching rank 1 only
    assert code != 0 and took < KILL_DEADLINE, (code, took)
    database, repo, run = _only_run(db)
    steps = repo.metric_series(run.id, "train/loss")
    database.close()
    assert run.status == "cancelled", run.error  # rank 0 stopped at the same step; nothing failed
    assert 0 < len(steps) < 100 * 4


def test_a_killed_process_fails_the_run_naming_its_rank(tmp_path, sentences):
    code, took, db = _signal_rank_1_in_training(tmp_path, sentences, signal.SIGKILL)
    print(f"killed rank 1: the launcher exited {took:.1f} s later")
    assert code != 0
    assert took < KILL_DEADLINE, took
    database, repo, run = _only_run(db)
    database.close()
    assert run.status == "failed"
    print(run.error)
    assert "process rank 1 of 2" in run.error and "died" in run.error and "killed" in run.error, run.error


def test_mixed_precision_is_a_training_setting(tmp_path):
    from core.engine import Engine
    from tests.conftest import tiny_recipe

    engine = Engine(workdir_root=tmp_path)
    losses = []
    from core import events as ev

    engine.bus.subscribe(ev.Metric, lambda e: losses.append(e.value) if e.key == "train/loss" else None)
    # A warm worker runs recipes one after another: bf16 after a full-precision run in the same process.
    assert engine.run(tiny_recipe(Step("finetune", {"max_steps": 1, "batch_size": 16}), train=48)).status == "finished"
    losses.clear()
    bf16 = engine.run(tiny_recipe(Step("finetune", {"max_steps": 3, "batch_size": 16, "mixed_precision": "bf16"}), train=48))
    assert bf16.status == "finished", bf16.error
    assert len(losses) == 3 and all(0 < v < 10 for v in losses)
    fp16 = engine.run(_on_cpu(tiny_recipe(Step("finetune", {"max_steps": 1, "mixed_precision": "fp16"}), train=48)))
    assert fp16.status == "failed" and "fp16 needs a GPU" in fp16.error


def _on_cpu(recipe):
    recipe.device = "cpu"
    return recipe
