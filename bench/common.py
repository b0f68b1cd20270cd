"""Shared helpers: offline environment, thread count, writing results."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

# Committed, so that every figure the README or docs quote can be opened (docs/results/<bench>.json).
RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
_LOAD_AT_START = os.getloadavg()


def _commit() -> str | None:
    """The commit the bench ran at, with ``+dirty`` when the work tree had changes (None outside git)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+dirty" if dirty else "")) or None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance() -> dict:
    """What a result file says about how it was made: command, commit, CPU, threads and the machine's load."""
    import torch

    main = getattr(sys.modules.get("__main__"), "__spec__", None)
    program = ["-m", main.name] if main is not None else sys.argv[:1]  # `python -m bench.x` or `python file.py`
    return {"command": " ".join([Path(sys.executable).name, *program, *sys.argv[1:]]),
            "commit": _commit(), "cpu_model": _cpu_model(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_at_start": list(_LOAD_AT_START), "load_average_at_end": list(os.getloadavg())}


def setup(threads: int | None = None) -> None:
    from core.env import configure_environment

    configure_environment()
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)


def write_result(name: str, figures: dict) -> Path:
    import torch
    import transformers

    RESULTS.mkdir(parents=True, exist_ok=True)
    figures = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                    "transformers": transformers.__version__, "threads": torch.get_num_threads(),
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "provenance": provenance(),
        **figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return path
