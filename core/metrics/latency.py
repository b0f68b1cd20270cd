"""Latency measured against a reference in the same run, alternating, so ratios survive a noisy machine."""

from __future__ import annotations

import statistics
import time

import torch


def fixed_batch(task, split: str, batch_size: int, max_length: int) -> dict[str, torch.Tensor]:
    """A deployment-like batch: ``batch_size`` sentences padded to ``max_length``."""
    ds = task.split(split)
    rows = ds.select(range(min(batch_size, len(ds))))
    features = [{k: rows[i][k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in rows.column_names}
                for i in range(len(rows))]
    batch = task.tokenizer.pad(features, padding="max_length", max_length=max_length, return_tensors="pt")
    return dict(batch)


@torch.no_grad()
def compare_latency(models: dict, batch: dict, repeats: int = 5, warmup: int = 1, check=None) -> dict[str, float]:
    """Median seconds per forward pass for each model, timed in alternation on the CPU."""
    for m in models.values():
        m.eval()
    batch = {k: v.to("cpu") for k, v in batch.items()}
    for _ in range(warmup):
        for m in models.values():
            m(**batch)
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, m in models.items():
            if check:
                check()
            start = time.perf_counter()
            m(**batch)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}
