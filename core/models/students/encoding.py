"""What both students do around their encoder: read the segments, pool over time, combine a pair, the loss.

Everything here is independent of how much padding a batch carries (a sentence's logits are the same alone
or in a padded batch of 32), and made of operations the ONNX exporter handles (gather, sort, where): no
packed sequences.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers.modeling_outputs import SequenceClassifierOutput

NEG = -1e4  # below any pooled activation, finite so a segment without tokens stays finite (it is then zeroed)


def segments(input_ids: torch.Tensor, attention_mask: torch.Tensor | None, token_type_ids: torch.Tensor | None,
             pair: bool) -> list[torch.Tensor]:
    """The boolean masks of the texts to encode: the whole input, or (a pair) the first and the second text."""
    mask = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
    if not pair:
        return [mask]
    types = torch.zeros_like(input_ids) if token_type_ids is None else token_type_ids
    return [mask & (types == 0), mask & (types != 0)]


def compact(x: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` (batch, time, width) with the positions ``keep`` moved to the front in order; returns it and the
    lengths. The rest is zeroed, so what follows a text is the same whatever it was."""
    time = x.shape[1]
    positions = torch.arange(time, device=x.device).unsqueeze(0)
    key = (~keep).long() * time + positions  # kept positions first, each group in order
    order = torch.sort(key, dim=1).indices
    lengths = keep.long().sum(1)
    moved = torch.gather(x, 1, order.unsqueeze(-1).expand(-1, -1, x.shape[2]))
    valid = positions < lengths.unsqueeze(1)
    return moved * valid.unsqueeze(-1).to(moved.dtype), lengths


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each row's first ``length`` positions in reverse order (the rest stays): the backward LSTM's input."""
    time = x.shape[1]
    positions = torch.arange(time, device=x.device).unsqueeze(0)
    last = lengths.unsqueeze(1) - 1
    index = torch.where(positions <= last, last - positions, positions)
    return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[2]))


def max_over_time(h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The maximum of each feature over a row's first ``length`` positions; zeros for an empty row."""
    positions = torch.arange(h.shape[1], device=h.device).unsqueeze(0)
    valid = (positions < lengths.unsqueeze(1)).unsqueeze(-1)
    pooled = h.masked_fill(~valid, NEG).max(dim=1).values
    return pooled * (lengths > 0).unsqueeze(1).to(pooled.dtype)


def combine(parts: list[torch.Tensor]) -> torch.Tensor:
    """One text's features as they are; a pair's as ``[u, v, |u - v|, u * v]`` (Tang et al., after InferSent)."""
    if len(parts) == 1:
        return parts[0]
    u, v = parts
    return torch.cat([u, v, (u - v).abs(), u * v], dim=-1)


def features_width(encoded: int, pair: bool) -> int:
    return encoded * 4 if pair else encoded


def task_loss(config, logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
    """The loss the transformers heads compute for a sentence task: MSE for one output, BCE for multi-label,
    cross-entropy otherwise."""
    if labels is None:
        return None
    if config.num_labels == 1 or config.problem_type == "regression":
        return F.mse_loss(logits.squeeze(-1).float(), labels.float().view(-1))
    if config.problem_type == "multi_label_classification":
        return F.binary_cross_entropy_with_logits(logits.float(), labels.float())
    return F.cross_entropy(logits.float().view(-1, config.num_labels), labels.view(-1))


def output(config, logits: torch.Tensor, labels: torch.Tensor | None) -> SequenceClassifierOutput:
    return SequenceClassifierOutput(loss=task_loss(config, logits, labels), logits=logits)
