"""The comparison plots ratios to the baseline (never absolute latencies), says when accuracies differ by less
than the noise, shows unreliable and too-small-to-time figures as such, and measures runs side by side now."""

from __future__ import annotations

import math
import threading
from types import SimpleNamespace

import pytest

from studio.compare import accuracy_ties, results_row, scatter_points
from studio.widgets.run_compare import RunComparison
from tests.studio.conftest import quick_recipe, shown


def _run(name: str, results: dict, status: str = "finished"):
    recipe = quick_recipe()
    recipe.name = name
    return SimpleNamespace(id=f"{name:x<32}", name=name, status=status, recipe=recipe.to_dict(), results=results,
                           figures=None, artifacts=())


# Two near-identical runs measured at different times on a busy machine (the example): their absolute
# latencies disagree by half, their same-run speedups do not.
CALM = {"accuracy": 0.830, "evaluated": 2000, "latency_ms": 663.0, "baseline_latency_ms": 1087.0,
        "speedup": 1.64, "speedup_low": 1.60, "speedup_high": 1.68, "size_ratio": 1.55}
BUSY = {"accuracy": 0.826, "evaluated": 2000, "latency_ms": 1027.0, "baseline_latency_ms": 1674.0,
        "speedup": 1.63, "speedup_low": 1.58, "speedup_high": 1.69, "size_ratio": 1.55}


@pytest.fixture
def view(qtbot):
    return shown(qtbot, RunComparison(), 1100, 950)


def test_scatters_plot_ratios_to_the_baseline_never_absolute_latencies(qtbot, view):
    latency_only = {"accuracy": 0.80, "latency_ms": 9.0, "size_bytes": 16e6}  # an old run: no baseline ratios
    runs = [_run("calm", CALM), _run("busy", BUSY), _run("old", latency_only)]
    view.show_runs(runs, {})
    speed = view.scatters["speedup"]
    assert speed.xs[:2] == [1.64, 1.63]
    plotted = [x for x in speed.xs + view.scatters["size"].xs if x == x]
    latencies = {r.results[k] for r in runs for k in ("latency_ms", "baseline_latency_ms") if k in r.results}
    assert plotted and not latencies.intersection(plotted)  # no absolute latency on any axis
    assert math.isnan(speed.xs[2])  # the run without a speedup is left out and named, not placed by its latency
    assert "not shown" in speed.getPlotItem().titleLabel.text and "old" in speed.getPlotItem().titleLabel.text
    for scatter in view.scatters.values():
        assert "ms" not in scatter.getPlotItem().getAxis("bottom").labelText
    # the same holds without Qt: the points come from ratios only
    assert all(math.isnan(x) for x in scatter_points([latency_only], "speedup")[0])
    # both runs are unbeaten in some way, or one beats the other: the front reads on ratios (higher is better)
    assert speed.front[0] == 0


def test_sizes_plot_as_the_ratio_the_run_recorded_or_its_two_sizes(qtbot, view):
    runs = [_run("a", {"accuracy": 0.8, "size_bytes": 10e6, "baseline_size_bytes": 40e6}), _run("b", CALM)]
    view.show_runs(runs, {})
    assert view.scatters["size"].xs == [pytest.approx(4.0), 1.55]


def test_accuracies_within_the_noise_are_said_to_be(qtbot, view):
    view.show_runs([_run("calm", CALM), _run("busy", BUSY)], {})
    assert view.noise_note.isVisibleTo(view)
    assert "less than the noise" in view.noise_note.text() and "calm" in view.noise_note.text()
    view.show_runs([_run("calm", CALM), _run("worse", dict(BUSY, accuracy=0.70))], {})
    assert not view.noise_note.isVisibleTo(view)
    # Without example counts, overlapping Wilson intervals decide; without intervals nothing is claimed.
    a = {"accuracy": 0.80, "accuracy_low": 0.75, "accuracy_high": 0.85}
    assert accuracy_ties(["a", "b"], [a, dict(a, accuracy=0.82, accuracy_low=0.78, accuracy_high=0.86)])
    assert not accuracy_ties(["a", "b"], [a, dict(a, accuracy=0.95, accuracy_low=0.91, accuracy_high=0.97)])
    assert not accuracy_ties(["a", "b"], [{"accuracy": 0.8}, {"accuracy": 0.81}])


