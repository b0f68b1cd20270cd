"""Unstructured-pruning masks: what ``ModelState.masks`` holds and how training keeps zeros at zero.

No Qt and no methods here, so the engine's training loop imports it at top level;
``core.methods.pruning.masks`` keeps the method-specific parts (which weights are prunable, sparsity).
"""

from __future__ import annotations

import torch
import torch.nn as nn

Masks = dict[str, torch.Tensor]  # parameter name -> 0/1 tensor of the parameter's shape


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Masks | None) -> None:
    """Zero the pruned entries again (after an optimiser step)."""
    if not masks:
        return
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        p = params.get(name)
        if p is not None and p.shape == mask.shape:
            p.mul_(mask.to(p.device, p.dtype))
