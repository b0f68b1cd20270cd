"""``share.layers``: ALBERT-style cross-layer sharing.

All encoder layers, or each run of ``group_size`` consecutive layers, become one
module used at several depths; its weights start as the average of the group's.
Sharing is by module identity, so ``parameters()``, ``count_parameters`` and
``torch.save`` / safetensors each store a shared tensor once. The groups are
recorded in ``state.extras['shared_layers']`` so an export can tie them again
after loading.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from core.methods.family import report_cut
from core.engine.training import TrainSettings, train_model
from core.errors import StudioError
from core.models.adapters import adapter_for
from core.models.architecture import count_parameters
from core.models.masks import apply_masks
from core.registry import Refusal, register_method, setting

SHARED_KEY = "shared_layers"  # state.extras: [[0, 1], [2, 3]]: the encoder layers that are one module


@dataclass
class ShareLayersSettings(TrainSettings):
    group_size: int = setting(0, "Consecutive layers sharing one set of weights (0: all layers share one)", min=0, max=48)
    recover: bool = setting(True, "Fine-tune after sharing to recover accuracy (with the training settings below)")


def shared_groups(model: nn.Module) -> list[list[int]]:
    """Groups (of two or more) of encoder positions holding the same layer module."""
    by_id: dict[int, list[int]] = {}
    adapter = adapter_for(model)
    if adapter.shares_layers:
        return []  # ALBERT shares by design, not by module identity between positions
    for i, layer in enumerate(adapter.layers(model)):
        by_id.setdefault(id(layer), []).append(i)
    return [g for g in by_id.values() if len(g) > 1]


def consecutive_groups(n_layers: int, group_size: int) -> list[list[int]]:
    size = n_layers if group_size <= 0 else group_size
    return [list(range(start, min(start + size, n_layers))) for start in range(0, n_layers, size)]


@torch.no_grad()
def tie_layers(model: nn.Module, groups: list[list[int]], average: bool = True) -> nn.Module:
    """Make each group's positions use one module (the first's), holding the group's mean weights.

    With ``average=False`` the first layer's weights are kept as they are
    (what an export loader wants after reading already-shared weights).
    """
    layers = adapter_for(model).module_list(model)
    for group in groups:
        if len(group) < 2:
            continue
        first = layers[group[0]]
        states = [layers[i].state_dict() for i in group]
        shapes = {k: v.shape for k, v in states[0].items()}
        for i, st in zip(group[1:], states[1:]):
            if {k: v.shape for k, v in st.items()} != shapes:
                raise StudioError(f"layers {group[0]} and {i} have different shapes (pruned differently?) "
                                  "and cannot share weights")
        if average:
            unique = {id(layers[i]): st for i, st in zip(group, states)}  # already-shared layers count once
            mean = {}
            for key, value in states[0].items():
                if value.is_floating_point():
                    mean[key] = torch.stack([st[key].float() for st in unique.values()]).mean(0).to(value.dtype)
                else:
                    mean[key] = value
            first.load_state_dict(mean)
        for i in group[1:]:
            layers[i] = first
    return model


def _merge_masks(masks: dict, groups: list[list[int]], marker: str = "encoder.layer.") -> dict:
    """One mask per shared layer: a weight stays pruned only if every member of the group pruned it.

    ``marker`` is the layer list's name and a dot (``"bert.encoder.layer."``, ModernBERT's ``"model.layers."``).
    """
    out = dict(masks)
    for group in groups:
        if len(group) < 2:
            continue
        for name in list(out):
            if marker not in name:
                continue
            head, rest = name.split(marker, 1)
            index, tail = rest.split(".", 1)
            if int(index) != group[0]:
                continue
            members = [out.get(f"{head}{marker}{i}.{tail}") for i in group]
            keep = members[0].clone()
            for m in members[1:]:
                keep = keep | m.to(keep.device) if m is not None and m.shape == keep.shape else torch.ones_like(keep)
            out[name] = keep
        for name in list(out):
            if marker in name:
                index = int(name.split(marker, 1)[1].split(".", 1)[0])
                if index in group[1:]:
                    del out[name]
    return out


@register_method(
    "share.layers",
    family="sharing",
    title="Share layer weights (ALBERT)",
    description="Let all encoder layers, or groups of consecutive layers, use one set of weights (their average), "
    "then optionally fine-tune to recover. Cuts parameters and file size, not latency.",
    config=ShareLayersSettings,
    refuses=[Refusal("albert", "ALBERT's layers share their weights already"),
             Refusal("modernbert", "ModernBERT's layers alternate local (sliding-window) and global attention and its "
                                   "first layer has no attention norm, so one module cannot stand for several depths"),
             Refusal("mobilebert", "MobileBERT's bottleneck layers are not supported by layer sharing")],
    phrase="shared layers",
)
def share_layers(state, cfg: ShareLayersSettings, ctx):
    model = state.model
    adapter = adapter_for(model)
    n = len(adapter.layers(model))
    groups = consecutive_groups(n, cfg.group_size)
    before = count_parameters(model)
    tie_layers(model, groups)
    new = state.replace()
    if state.masks:
        new.masks = _merge_masks(state.masks, groups, adapter.layer_list_name(model) + ".")
        apply_masks(model, new.masks)
    final_groups = shared_groups(model)
    new.extras[SHARED_KEY] = final_groups
    report_cut(ctx, model, before, "layer sharing", f"groups {final_groups}")
    if cfg.recover:
        model = train_model(ctx, model, cfg, ctx.task, masks=new.masks)
    new.model = model
    return new
