"""``distill.task_agnostic``: general distillation on unlabelled sentences.

The student learns to reproduce the teacher's hidden states (and optionally
its attention maps) layer by layer, as TinyBERT's general distillation (MSE) or
DistilBERT's cosine loss; no labels and no logits are used. The sentences are
the task's training split with its labels ignored, or a text file with one
sentence per line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from core.engine.training import TrainSettings, train_model
from core.errors import StudioError
from core.methods.distillation.losses import TARGETS
from core.methods.distillation.matching import (
    Matcher, RunningMeans, attached, check_int_list, eager_attention, frozen_teacher, hidden_width, num_layers,
    resolve_layer_map,
)
from core.registry import register_method, setting


@dataclass
class TaskAgnosticSettings(TrainSettings):
    text_file: str = setting("", "Text file with one sentence per line (empty: the task's training sentences, "
                             "labels ignored)")
    max_sentences: int | None = setting(None, "Use at most this many sentences (empty: all)", min=1, optional=True)
    loss: str = setting("mse", "Hidden-state distance: mse (TinyBERT) or cosine (DistilBERT)", choices=("mse", "cosine"))
    attention_weight: float = setting(0.0, "Weight of attention-map matching where head counts agree (0: off)",
                                      min=0.0, max=1000.0)
    match_embeddings: bool = setting(True, "Match the embedding layer's output too")
    layer_map: list[int] = setting([], "Teacher layer (0-based) each student layer imitates (empty: uniform)")

    def validate(self):
        return check_int_list("layer_map", self.layer_map)


def read_sentences(path: str, limit: int | None = None) -> list[str]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise StudioError(f"no text file at {file}")
    try:
        lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
    except UnicodeDecodeError:
        raise StudioError(f"{file} is not UTF-8 text") from None
    lines = [line for line in lines if line]
    if not lines:
        raise StudioError(f"{file} has no sentences")
    return lines[:limit] if limit else lines


def unlabelled_split(ctx, cfg: TaskAgnosticSettings):
    """Tokenized sentences without labels, in the task's format."""
    if cfg.text_file:
        import datasets

        sentences = read_sentences(cfg.text_file, cfg.max_sentences)
        max_length = ctx.recipe.data.max_length if ctx.recipe else 128
        ds = datasets.Dataset.from_dict({"text": sentences})
        return ds.map(lambda b: ctx.task.tokenizer(b["text"], truncation=True, max_length=max_length),
                      batched=True, remove_columns=["text"])
    ds = ctx.task.train
    ds = ds.remove_columns([c for c in ds.column_names if c in TARGETS])
    if cfg.max_sentences and cfg.max_sentences < len(ds):
        ds = ds.select(range(cfg.max_sentences))
    return ds


def make_loss(teacher, cfg: TaskAgnosticSettings, matcher: Matcher, means: RunningMeans | None = None):
    want_attn = cfg.attention_weight > 0

    def compute_loss(model, batch):
        inputs = {k: v for k, v in batch.items() if k not in TARGETS}
        extra = {"output_hidden_states": True, "output_attentions": want_attn}
        out = model(**inputs, **extra)
        with torch.no_grad():
            t_out = teacher(**inputs, **extra)
        report: dict = {}
        loss = matcher.weighted_loss(out, t_out, inputs.get("attention_mask"), 1.0, cfg.attention_weight, report)
        if means is not None:
            means.add(report)
        return loss

    return compute_loss


@register_method(
    "distill.task_agnostic",
    family="distillation",
    title="Distil (task-agnostic)",
    description="General distillation on unlabelled sentences: the student imitates the teacher's hidden states "
    "(and optionally attention maps) layer by layer. Usually followed by distill.train.",
    config=TaskAgnosticSettings,
    trains=True,
    phrase="distil (general)",
)
def distill_task_agnostic(state, cfg: TaskAgnosticSettings, ctx):
    student = state.model
    teacher = frozen_teacher(ctx, student, attentions=cfg.attention_weight > 0)
    mapping = resolve_layer_map(cfg.layer_map, num_layers(student), num_layers(teacher))
    matcher = Matcher(hidden_width(student), hidden_width(teacher), mapping, cfg.loss, cfg.match_embeddings)
    ctx.log(f"general distillation layer map (student -> teacher): {mapping}")
    sentences = unlabelled_split(ctx, cfg)
    means = RunningMeans(ctx, "distill")
    data = dataclasses.replace(ctx.task, train=sentences)  # this step's own data; the run's stays as it is
    with eager_attention(student, cfg.attention_weight > 0), attached(student, matcher):
        student = train_model(ctx, student, cfg, data, compute_loss=make_loss(teacher, cfg, matcher, means),
                              masks=state.masks, prefix="distill")
    means.flush()
    return state.replace(model=student)
