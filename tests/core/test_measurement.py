"""The measurement protocol: intervals from alternating rounds, Wilson and paired bootstrap, profiles, notes."""

import itertools
import math
import random

import pytest

from core.metrics.intervals import accuracy_differs, paired_retained, ratio_spread, wilson
from core.metrics.latency import dynamic_batches, measure_batches, profile_workload, time_rounds
from core.metrics.protocol import PROFILES, Protocol, profile_problems
from core.metrics.timing import Timing, speed_figures


def protocol(rounds=12, warmup=1) -> Protocol:
    return Protocol(profile="throughput-fixed", batch_size=8, lengths="fixed", max_length=32, threads=1,
                    warmup=warmup, rounds=rounds)


def fake_timer(costs: dict, noise: float = 0.0, seed: int = 0):
    """A clock that says each callable takes its cost in seconds, times a random factor in [1, 1 + noise]."""
    rng = random.Random(seed)

    def timer(fn, number, threads):
        return costs[fn] * (1 + rng.uniform(0, noise))

    return timer


def test_wilson_matches_hand_checked_values():
    low, high = wilson(80, 100)
    assert low == pytest.approx(0.7111, abs=2e-4) and high == pytest.approx(0.8666, abs=2e-4)
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=2e-4)
    low, high = wilson(10, 10)
    assert high == pytest.approx(1.0) and low == pytest.approx(0.7225, abs=2e-4)
    assert all(math.isnan(x) for x in wilson(0, 0))


def test_interval_widens_when_timings_are_noisy():
    def fake(name):
        return lambda: None

    base, cand = fake("base"), fake("cand")
    costs = {base: 0.010, cand: 0.002}
    quiet = time_rounds({"final": cand, "baseline": base}, protocol(), timer=fake_timer(costs, noise=0.01))
    busy = time_rounds({"final": cand, "baseline": base}, protocol(), timer=fake_timer(costs, noise=1.5))
    q, b = speed_figures(quiet), speed_figures(busy)
    assert q["speedup"] == pytest.approx(5.0, rel=0.02)
    assert (b["speedup_high"] - b["speedup_low"]) > 10 * (q["speedup_high"] - q["speedup_low"])
    from core.metrics import figures

    assert not figures.unreliable(q) and figures.unreliable(b)
    assert "unreliable" in figures.describe(b, "speedup") and "unreliable" not in figures.describe(q, "speedup")


def test_rounds_alternate_candidate_and_baseline_and_are_kept_raw():
    order = []
    fns = {"final": lambda: None, "baseline": lambda: None}

    def timer(fn, number, threads):
        order.append("final" if fn is fns["final"] else "baseline")
        return 0.005

    timing = time_rounds(fns, protocol(rounds=4, warmup=0), timer=timer)
    measured = order[2:]  # after one calibration call each
    assert measured == ["final", "baseline", "baseline", "final", "final", "baseline", "baseline", "final"]
    stored = timing.to_dict()
    assert stored["rounds_ms"]["baseline"] == [5.0] * 4 and stored["protocol"]["rounds"] == 4
    again = Timing.from_dict(stored)
    assert speed_figures(again) == speed_figures(timing)  # re-derived from what a run stores


def test_speedup_is_the_median_of_per_round_ratios():
    spread = ratio_spread([10, 10, 10, 40], [5, 5, 5, 10])
    assert spread.value == 2.0 and spread.low == 2.0 and spread.high == pytest.approx(2.5)


def test_a_tiny_baseline_gets_a_note_instead_of_a_speedup():
    fns = {"final": lambda: None, "baseline": lambda: None}
    costs = {fns["final"]: 0.0001, fns["baseline"]: 0.0004}
    timing = time_rounds(fns, protocol(), timer=fake_timer(costs))
    figures = speed_figures(timing)
    assert "speedup" not in figures and "too small to time" in figures["speed_note"]
    assert figures["baseline_latency_ms"] == pytest.approx(0.4)


