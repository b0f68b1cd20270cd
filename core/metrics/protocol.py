"""The measurement protocol: how a latency figure was taken, stated next to it wherever it is shown.

A latency or a speedup means nothing without its batch size, its lengths, the
threads and the machine. :class:`Protocol` records them; it is stored with the
run (``results["timing"]``), printed by the CLI, shown in the studio and written
into model cards.

Four profiles cover the two ways a classifier is served, each at two length
policies:

- ``throughput-*``: batches of ``latency_batch_size`` sentences (32 by default),
- ``single-*``: one request at a time (batch 1),
- ``*-fixed``: every batch padded to the recipe's ``max_length``,
- ``*-dynamic``: batches of real sentences padded to their longest (what a
  server with dynamic padding does); the latency is per batch, averaged over
  :data:`DYNAMIC_SENTENCES` real sentences.

This module imports nothing heavy: the recipe validates profile names with it.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, fields
from typing import Any

PROFILES = ("throughput-fixed", "throughput-dynamic", "single-fixed", "single-dynamic")
DEFAULT_PROFILES = ("throughput-fixed",)
DYNAMIC_SENTENCES = 64  # real sentences per dynamic-length call: enough lengths to be typical, few enough to stay quick
MIN_BASELINE_MS = 1.0  # below this, timer and scheduler noise swamp the work: no speedup is claimed


@dataclass(frozen=True)
class Protocol:
    """How a latency figure was measured."""

    profile: str  # one of PROFILES, or "custom" (an export's verification batch)
    batch_size: int
    lengths: str  # "fixed" (padded to max_length) | "dynamic" (padded to the longest in each batch)
    max_length: int
    threads: int
    device: str = "cpu"
    warmup: int = 1
    rounds: int = 5
    cpu: str = ""  # the CPU model
    cpu_capability: str = ""  # the kernels torch picked (torch.backends.cpu.get_cpu_capability)
    torch: str = ""
    mean_length: float | None = None  # tokens per sentence actually fed (dynamic lengths only)
    onnxruntime_threads: int | None = None  # intra-op threads of the ONNX Runtime sessions timed (None: none timed)

    def describe(self) -> str:
        """One line a person reads next to a latency figure."""
        if self.lengths == "dynamic":
            mean = f", mean {self.mean_length:.0f}" if self.mean_length else ""
            shape = f"batch {self.batch_size}, real lengths (padded per batch, up to {self.max_length}{mean})"
        else:
            shape = f"batch {self.batch_size} x {self.max_length} tokens"
        machine = self.device.upper() if self.device == "cpu" else self.device
        if self.cpu:
            machine += f" {self.cpu}"
        if self.cpu_capability:
            machine += f" ({self.cpu_capability})"
        threads = f"{self.threads} thread{'s' if self.threads != 1 else ''}"
        if self.onnxruntime_threads is not None:
            threads += f" (torch; ONNX Runtime {self.onnxruntime_threads})"
        return (f"{shape}; {threads}, {machine}; median of {self.rounds} alternating rounds "
                f"after {self.warmup} warm-up")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Protocol":
        """Rebuild from a stored dict, ignoring keys a newer studio may have added."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})


def profile_shape(profile: str, throughput_batch: int = 32) -> tuple[int, str]:
    """(batch size, length policy) of a named profile."""
    if profile not in PROFILES:
        raise ValueError(f"unknown latency profile {profile!r}; choose from {', '.join(PROFILES)}")
    kind, lengths = profile.split("-")
    return (throughput_batch if kind == "throughput" else 1), lengths


def profile_problems(profiles: Any) -> list[str]:
    """What is wrong with a recipe's ``evaluation.latency_profiles`` (empty when nothing)."""
    if isinstance(profiles, str) or not isinstance(profiles, (list, tuple)) or not profiles:
        return [f"evaluation, field 'latency_profiles': must be a list of at least one profile ({', '.join(PROFILES)})"]
    return [f"evaluation, field 'latency_profiles': unknown profile {p!r}; choose from {', '.join(PROFILES)}"
            for p in profiles if p not in PROFILES]


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (lscpu, /proc/cpuinfo, then platform), '' when none says."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


def machine(threads: int | None = None, device: str = "cpu") -> dict[str, Any]:
    """The machine fields of a :class:`Protocol`: threads, device, CPU model and kernels, torch version."""
    import torch

    try:
        capability = str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        capability = ""
    return {"threads": int(threads or torch.get_num_threads() or os.cpu_count() or 1), "device": device,
            "cpu": cpu_model(), "cpu_capability": capability, "torch": torch.__version__}
