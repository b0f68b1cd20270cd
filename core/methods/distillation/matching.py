"""Shared machinery of the distillation methods: the frozen teacher, layer maps and intermediate matching."""

from __future__ import annotations

import contextlib
import copy
import math
from typing import Iterator

import torch
import torch.nn as nn

from core.errors import StudioError
from core.methods.distillation.losses import attention_loss, hidden_loss
from core.models.adapters import adapter_for

MATCHER_ATTR = "_distill_matcher"  # projections live on the student while it trains, so the optimiser sees them


def num_layers(model: nn.Module) -> int:
    return adapter_for(model).depth(model)  # ALBERT: depths, not layers of weights


def hidden_width(model: nn.Module) -> int:
    return int(model.config.hidden_size)


def uniform_layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    """Student layer i learns from teacher layer round((i+1) * Lt / Ls) - 1 (halves round up).

    The last student layer always maps to the last teacher layer.
    """
    return [max(0, int(math.floor((i + 1) * teacher_layers / student_layers + 0.5)) - 1) for i in range(student_layers)]


def resolve_layer_map(user_map: list, student_layers: int, teacher_layers: int) -> list[int]:
    if not user_map:
        return uniform_layer_map(student_layers, teacher_layers)
    mapping = [int(v) for v in user_map]
    if len(mapping) != student_layers:
        raise StudioError(f"the layer map has {len(mapping)} entries but the student has {student_layers} layers")
    bad = [v for v in mapping if not 0 <= v < teacher_layers]
    if bad:
        raise StudioError(f"layer map entries {bad} are not teacher layers (0 to {teacher_layers - 1})")
    return mapping


def check_int_list(name: str, values: list) -> list[tuple[str, str]]:
    """Settings-time check that a list holds whole numbers >= 0 (the recipe validator calls this)."""
    try:
        ints = [int(v) for v in values]
    except (TypeError, ValueError):
        return [(name, f"expected whole numbers, got {values!r}")]
    if any(v < 0 for v in ints) or any(isinstance(v, float) and not v.is_integer() for v in values):
        return [(name, f"expected whole numbers >= 0, got {values!r}")]
    return []


@contextlib.contextmanager
def eager_attention(model: nn.Module, needed: bool = True) -> Iterator[None]:
    """Switch ``model`` to eager attention (the only kind that returns attention maps) and back."""
    config = getattr(model, "config", None)
    if not needed or config is None:
        yield
        return
    before = config._attn_implementation
    config._attn_implementation = "eager"
    try:
        yield
    finally:
        config._attn_implementation = before


def frozen_teacher(ctx, student: nn.Module, attentions: bool = False) -> nn.Module:
    """The teacher in eval mode on the run's device, never trained.

    A private copy is made when the teacher must change (device, eager attention)
    or is the very model being trained, so the run's baseline is left as it was.
    """
    ref = ctx.teacher
    if ref is None:
        raise StudioError("distillation needs a teacher: the run has no baseline or loaded model")
    teacher = ref.model
    if getattr(ref, "quantized", False):
        raise StudioError("the teacher is quantized; distil from a float model")
    device = next(teacher.parameters()).device
    if teacher is student or device != ctx.device or attentions:
        teacher = copy.deepcopy(teacher).to(ctx.device)
        for p in teacher.parameters():
            p.requires_grad_(False)
        if attentions:
            teacher.config._attn_implementation = "eager"
    teacher.eval()
    return teacher


class Matcher(nn.Module):
    """Intermediate-layer matching: hidden states through a learned projection when widths differ,
    attention maps where head counts agree.

    ``layer_map[i]`` is the teacher layer that student layer i imitates; hidden
    state 0 (the embeddings) is matched to the teacher's embeddings too, as in TinyBERT.
    """

    def __init__(self, student_width: int, teacher_width: int, layer_map: list[int], hidden_kind: str = "mse",
                 match_embeddings: bool = True):
        super().__init__()
        self.layer_map = list(layer_map)
        self.hidden_kind = hidden_kind
        self.match_embeddings = match_embeddings
        # Identity when widths agree: an extra learned map would let the student drift from the teacher's space.
        self.proj = nn.Linear(student_width, teacher_width, bias=False) if student_width != teacher_width else nn.Identity()
        self.skipped_attention: set[int] = set()

    def hidden(self, student_states, teacher_states, attention_mask) -> torch.Tensor:
        pairs = [(i + 1, t + 1) for i, t in enumerate(self.layer_map)]
        if self.match_embeddings:
            pairs.insert(0, (0, 0))
        losses = [hidden_loss(self.proj(student_states[s]), teacher_states[t], attention_mask, self.hidden_kind)
                  for s, t in pairs]
        return torch.stack(losses).mean()

    def attention(self, student_maps, teacher_maps, attention_mask) -> torch.Tensor | None:
        losses = []
        for i, t in enumerate(self.layer_map):
            s_map, t_map = student_maps[i], teacher_maps[t]
            if s_map.shape != t_map.shape:
                self.skipped_attention.add(i)
                continue
            losses.append(attention_loss(s_map, t_map, attention_mask))
        return torch.stack(losses).mean() if losses else None

    def weighted_loss(self, out, t_out, attention_mask, hidden_weight: float, attention_weight: float,
                      report: dict) -> torch.Tensor | float:
        """Hidden-state and attention-map losses, weighted and summed; each part also goes into ``report``."""
        loss: torch.Tensor | float = 0.0
        if hidden_weight > 0:
            h = self.hidden(out.hidden_states, t_out.hidden_states, attention_mask)
            loss = loss + hidden_weight * h
            report["hidden_loss"] = h
        if attention_weight > 0:
            a = self.attention(out.attentions, t_out.attentions, attention_mask)
            if a is not None:
                loss = loss + attention_weight * a
                report["attention_loss"] = a
        return loss


@contextlib.contextmanager
def attached(student: nn.Module, matcher: Matcher | None) -> Iterator[None]:
    """Hang the matcher on the student for the optimiser; always take it off again."""
    if matcher is None:
        yield
        return
    device = next(student.parameters()).device
    student.add_module(MATCHER_ATTR, matcher.to(device))
    try:
        yield
    finally:
        if hasattr(student, MATCHER_ATTR):
            delattr(student, MATCHER_ATTR)


class RunningMeans:
    """Averages of the loss parts, reported every ``every`` steps (the event stream stays light)."""

    def __init__(self, ctx, prefix: str, every: int = 10):
        self.ctx, self.prefix, self.every = ctx, prefix, every
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, parts: dict[str, torch.Tensor]) -> None:
        for key, value in parts.items():
            if value is not None:
                self.sums[key] = self.sums.get(key, 0.0) + float(value.detach())
        self.count += 1
        if self.count >= self.every:
            self.flush()

    def flush(self) -> None:
        from core.engine import distributed  # several processes: the mean over all of them (flushes line up)

        means = distributed.mean({key: total / max(1, self.count) for key, total in self.sums.items()})
        for key, value in means.items():
            self.ctx.metric(f"{self.prefix}/{key}", value)
        self.sums, self.count = {}, 0
