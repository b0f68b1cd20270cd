"""``bert-studio bench``: recorded runs re-measured now, side by side with their baseline, with intervals."""

from __future__ import annotations

import random
import re

import pytest

from core import events as ev
from core.models.checkpoint import save_checkpoint
from core.models.loading import load_model
from tests.conftest import tiny_recipe
from tests.core.export.helpers import prune_layer

RATIO_WITH_INTERVAL = r"\d+\.\d\dx faster \(\d+\.\d\d\u2013\d+\.\d\d\)"


def recorded_runs(tmp_path, url: str) -> list[str]:
    """Two finished tiny runs with final checkpoints: one with layer 0 pruned hard, one with both layers pruned."""
    from core.db import Recorder, open_database

    ids = []
    with open_database(url) as db:
        for n, (name, layers) in enumerate((("heads-ffn", (0,)), ("both-layers", (0, 1)))):
            state = load_model("tiny", num_labels=2, seed=n)
            for layer in layers:
                prune_layer(state.model, layer, heads=[0], ffn=8)
            ckpt = save_checkpoint(state, tmp_path / "runs" / name / "final")
            run_id = f"{n + 1:x}" * 8 + "0" * 24
            bus = ev.EventBus()
            with Recorder(db, bus):
                bus.publish(ev.RunStarted(run_id=run_id, recipe=tiny_recipe(name=name).to_dict(), device="cpu",
                                          step_titles=()))
                bus.publish(ev.Checkpoint(run_id=run_id, index=0, path=str(ckpt), kind="final"))
                bus.publish(ev.RunFinished(run_id=run_id, results={"accuracy": 0.6}))
            ids.append(run_id)
    return ids


def encoder_cost_timer(monkeypatch, noise: float = 0.05, per_parameter: float = 1e-5):
    """Make every timed callable 'take' a time proportional to its model's encoder parameters (seeded noise).

    The real loop, loading and alternation run; only the clock is fake, so the figures are predictable.
    """
    import core.metrics.latency as latency

    real = latency.as_callable
    costs = {}
    rng = random.Random(0)

    def tagged(model, batches):
        fn = real(model, batches)
        costs[fn] = per_parameter * sum(p.numel() for p in model.bert.encoder.parameters())
        return fn

    monkeypatch.setattr(latency, "as_callable", tagged)
    monkeypatch.setattr(latency, "torch_timer", lambda fn, number, threads: costs[fn] * (1 + rng.uniform(0, noise)))
    return costs


@pytest.fixture
def runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'studio.db'}"
    return url, recorded_runs(tmp_path, url)


def test_bench_prints_both_runs_speedups_with_intervals_and_the_protocol(runs, capsys, monkeypatch):
    from core import cli

    url, ids = runs
    encoder_cost_timer(monkeypatch)
    assert cli.main(["--db", url, "bench", ids[0][:6], ids[1][:6], "--rounds", "6",
                     "--profile", "throughput-fixed", "--profile", "throughput-dynamic"]) == 0
    out = capsys.readouterr().out
    rows = {name: [line for line in out.splitlines() if line.startswith(f"{name} (")] for name in ("heads-ffn", "both-layers")}
    for name, lines in rows.items():
        assert len(lines) == 1, out  # the run's first profile row carries its name
        assert re.search(RATIO_WITH_INTERVAL, lines[0]), lines[0]
        assert "smaller" in lines[0]
    assert len(re.findall(RATIO_WITH_INTERVAL, out)) == 4  # two runs x two profiles
    # The run pruned in both layers has fewer encoder weights, so the fake clock makes it the faster one.
    speed = {name: float(re.search(r"(\d+\.\d\d)x faster", lines[0]).group(1)) for name, lines in rows.items()}
    assert speed["both-layers"] > speed["heads-ffn"] > 1
    assert "throughput-fixed: batch 8 x 32 tokens" in out  # the tiny recipe's latency batch and length
    assert "throughput-dynamic: batch 8, real lengths" in out and "alternating rounds" in out
    assert "baseline: the original model of the run's recipe" in out
    assert "unreliable" not in out


def test_bench_marks_noisy_figures_unreliable(runs, capsys, monkeypatch):
    from core import cli

    url, ids = runs
    encoder_cost_timer(monkeypatch, noise=2.0)
    assert cli.main(["--db", url, "bench", ids[0], "--rounds", "8", "--profile", "throughput-fixed"]) == 0
    out = capsys.readouterr().out
    assert "unreliable" in out and "note: heads-ffn" in out and "more --rounds" in out


def test_bench_gives_tiny_models_a_note_instead_of_a_speedup(runs, capsys, monkeypatch):
    """A baseline under a millisecond per batch: no speedup is claimed, whatever the ratio of the rounds."""
    from core import cli

    url, ids = runs
    encoder_cost_timer(monkeypatch, per_parameter=1e-8)  # the tiny encoders 'take' a fraction of a millisecond
    assert cli.main(["--db", url, "bench", *ids, "--rounds", "3", "--profile", "throughput-fixed"]) == 0
    out = capsys.readouterr().out
    assert out.count("too small to time") == 2 and "faster" not in out


