"""Latency measured against a reference in the same run, alternating, so ratios survive a noisy machine.

Every model is a callable over a workload (a list of tokenized batches): a
torch model and an ONNX Runtime session go through the same loop. The loop
(:func:`time_rounds`) warms each callable up, calibrates how many calls make
one timed block (at least :data:`MIN_BLOCK_S`, so a sub-millisecond model is
not timed at the clock's resolution), then runs ``rounds`` rounds; in each
round every model is timed back to back, first-to-last on even rounds and
last-to-first on odd ones so a slow drift of the machine favours nobody. A
block is timed by ``torch.utils.benchmark.Timer.timeit`` with the protocol's
thread count (tests inject a fake timer).

The raw seconds per batch of every round are kept (:class:`core.metrics.timing.Timing`),
so the figures can be re-derived from a stored run.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import torch

from core.metrics.intervals import spread
from core.metrics.protocol import DYNAMIC_SENTENCES, Protocol, machine, profile_shape
from core.metrics.timing import Timing, speed_figures  # noqa: F401  (speed_figures: re-exported for callers)

MIN_BLOCK_S = 0.02
INPUT_KEYS = ("input_ids", "attention_mask", "token_type_ids")
# (callable, calls, threads) -> seconds per call
BlockTimer = Callable[[Callable[[], Any], int, int], float]


def torch_timer(fn: Callable[[], Any], number: int, threads: int) -> float:
    """Seconds per call of ``fn`` over one block of ``number`` calls (torch.utils.benchmark)."""
    from torch.utils.benchmark import Timer

    return Timer("fn()", globals={"fn": fn}, num_threads=threads).timeit(number).mean


def _features(rows) -> list[dict[str, Any]]:
    keys = [k for k in INPUT_KEYS if k in rows.column_names]
    return [{k: rows[i][k] for k in keys} for i in range(len(rows))]


def fixed_batch(task, split: str, batch_size: int, max_length: int) -> dict[str, torch.Tensor]:
    """A deployment-like batch: ``batch_size`` sentences padded to ``max_length``."""
    ds = task.split(split)
    rows = ds.select(range(min(batch_size, len(ds))))
    batch = task.tokenizer.pad(_features(rows), padding="max_length", max_length=max_length, return_tensors="pt")
    return dict(batch)


def dynamic_batches(task, split: str, batch_size: int, sentences: int = DYNAMIC_SENTENCES) -> list[dict[str, torch.Tensor]]:
    """The split's first ``sentences`` real sentences in batches of ``batch_size``, each padded to its longest."""
    ds = task.split(split)
    rows = ds.select(range(min(max(sentences, batch_size), len(ds))))
    feats = _features(rows)
    return [dict(task.tokenizer.pad(feats[i:i + batch_size], padding="longest", return_tensors="pt"))
            for i in range(0, len(feats), batch_size)]


def profile_workload(task, split: str, profile: str, throughput_batch: int, max_length: int
                     ) -> tuple[list[dict[str, torch.Tensor]], dict[str, Any]]:
    """The batches a profile times and the protocol fields they fix (batch size, lengths, mean length)."""
    batch_size, lengths = profile_shape(profile, throughput_batch)
    if lengths == "fixed":
        batches = [fixed_batch(task, split, batch_size, max_length)]
    else:
        batches = dynamic_batches(task, split, batch_size)
    real = sum(int(b["attention_mask"].sum()) for b in batches)
    sentences = sum(int(b["input_ids"].shape[0]) for b in batches)
    shape = {"profile": profile, "batch_size": batch_size, "lengths": lengths, "max_length": max_length,
             "mean_length": round(real / max(1, sentences), 1) if lengths == "dynamic" else None}
    return batches, shape


def as_callable(model: Any, batches: list[dict[str, torch.Tensor]]) -> Callable[[], None]:
    """One call runs ``model`` over every batch of the workload, without gradients (torch or ONNX Runtime)."""
    if isinstance(model, torch.nn.Module):
        model.eval()
    batches = [{k: v.to("cpu") for k, v in b.items() if k in INPUT_KEYS} for b in batches]

    def call() -> None:
        with torch.no_grad():
            for batch in batches:
                model(**batch)

    return call