def test_paired_bootstrap_on_retained_accuracy():
    same = [True] * 80 + [False] * 20
    kept = paired_retained(same, same)
    assert kept.value == 1.0 and kept.low == 1.0 and kept.high == 1.0  # same answers: no spread at all
    cand = [True] * 75 + [False] * 25
    kept = paired_retained(cand, same)
    assert kept.value == pytest.approx(0.9375) and kept.low < 0.9375 < kept.high <= 1.0


def test_accuracy_differences_inside_the_noise_are_not_told_apart():
    assert not accuracy_differs(0.985, 2000, 0.980, 2000)
    assert accuracy_differs(0.95, 2000, 0.80, 2000)


def test_profiles_are_validated():
    assert profile_problems(["throughput-fixed", "single-dynamic"]) == []
    assert "unknown profile 'batch-64'" in profile_problems(["batch-64"])[0]
    assert profile_problems([]) and profile_problems("throughput-fixed")
    assert set(PROFILES) == {"throughput-fixed", "throughput-dynamic", "single-fixed", "single-dynamic"}


def test_dynamic_lengths_pad_each_batch_to_its_longest(tiny_task):
    batches = dynamic_batches(tiny_task, "test", 8, sentences=32)
    assert len(batches) == 4 and all(b["input_ids"].shape[0] == 8 for b in batches)
    assert all(int(b["attention_mask"].sum(1).max()) == b["input_ids"].shape[1] for b in batches)
    fixed, shape = profile_workload(tiny_task, "test", "single-fixed", 32, 32)
    assert fixed[0]["input_ids"].shape == (1, 32) and shape["batch_size"] == 1 and shape["lengths"] == "fixed"
    _, dyn = profile_workload(tiny_task, "test", "throughput-dynamic", 8, 32)
    assert dyn["lengths"] == "dynamic" and 0 < dyn["mean_length"] <= 32


def test_torch_models_are_timed_through_torch_utils_benchmark(tiny_state, tiny_task):
    batches = dynamic_batches(tiny_task, "test", 4, sentences=8)
    timing = measure_batches({"final": tiny_state.model, "baseline": tiny_state.model}, batches, protocol(rounds=3))
    assert len(timing.rounds["final"]) == 3 and all(t > 0 for t in itertools.chain(*timing.rounds.values()))
    assert "3 alternating rounds" in timing.protocol.describe()


def test_onnxruntime_threads_are_recorded_beside_torchs_and_must_agree():
    import torch

    from core.metrics.latency import batch_protocol

    class FakeSession:  # what measure_batches reads of an OnnxRunner: its session and its pinned threads
        def __init__(self, threads):
            self.session, self.threads = object(), threads

        def __call__(self, **batch):
            return None

    batch = {"input_ids": torch.ones(2, 8, dtype=torch.long), "attention_mask": torch.ones(2, 8, dtype=torch.long)}
    protocol = batch_protocol(batch, rounds=3, threads=2)
    timer = lambda fn, number, threads: 0.005  # noqa: E731
    timing = measure_batches({"int8": FakeSession(2), "fp32": FakeSession(2)}, [batch], protocol, timer=timer)
    assert timing.protocol.onnxruntime_threads == 2 and timing.protocol.threads == 2
    assert "2 threads (torch; ONNX Runtime 2)" in timing.protocol.describe()
    assert Timing.from_dict(timing.to_dict()).protocol.onnxruntime_threads == 2  # stored with the run
    with pytest.raises(ValueError, match="different thread counts"):
        measure_batches({"int8": FakeSession(2), "fp32": FakeSession(4)}, [batch], protocol, timer=timer)
    torch_only = measure_batches({"model": lambda **b: None}, [batch], protocol, timer=timer)
    assert torch_only.protocol.onnxruntime_threads is None and "ONNX" not in torch_only.protocol.describe()
