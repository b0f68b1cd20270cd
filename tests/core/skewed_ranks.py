"""``bert-studio`` for torchrun with every rank's importance scores skewed its own way (test_distributed_choice.py).

Rank ``r`` scores every unit of layer ``r`` (mod the depth) 0 and every other unit 1, for head, FFN, layer
and block movement scores alike: left to itself each rank would cut a different layer hardest, so the
processes would hold different layouts after every structural step. Each structural choice is printed on
stderr as ``CHOICE rank R own ... applied ...`` (this rank's own choice, and the one it applied).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from core.engine import distributed  # noqa: E402
from core.methods.pruning import ffn, heads, layers  # noqa: E402
from core.methods.pruning.movement_scores import BlockScores  # noqa: E402
from core.models.surgery import ffn_widths, head_counts  # noqa: E402

RANK = int(os.environ.get("RANK", "0"))


def skewed(widths: list[int]) -> list[list[float]]:
    return [[0.0 if i == RANK % len(widths) else 1.0] * n for i, n in enumerate(widths)]


heads.head_gradient_importance = lambda model, batches: skewed(head_counts(model))
ffn.ffn_taylor_importance = lambda model, batches: skewed(ffn_widths(model))
layers.layer_gradient_importance = lambda model, batches: [row[0] for row in skewed([1] * len(head_counts(model)))]
BlockScores.current = lambda self, model, kind: [torch.tensor(row) for row in
                                                 skewed([len(k) for k in self.keep[kind]])]

_decide = getattr(distributed, "decide", lambda choice: choice)  # (before rank 0 decided: no decision)


def _printed_decide(choice):
    chosen = _decide(choice)
    sys.stderr.write(f"CHOICE rank {RANK} own {choice!r} applied {chosen!r}\n")
    sys.stderr.flush()
    return chosen


distributed.decide = _printed_decide

if __name__ == "__main__":
    from core.cli import main

    raise SystemExit(main())
