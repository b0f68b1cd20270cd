"""Physical removal of attention heads, FFN neurons and whole layers from a BERT encoder.

The functions slice the weight matrices in place (new, smaller modules replace
the old ones), so parameter count and latency really drop. Per-layer sizes may
differ afterwards: ``core.models.architecture.layer_shapes`` reads them back.

Each function also takes the unstructured-pruning masks (``state.extras['masks']``,
keyed by parameter name) and returns them sliced the same way, so a zero that
was pruned before stays pruned and ``apply_masks`` never meets a stale shape.

Besides ``nn.Linear``, any module with ``select_outputs(index)`` /
``select_inputs(index)`` methods (the factorized ``LowRankLinear``) can be
sliced; its ``mask_names()`` says which masks follow each dimension.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch
import torch.nn as nn

from core.models.architecture import encoder_of

Masks = dict[str, torch.Tensor]


def encoder_prefix(model: nn.Module) -> str:
    """Qualified module name of the encoder (``bert.encoder``), as masks are keyed."""
    enc = encoder_of(model)
    for name, module in model.named_modules():
        if module is enc:
            return name
    raise TypeError("the encoder is not a submodule of the model")


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


def _slice_mask(masks: Masks | None, name: str, index: torch.Tensor, dim: int, old_shape) -> None:
    if not masks or name not in masks:
        return
    mask = masks[name]
    if tuple(mask.shape) != tuple(old_shape):
        del masks[name]  # already stale: never let it be applied to the wrong entries
        return
    masks[name] = mask.index_select(dim, index.to(mask.device))


def _replace_linear(parent: nn.Module, attr: str, index: torch.Tensor, dim: int, prefix: str, masks: Masks | None) -> None:
    """Slice ``parent.<attr>`` along ``dim`` and the masks that belong to it."""
    module = getattr(parent, attr)
    name = f"{prefix}.{attr}" if prefix else attr
    if isinstance(module, nn.Linear):
        _slice_mask(masks, f"{name}.weight", index, dim, module.weight.shape)
        setattr(parent, attr, slice_linear(module, index, dim))
        return
    select = getattr(module, "select_outputs" if dim == 0 else "select_inputs", None)
    if select is None:
        raise TypeError(
            f"cannot slice {type(module).__name__} at {name}: structured pruning needs float linear layers "
            "(run it before quantization)"
        )
    for sub, sub_dim, shape in module.mask_names(dim):
        _slice_mask(masks, f"{name}.{sub}", index, sub_dim, shape)
    select(index)


def _copy_masks(masks: Masks | None) -> Masks | None:
    return None if masks is None else dict(masks)


def keep_heads(model: nn.Module, keep: Mapping[int, Iterable[int]], masks: Masks | None = None) -> Masks | None:
    """Keep only the listed heads of each listed layer (others untouched); returns the sliced masks.

    Slices the query/key/value rows and the attention-output columns of the
    removed heads and updates ``num_attention_heads`` / ``all_head_size``; the
    attention code infers the head count from the shapes. At least one head
    must stay in each layer.
    """
    masks = _copy_masks(masks)
    layers = encoder_of(model).layer
    base = encoder_prefix(model)
    for i, heads in keep.items():
        att = layers[i].attention
        size = int(att.self.attention_head_size)
        total = _out(att.self.query) // size
        heads = sorted({int(h) for h in heads})
        if not heads:
            raise ValueError(f"layer {i}: at least one attention head must stay")
        if heads[0] < 0 or heads[-1] >= total:
            raise ValueError(f"layer {i} has {total} heads; cannot keep {heads}")
        if len(heads) == total:
            continue
        index = torch.cat([torch.arange(h * size, (h + 1) * size) for h in heads])
        prefix = f"{base}.layer.{i}.attention"
        for attr in ("query", "key", "value"):
            _replace_linear(att.self, attr, index, 0, f"{prefix}.self", masks)
        _replace_linear(att.output, "dense", index, 1, f"{prefix}.output", masks)
        att.self.num_attention_heads = len(heads)
        att.self.all_head_size = len(heads) * size
    return masks


def keep_ffn(model: nn.Module, keep: Mapping[int, Iterable[int]], masks: Masks | None = None) -> Masks | None:
    """Keep only the listed intermediate neurons of each listed layer; returns the sliced masks.

    When every layer ends up with the same width, ``config.intermediate_size``
    is set so that a plain ``from_pretrained`` rebuilds the model.
    """
    masks = _copy_masks(masks)
    layers = encoder_of(model).layer
    base = encoder_prefix(model)
    for i, neurons in keep.items():
        layer = layers[i]
        width = _out(layer.intermediate.dense)
        neurons = sorted({int(n) for n in neurons})
        if not neurons:
            raise ValueError(f"layer {i}: at least one FFN neuron must stay")
        if neurons[0] < 0 or neurons[-1] >= width:
            raise ValueError(f"layer {i} has {width} FFN neurons; cannot keep index {neurons[-1]}")
        if len(neurons) == width:
            continue
        index = torch.tensor(neurons, dtype=torch.long)
        _replace_linear(layer.intermediate, "dense", index, 0, f"{base}.layer.{i}.intermediate", masks)
        _replace_linear(layer.output, "dense", index, 1, f"{base}.layer.{i}.output", masks)
    widths = {_out(layer.intermediate.dense) for layer in layers}
    config = getattr(model, "config", None)
    if config is not None and len(widths) == 1:
        config.intermediate_size = widths.pop()
    return masks


def keep_layers(model: nn.Module, indices: Iterable[int], masks: Masks | None = None) -> Masks | None:
    """Keep the listed encoder layers (in their original order); returns masks renamed to the new positions.

    Sets ``config.num_hidden_layers``. Masks of removed layers are dropped.
    """
    enc = encoder_of(model)
    n = len(enc.layer)
    indices = sorted({int(i) for i in indices})
    if not indices:
        raise ValueError("at least one layer must stay")
    if indices[0] < 0 or indices[-1] >= n:
        raise ValueError(f"the encoder has {n} layers (0..{n - 1}); cannot keep {indices}")
    base = encoder_prefix(model)
    new_masks = None
    if masks is not None:
        new_masks = {}
        old_to_new = {old: new for new, old in enumerate(indices)}
        layer_prefix = f"{base}.layer."
        for name, mask in masks.items():
            if not name.startswith(layer_prefix):
                new_masks[name] = mask
                continue
            old, rest = name[len(layer_prefix):].split(".", 1)
            if int(old) in old_to_new:
                new_masks[f"{layer_prefix}{old_to_new[int(old)]}.{rest}"] = mask
    enc.layer = nn.ModuleList([enc.layer[i] for i in indices])
    for new, layer in enumerate(enc.layer):
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = new
    config = getattr(model, "config", None)
    if config is not None:
        config.num_hidden_layers = len(indices)
    return new_masks


def apply_layer_shapes(model: nn.Module, shapes: list[dict[str, int]]) -> None:
    """Shrink a freshly built model to recorded ``layer_shapes()`` so a pruned state dict loads into it.

    For export: build the model from its config (``num_hidden_layers`` and a uniform
    ``intermediate_size`` are already right), call this with the recorded shapes,
    then ``load_state_dict``. Which heads/neurons are kept does not matter here;
    the weights that follow overwrite them.
    """
    layers = encoder_of(model).layer
    if len(shapes) != len(layers):
        raise ValueError(f"{len(shapes)} recorded layer shapes for a {len(layers)}-layer model")
    keep_heads(model, {i: range(s["heads"]) for i, s in enumerate(shapes)})
    keep_ffn(model, {i: range(s["ffn"]) for i, s in enumerate(shapes)})


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
    out = []
    for layer in encoder_of(model).layer:
        att = layer.attention.self
        out.append(_out(att.query) // int(att.attention_head_size))
    return out


def ffn_widths(model: nn.Module) -> list[int]:
    return [_out(layer.intermediate.dense) for layer in encoder_of(model).layer]


def _out(linear: nn.Module) -> int:
    from core.models.architecture import _out_features

    return _out_features(linear)
