"""Ablation: what validation accuracy and loss become when one head or one layer is switched off.

The first of each pair is higher-better: the accuracy, or minus the loss for a task kind without one
(:func:`core.methods.task_measure.evaluate`); ``kind`` is the run's task kind.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from core.methods.pruning.importance import head_gates, layer_gates, model_device, ones_head_gates
from core.methods.task_measure import SEQUENCE, evaluate
from core.models.architecture import layers_of


def _evaluate(model, make_loader: Callable, check, kind=SEQUENCE) -> tuple[float, float]:
    result = evaluate(model, make_loader(), kind, check)
    return result["score"], result["loss"]


def head_ablation(model: nn.Module, make_loader: Callable, check=None, progress=None,
                  kind=SEQUENCE) -> list[list[tuple[float, float]]]:
    """``(accuracy, loss)`` with each head gated to zero in turn; ``progress(done, total)`` is called as it goes."""
    gates = ones_head_gates(model)
    total = sum(g.numel() for g in gates)
    done = 0
    out = []
    for layer, gate in enumerate(gates):
        row = []
        for h in range(gate.numel()):
            gate[h] = 0.0
            with head_gates(model, gates):
                row.append(_evaluate(model, make_loader, check, kind))
            gate[h] = 1.0
            done += 1
            if progress:
                progress(done, total)
        out.append(row)
    return out


def layer_ablation(model: nn.Module, make_loader: Callable, check=None, kind=SEQUENCE) -> list[tuple[float, float]]:
    """``(accuracy, loss)`` with each layer skipped in turn (its residual update gated to zero)."""
    n = len(layers_of(model))
    out = []
    for i in range(n):
        gates = torch.ones(n, device=model_device(model))
        gates[i] = 0.0
        with layer_gates(model, gates):
            out.append(_evaluate(model, make_loader, check, kind))
    return out


def baseline(model: nn.Module, make_loader: Callable, check=None, kind=SEQUENCE) -> tuple[float, float]:
    return _evaluate(model, make_loader, check, kind)
