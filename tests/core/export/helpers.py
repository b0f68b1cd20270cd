"""Model surgery and comparison helpers for the export tests (independent of the real prune methods)."""

from __future__ import annotations

import torch
import torch.nn as nn


def slice_linear(linear: nn.Linear, keep: list[int], dim: int) -> nn.Linear:
    """A smaller copy of ``linear`` keeping output rows (dim 0) or input columns (dim 1)."""
    index = torch.tensor(keep)
    weight = linear.weight.detach().index_select(dim, index)
    out = nn.Linear(weight.shape[1], weight.shape[0], bias=linear.bias is not None)
    with torch.no_grad():
        out.weight.copy_(weight)
        if linear.bias is not None:
            out.bias.copy_(linear.bias if dim == 1 else linear.bias[index])
    return out


def prune_layer(model, layer: int, heads: list[int] | None = None, ffn: int | None = None) -> None:
    """Keep ``heads`` of one layer's attention and its first ``ffn`` intermediate neurons."""
    block = model.bert.encoder.layer[layer]
    if heads is not None:
        att = block.attention
        size = att.self.attention_head_size
        keep = [h * size + i for h in heads for i in range(size)]
        for name in ("query", "key", "value"):
            setattr(att.self, name, slice_linear(getattr(att.self, name), keep, 0))
        att.output.dense = slice_linear(att.output.dense, keep, 1)
        att.self.num_attention_heads = len(heads)
        att.self.all_head_size = len(keep)
    if ffn is not None:
        block.intermediate.dense = slice_linear(block.intermediate.dense, list(range(ffn)), 0)
        block.output.dense = slice_linear(block.output.dense, list(range(ffn)), 1)


def logits(model, batch) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(**batch).logits


def spread_classifier(model, scale: float = 20.0) -> None:
    """Widen the random classifier's margins so class agreement under int8 noise is meaningful."""
    with torch.no_grad():
        model.classifier.weight.mul_(scale)