def test_unreliable_and_too_small_to_time_figures_are_shown_as_such(qtbot, view):
    wide = dict(CALM, speedup=3.0, speedup_low=1.5, speedup_high=4.5)
    tiny = {"accuracy": 0.6, "latency_ms": 0.3, "baseline_latency_ms": 0.4, "size_ratio": 1.2,
            "speed_note": "too small to time (baseline 0.40 ms per batch, under 1 ms): no speedup claimed"}
    view.show_runs([_run("wide", wide), _run("tiny", tiny), _run("calm", CALM)], {})
    speedups = [view.results.item(i, 5).text() for i in range(3)]
    assert speedups == ["3.00x (1.50\u20134.50) (unreliable)", "too small to time", "1.64x (1.60\u20131.68)"]
    speed = view.scatters["speedup"]
    assert speed.labels[0].startswith("wide") and speed.labels[0].endswith("(unreliable)")
    assert speed.labels[1].startswith("calm") and "unreliable" not in speed.labels[1]  # tiny has no dot
    title = speed.getPlotItem().titleLabel.text
    assert "tiny" in title and "too small to time" in title
    assert results_row("x", CALM)[1] == "83.0 %"  # no interval recorded: the value alone


def test_old_runs_without_intervals_or_timing_still_display(qtbot, view):
    old = {"accuracy": 0.81, "parameters": 4e6, "size_bytes": 16e6, "latency_ms": 9.0, "speedup": 1.9,
           "accuracy_retained": 0.99, "size_ratio": 2.0}
    view.show_runs([_run("old-a", old), _run("old-b", dict(old, speedup=2.5))], {})
    assert view.scatters["speedup"].xs == [1.9, 2.5]
    assert [view.results.item(i, 5).text() for i in range(2)] == ["1.90x", "2.50x"]
    assert view.results.item(0, 1).text() == "81.0 %"


def test_measure_side_by_side_times_the_runs_now_off_the_gui_thread(qtbot, view, tmp_path, monkeypatch):
    from core.db import Repository, open_database
    from core.services.side_by_side import measure_records
    from tests.core.test_bench_cmd import encoder_cost_timer, recorded_runs

    url = f"sqlite:///{tmp_path / 'studio.db'}"
    ids = recorded_runs(tmp_path, url)
    with open_database(url) as db:
        records = [Repository(db).get_run(i) for i in ids]
    encoder_cost_timer(monkeypatch, noise=0.02)
    threads = []

    def measure(records, **kwargs):
        threads.append(threading.current_thread())
        return measure_records(records, profiles=["throughput-fixed"], **kwargs)

    view.side_by_side.measure_fn = measure
    view.side_by_side.rounds = 4
    view.show_runs(records, {})
    # the runs recorded no speedup: nothing on the speed scatter until they are measured
    assert all(math.isnan(x) for x in view.scatters["speedup"].xs)
    with qtbot.waitSignal(view.side_by_side.measured, timeout=120_000) as signal:
        view.side_by_side.button.click()
        assert not view.side_by_side.button.isEnabled()  # the click returned at once; the work is elsewhere
    assert threads and threads[0] is not threading.main_thread()
    fresh = signal.args[0]
    assert set(fresh) == set(ids)
    cells = view.side_by_side.texts()
    assert len(cells) == 2 and all("faster (" in row[2] and "\u2013" in row[2] for row in cells)
    assert "alternating rounds" in view.side_by_side.protocol.text()
    speed = view.scatters["speedup"]
    assert speed.xs == [fresh[i]["speedup"] for i in ids]
    assert "measured now" in speed.getPlotItem().titleLabel.text
    assert view.side_by_side.button.isEnabled()
    # Other runs selected: the fresh figures are dropped with them.
    view.show_runs(records[:1] + [_run("other", CALM)], {})
    assert view.fresh is None and view.side_by_side.table.isHidden()