def time_rounds(fns: dict[str, Callable[[], Any]], protocol: Protocol, *, batches_per_call: int = 1,
                timer: BlockTimer | None = None, check: Callable[[], None] | None = None) -> Timing:
    """Time each callable in alternation for ``protocol.rounds`` rounds; seconds per batch of each round."""
    timer = timer or torch_timer
    threads = protocol.threads
    numbers: dict[str, int] = {}
    for name, fn in fns.items():
        for _ in range(max(0, protocol.warmup)):
            fn()
        once = timer(fn, 1, threads)
        numbers[name] = max(1, math.ceil(MIN_BLOCK_S / once)) if once > 0 else 1
    names = list(fns)
    rounds: dict[str, list[float]] = {name: [] for name in names}
    for r in range(protocol.rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            if check:
                check()
            rounds[name].append(timer(fns[name], numbers[name], threads) / batches_per_call)
    return Timing(protocol, rounds)


def measure_profile(models: dict[str, Any], task, split: str, profile: str, *, throughput_batch: int,
                    max_length: int, rounds: int, warmup: int = 1, threads: int | None = None,
                    timer: BlockTimer | None = None, check: Callable[[], None] | None = None) -> Timing:
    """Time ``models`` (name -> torch model or ONNX runner) in alternation under one named profile."""
    batches, shape = profile_workload(task, split, profile, throughput_batch, max_length)
    protocol = Protocol(**shape, warmup=warmup, rounds=max(1, rounds), **machine(threads))
    return measure_batches(models, batches, protocol, timer=timer, check=check)


def onnxruntime_threads(models: dict[str, Any]) -> int | None:
    """The intra-op threads of the ONNX Runtime sessions among ``models`` (None without one); sessions with
    different counts are refused: one measurement, one thread count per runtime."""
    counts = {int(m.threads) for m in models.values() if hasattr(m, "session") and hasattr(m, "threads")}
    if len(counts) > 1:
        raise ValueError(f"ONNX Runtime sessions with different thread counts in one measurement: {sorted(counts)}")
    return counts.pop() if counts else None


def measure_batches(models: dict[str, Any], batches: list[dict[str, torch.Tensor]], protocol: Protocol, *,
                    timer: BlockTimer | None = None, check: Callable[[], None] | None = None) -> Timing:
    """Time ``models`` over ``batches`` under ``protocol`` (its shape fields describe the batches); the ONNX
    Runtime sessions' thread count is recorded in the protocol beside torch's."""
    fns = {name: as_callable(m, batches) for name, m in models.items()}
    ort = onnxruntime_threads(models)
    if ort is not None:
        protocol = dataclasses.replace(protocol, onnxruntime_threads=ort)
    return time_rounds(fns, protocol, batches_per_call=len(batches), timer=timer, check=check)


def batch_protocol(batch: dict[str, torch.Tensor], rounds: int, warmup: int = 1, threads: int | None = None,
                   profile: str = "custom") -> Protocol:
    """The protocol of timing one given batch (an export's verification batch)."""
    rows, length = (int(x) for x in batch["input_ids"].shape[:2])
    return Protocol(profile=profile, batch_size=rows, lengths="fixed", max_length=length, warmup=warmup,
                    rounds=max(1, rounds), **machine(threads))


@torch.no_grad()
def compare_latency(models: dict, batch: dict, repeats: int = 5, warmup: int = 1, check=None) -> dict[str, float]:
    """Median seconds per forward pass for each model, timed in alternation (the protocol's loop, one batch).

    Latencies only: a speedup is the median of per-round ratios (:func:`core.metrics.timing.speed_figures` on
    :func:`measure_batches`' timing), never a ratio of these medians.
    """
    protocol = batch_protocol(batch, repeats, warmup)
    timing = measure_batches(models, [batch], protocol, check=check)
    return {name: spread(ts).value for name, ts in timing.rounds.items()}
