"""Importance scores for structured pruning: heads, layers and FFN neurons.

transformers 5 dropped BERT's ``head_mask`` argument, so a head is gated by a
forward pre-hook that scales each head's slice of the attention context just
before the attention-output projection (``attention.output.dense`` in BERT;
each family's adapter names it). A gate of 0 is exactly the same as removing
the head (the heads are independent until that projection); the gradient of
the loss with respect to a gate of 1 is Michel et al.'s (2019) head importance.
Layers are gated the same way on their residual update. FFN neurons are
scored on the input of the FFN output projection, which is the activation
(gate applied, for a gated FFN) in every family. A layer used at several
depths (ALBERT) gets the sum over its uses.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
import torch.nn as nn

from core.models.adapters import adapter_for
from core.models.surgery import ffn_widths, head_counts


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def task_batches(ctx, model: nn.Module, split: str, batch_size: int, batches: int | None) -> Iterator[dict]:
    """Up to ``batches`` batches of ``split``, on the model's device; checks pause/cancel between them."""
    device = model_device(model)
    loader = ctx.task.loader(split, batch_size, shuffle=split == "train", seed=ctx.recipe.seed)
    for i, batch in enumerate(loader):
        if batches is not None and i >= batches:
            break
        ctx.check()
        yield {k: v.to(device) for k, v in batch.items()}


@contextlib.contextmanager
def head_gates(model: nn.Module, gates: Sequence[torch.Tensor]):
    """Scale head ``h`` of layer ``l`` by ``gates[l][h]`` while the context is open."""
    handles = []
    adapter = adapter_for(model)
    for layer, gate in zip(adapter.layers(model), gates):
        size = adapter.head_size(layer)

        def pre_hook(module, args, gate=gate, size=size):
            context = args[0]
            scale = gate.to(context.dtype).repeat_interleave(size)
            return (context * scale,) + tuple(args[1:])

        handles.append(adapter.attention_output(layer).register_forward_pre_hook(pre_hook))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def layer_gates(model: nn.Module, gates: torch.Tensor):
    """Scale each layer's residual update: ``out = in + g * (layer(in) - in)``; ``g = 0`` skips the layer."""
    handles = []
    for i, layer in enumerate(_positional_layers(model)):

        def hook(module, args, kwargs, output, i=i):
            hidden = args[0] if args else kwargs["hidden_states"]
            out = output[0] if isinstance(output, tuple) else output
            gated = hidden + gates[i].to(out.dtype) * (out - hidden)
            return (gated,) + tuple(output[1:]) if isinstance(output, tuple) else gated

        handles.append(layer.register_forward_hook(hook, with_kwargs=True))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _positional_layers(model: nn.Module) -> list[nn.Module]:
    """The layer list, one per depth; refused where layers are shared across depths (ALBERT)."""
    from core.models.adapters import FamilyRefusal

    adapter = adapter_for(model)
    if adapter.shares_layers:
        raise FamilyRefusal(f"a {adapter.title} model uses each layer's weights at several depths; layers cannot be "
                            "gated or scored one by one")
    return adapter.layers(model)


def ones_head_gates(model: nn.Module, requires_grad: bool = False) -> list[torch.Tensor]:
    device = model_device(model)
    return [torch.ones(n, device=device, requires_grad=requires_grad) for n in head_counts(model)]


def _gradient_scores(model, batches, make_gates, gate_context, check_every=None) -> list[torch.Tensor]:
    """Sum of ``|d loss / d gate|`` over ``batches`` (model in eval mode; weights untouched)."""
    was_training = model.training
    model.eval()
    gates = make_gates()
    totals = [torch.zeros_like(g, requires_grad=False) for g in gates]
    try:
        for batch in batches:
            with gate_context(gates):
                loss = model(**batch).loss
            grads = torch.autograd.grad(loss, gates, allow_unused=True)
            for total, g in zip(totals, grads):
                if g is not None:
                    total += g.detach().abs()
    finally:
        model.train(was_training)
    return totals


