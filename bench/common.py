"""Shared helpers: offline environment, thread count, writing results."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


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
        **figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return path