def test_bench_of_an_unknown_run_is_one_line(runs, capsys):
    from core import cli

    url, _ = runs
    assert cli.main(["--db", url, "bench", "ffffffff"]) == 2
    assert "ffffffff" in capsys.readouterr().err


def test_side_by_side_shares_one_baseline_and_keeps_the_raw_rounds(runs, monkeypatch):
    from core.db import Repository, open_database
    from core.services.side_by_side import BASELINE, measure_runs

    url, ids = runs
    encoder_cost_timer(monkeypatch, noise=0.0)
    with open_database(url) as db:
        result = measure_runs(Repository(db), ids, profiles=["throughput-fixed"], rounds=3)
    (group, timings), = result.timings.items()  # both runs on the tiny model: one group, one baseline
    assert set(timings["throughput-fixed"].rounds) == {BASELINE, *ids}
    assert all(len(r) == 3 for r in timings["throughput-fixed"].rounds.values())
    head = result.by_id()[ids[1]].headline()
    assert head["speedup_low"] <= head["speedup"] <= head["speedup_high"] and head["size_ratio"] > 1


# ---------------------------------------------------------------- `make bench` (python -m bench)


def fake_benches(tmp_path, monkeypatch, **bodies):
    """A package of bench modules, each ``main`` given by its source, importable here and in a child process."""
    import sys

    package = tmp_path / "fakebench"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, body in bodies.items():
        (package / f"{name}.py").write_text(
            "import sys\nfrom pathlib import Path\n\n"
            f"def main(argv=None):\n    {body}\n\n"
            "if __name__ == '__main__':\n    raise SystemExit(main(sys.argv[1:]))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    for name in list(sys.modules):
        if name.startswith("fakebench"):
            monkeypatch.delitem(sys.modules, name)
    return tmp_path


def test_make_bench_runs_every_bench_module_there_is():
    """Each module of bench/ with a main() is in the list `python -m bench` runs (before, 4 of 10 were)."""
    import ast
    from pathlib import Path

    from bench.__main__ import BENCHMARKS

    folder = Path(__file__).resolve().parents[2] / "bench"
    with_main = {f"bench.{p.stem}" for p in folder.glob("*.py") if p.stem not in {"__main__", "tables"}
                 and any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in ast.parse(p.read_text()).body)}
    assert with_main == {module for module, _ in BENCHMARKS.values()}
    makefile = (folder.parent / "Makefile").read_text()
    assert "$(BIN)/python -m bench $(BENCH)" in makefile


def test_a_missing_bench_module_fails_loudly_before_anything_runs(tmp_path, monkeypatch, capsys):
    from bench import __main__ as runner

    fake_benches(tmp_path, monkeypatch, first="Path(__file__).with_name('ran').write_text('x'); return 0")
    monkeypatch.setattr(runner, "BENCHMARKS", {"first": ("fakebench.first", []),
                                               "gone": ("bench.no_such_bench_module", [])})
    assert runner.main(["--no-tables"]) == 2
    err = capsys.readouterr().err
    assert "gone" in err and "bench.no_such_bench_module" in err
    assert not (tmp_path / "fakebench" / "ran").exists()  # not skipped: the whole run stops before it starts


def test_each_bench_runs_as_its_command_and_a_failure_is_named_while_the_rest_still_run(tmp_path, monkeypatch, capfd):
    from bench import __main__ as runner

    fake_benches(tmp_path, monkeypatch,
                 crash="raise RuntimeError('boom')",
                 miss="Path(__file__).with_name('miss.txt').write_text(' '.join(argv)); return 1",
                 ok="Path(__file__).with_name('ok.txt').write_text(' '.join(argv)); return 0")
    monkeypatch.setattr(runner, "BENCHMARKS", {"crash": ("fakebench.crash", []),
                                               "miss": ("fakebench.miss", ["--x", "1"]),
                                               "ok": ("fakebench.ok", [])})
    assert runner.main(["--no-tables"]) == 1
    out = capfd.readouterr()
    assert (tmp_path / "fakebench" / "miss.txt").read_text() == "--x 1"
    assert (tmp_path / "fakebench" / "ok.txt").read_text() == ""
    assert "crash (exit status 1)" in out.out and "miss (exit status 1)" in out.out and "ok (" not in out.out
    assert "== miss: python -m fakebench.miss --x 1" in out.out
    assert "RuntimeError: boom" in out.err
    (tmp_path / "fakebench" / "ok.txt").unlink()
    assert runner.main(["--no-tables", "ok"]) == 0 and (tmp_path / "fakebench" / "ok.txt").exists()
    assert runner.main(["--no-tables", "nope"]) == 2


def test_the_docs_name_every_bench_and_its_command():
    from pathlib import Path

    from bench.__main__ import BENCHMARKS, command

    results = (Path(__file__).resolve().parents[2] / "docs" / "results.md").read_text()
    for name in BENCHMARKS:
        assert f"`{command(name)}`" in results, name