def head_gradient_importance(model: nn.Module, batches) -> list[list[float]]:
    """Michel et al.'s head importance: accumulated ``|d loss / d head gate|`` per layer and head."""
    totals = _gradient_scores(
        model, batches, lambda: ones_head_gates(model, True), lambda gates: head_gates(model, gates)
    )
    return [t.cpu().tolist() for t in totals]


def layer_gradient_importance(model: nn.Module, batches) -> list[float]:
    """Accumulated ``|d loss / d layer gate|`` per layer."""
    n = len(_positional_layers(model))

    def make():
        return [torch.ones(n, device=model_device(model), requires_grad=True)]

    totals = _gradient_scores(model, batches, make, lambda gates: layer_gates(model, gates[0]))
    return totals[0].cpu().tolist()


def ffn_taylor_importance(model: nn.Module, batches) -> list[list[float]]:
    """First-order Taylor importance of each intermediate neuron: ``|sum_tokens activation x gradient|`` summed over sentences."""
    adapter = adapter_for(model)
    layers = adapter.layers(model)
    totals = [torch.zeros(w, device=model_device(model)) for w in ffn_widths(model)]
    was_training = model.training
    model.eval()
    handles = []
    acts: list[list[torch.Tensor]] = [[] for _ in layers]
    for i, layer in enumerate(layers):

        def pre_hook(module, args, i=i):
            acts[i].append(args[0])  # the activation the FFN output projection reads

        handles.append(adapter.ffn_output(layer).register_forward_pre_hook(pre_hook))
    try:
        for batch in batches:
            for a in acts:
                a.clear()
            mask = batch.get("attention_mask")
            loss = model(**batch).loss
            flat = [a for uses in acts for a in uses]
            grads = iter(torch.autograd.grad(loss, flat))
            for i, uses in enumerate(acts):
                for a in uses:
                    prod = (a.detach() * next(grads)).float()
                    if mask is not None:
                        prod = prod * mask[..., None].to(prod.dtype)
                    totals[i] += prod.sum(dim=1).abs().sum(dim=0)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return [t.cpu().tolist() for t in totals]


@torch.no_grad()
def ffn_magnitude_importance(model: nn.Module) -> list[list[float]]:
    """Weight-magnitude importance: ``||row of the FFN input|| x ||column of the FFN output||`` (gated: both halves)."""
    adapter = adapter_for(model)
    out = []
    for layer in adapter.layers(model):
        w_in = _dense_weight(adapter.ffn_input(layer)).float()
        w_out = _dense_weight(adapter.ffn_output(layer)).float()
        rows = w_in.norm(dim=1)
        if adapter.ffn.gated:
            width = adapter.ffn_width(layer)
            rows = rows[:width] * rows[width:]
        out.append((rows * w_out.norm(dim=0)).cpu().tolist())
    return out


def _dense_weight(module: nn.Module) -> torch.Tensor:
    """The effective weight matrix of a linear or low-rank linear layer."""
    if isinstance(module, nn.Linear):
        return module.weight
    if hasattr(module, "first") and hasattr(module, "second"):
        return module.second.weight @ module.first.weight
    raise TypeError(f"cannot read a weight matrix from {type(module).__name__}")


def normalise_rows(rows: Sequence[Sequence[float]]) -> list[list[float]]:
    """Divide each layer's scores by their L2 norm (Michel et al.), so layers compare on one scale."""
    out = []
    for row in rows:
        t = torch.tensor(row, dtype=torch.float64)
        norm = float(t.norm())
        out.append((t / norm).tolist() if norm > 0 else t.tolist())
    return out


def scale_rows(rows: Sequence[Sequence[float]]) -> list[list[float]]:
    """Rescale all scores into [0, 1] by the largest one, negatives to 0 (for display as a mask heat map)."""
    top = max((max(r) for r in rows if len(r)), default=0.0)
    return [[max(0.0, v / top) if top > 0 else 0.0 for v in row] for row in rows]
