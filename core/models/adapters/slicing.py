"""Slicing one linear layer (and its pruning masks) along its outputs or inputs.

Besides ``nn.Linear``, any module with ``select_outputs(index)`` /
``select_inputs(index)`` methods (the factorized ``LowRankLinear``) can be
sliced; its ``mask_names()`` says which masks follow each dimension.
"""

from __future__ import annotations

import torch
import torch.nn as nn

Masks = dict[str, torch.Tensor]


def slice_linear(linear: nn.Linear, index: torch.Tensor, dim: int) -> nn.Linear:
    """A new ``nn.Linear`` keeping rows (``dim=0``, outputs) or columns (``dim=1``, inputs) in ``index``.

    Unlike ``transformers.pytorch_utils.prune_linear_layer`` this keeps dtype and device.
    """
    w = linear.weight
    index = index.to(w.device)
    new_w = w.detach().index_select(dim, index).clone()
    out = nn.Linear(new_w.shape[1], new_w.shape[0], bias=linear.bias is not None, device=w.device, dtype=w.dtype)
    with torch.no_grad():
        out.weight.copy_(new_w)
        if linear.bias is not None:
            out.bias.copy_(linear.bias.detach() if dim == 1 else linear.bias.detach()[index])
    out.weight.requires_grad_(w.requires_grad)
    if out.bias is not None:
        out.bias.requires_grad_(linear.bias.requires_grad)
    out.train(linear.training)
    return out


def slice_mask(masks: Masks | None, name: str, index: torch.Tensor, dim: int, old_shape) -> None:
    if not masks or name not in masks:
        return
    mask = masks[name]
    if tuple(mask.shape) != tuple(old_shape):
        del masks[name]  # already stale: never let it be applied to the wrong entries
        return
    masks[name] = mask.index_select(dim, index.to(mask.device))


def replace_linear(root: nn.Module, path: str, index: torch.Tensor, dim: int, root_name: str, masks: Masks | None) -> None:
    """Slice the linear at ``path`` below ``root`` along ``dim``, and the masks that belong to it."""
    parent_path, _, attr = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    module = getattr(parent, attr)
    name = ".".join(p for p in (root_name, path) if p)
    if isinstance(module, nn.Linear):
        slice_mask(masks, f"{name}.weight", index, dim, module.weight.shape)
        setattr(parent, attr, slice_linear(module, index, dim))
        return
    select = getattr(module, "select_outputs" if dim == 0 else "select_inputs", None)
    if select is None:
        raise TypeError(
            f"cannot slice {type(module).__name__} at {name}: structured pruning needs float linear layers "
            "(run it before quantization)"
        )
    for sub, sub_dim, shape in module.mask_names(dim):
        slice_mask(masks, f"{name}.{sub}", index, sub_dim, shape)
    select(index)
