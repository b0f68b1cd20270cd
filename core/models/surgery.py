"""Physical removal of attention heads, FFN neurons and whole layers from a BERT-family encoder.

The functions slice the weight matrices in place (new, smaller modules replace
the old ones), so parameter count and latency really drop. Per-layer sizes may
differ afterwards: ``core.models.architecture.layer_shapes`` reads them back.

Each function also takes the unstructured-pruning masks (``state.masks``,
keyed by parameter name) and returns them sliced the same way, so a zero that
was pruned before stays pruned and ``apply_masks`` never meets a stale shape.

Where the parts of a layer are depends on the encoder family: each function
asks the model's adapter (:mod:`core.models.adapters`).
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch
import torch.nn as nn

from core.models.adapters import adapter_for
from core.models.adapters.slicing import replace_linear, slice_linear, slice_mask  # noqa: F401  (re-exported)

Masks = dict[str, torch.Tensor]


def encoder_prefix(model: nn.Module) -> str:
    """Qualified name of the layer list's owner (``bert.encoder``), as masks are keyed (``<prefix>.layer.<i>``)."""
    return adapter_for(model).layer_list_name(model).rpartition(".")[0]


def keep_heads(model: nn.Module, keep: Mapping[int, Iterable[int]], masks: Masks | None = None) -> Masks | None:
    """Keep only the listed heads of each listed layer (others untouched); returns the sliced masks.

    Slices the query/key/value rows (or the fused QKV's three blocks, and any
    per-head position projections) and the attention-output columns of the
    removed heads, and updates the attention's head bookkeeping; see the
    family's adapter. At least one head must stay in each layer.
    """
    return adapter_for(model).keep_heads(model, keep, masks)


def keep_ffn(model: nn.Module, keep: Mapping[int, Iterable[int]], masks: Masks | None = None) -> Masks | None:
    """Keep only the listed intermediate neurons of each listed layer; returns the sliced masks.

    A gated FFN keeps the same neurons of its input and gate halves. When every
    layer ends up with the same width, the config's FFN width
    (``intermediate_size``, DistilBERT's ``hidden_dim``) is set so that a plain
    ``from_pretrained`` rebuilds the model.
    """
    return adapter_for(model).keep_ffn(model, keep, masks)


def keep_layers(model: nn.Module, indices: Iterable[int], masks: Masks | None = None) -> Masks | None:
    """Keep the listed encoder layers (in their original order); returns masks renamed to the new positions.

    Sets ``config.num_hidden_layers`` (and ModernBERT's ``layer_types``). Masks of removed layers are dropped.
    """
    return adapter_for(model).keep_layers(model, indices, masks)


def apply_layer_shapes(model: nn.Module, shapes: list[dict[str, int]]) -> None:
    """Shrink a freshly built model to recorded ``layer_shapes()`` so a pruned state dict loads into it.

    For export: build the model from its config (``num_hidden_layers`` and a uniform
    FFN width are already right), call this with the recorded shapes, then
    ``load_state_dict``. Which heads/neurons are kept does not matter here;
    the weights that follow overwrite them.
    """
    adapter_for(model).apply_layer_shapes(model, shapes)


def reconcile_masks(model: nn.Module, masks: Masks | None) -> tuple[Masks | None, list[str]]:
    """Drop masks that no longer match a parameter (name gone or shape changed); returns them and the dropped names."""
    if masks is None:
        return None, []
    params = dict(model.named_parameters())
    kept, dropped = {}, []
    for name, mask in masks.items():
        p = params.get(name)
        if p is not None and tuple(p.shape) == tuple(mask.shape):
            kept[name] = mask
        else:
            dropped.append(name)
    return kept, dropped


def head_counts(model: nn.Module) -> list[int]:
    """Attention heads per layer, read from the module shapes."""
    adapter = adapter_for(model)
    return [adapter.heads(layer) for layer in adapter.layers(model)]


def ffn_widths(model: nn.Module) -> list[int]:
    adapter = adapter_for(model)
    return [adapter.ffn_width(layer) for layer in adapter.layers(model)]
