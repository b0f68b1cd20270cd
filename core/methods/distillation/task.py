"""``distill.train``: task-specific knowledge distillation on the labelled training split.

Loss = alpha * CE(labels) + (1 - alpha) * T^2 * KL(teacher_T || student_T) for sentence classification; each task
kind has its own terms (:func:`core.methods.distillation.losses.task_distillation_loss`: per token, over start and
end positions, MSE for regression, BCE for multi-label),
or the MSE between logits (``soft_loss: mse``, as Tang et al. 2019 distil into a BiLSTM), optionally on a transfer set
of augmented training sentences labelled by the teacher only (:mod:`core.methods.distillation.transfer`),
plus optional intermediate terms: hidden-state matching (through a learned
projection when widths differ) and attention-map matching (where head counts
agree), with a layer map that defaults to uniform spacing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.engine.training import TrainSettings, train_model
from core.data.augment import Augmentation
from core.methods.distillation.losses import SOFT_LOSSES, TARGETS, task_distillation_loss
from core.methods.distillation.matching import (
    Matcher, RunningMeans, attached, check_int_list, eager_attention, frozen_teacher, hidden_width, num_layers,
    resolve_layer_map,
)
from core.methods.distillation.transfer import with_transfer_set
from core.models.student_families import STUDENT_FAMILIES
from core.registry import Refusal, register_method, setting


@dataclass
class DistillSettings(TrainSettings):
    temperature: float = setting(2.0, "Softening temperature T of both distributions (the KD term is scaled by T^2; "
                                 "a regression's scores are matched as they are)", min=0.1, max=100.0)
    alpha: float = setting(0.5, "Weight of the hard-label loss (cross-entropy; MSE for regression, BCE for "
                           "multi-label); 1 - alpha goes to the teacher's soft "
                           "targets (0: pure distillation, 1: plain fine-tuning)", min=0.0, max=1.0)
    hidden_weight: float = setting(0.0, "Weight of hidden-state matching (0: off)", min=0.0, max=1000.0)
    attention_weight: float = setting(0.0, "Weight of attention-map matching where head counts agree (0: off)",
                                      min=0.0, max=1000.0)
    layer_map: list[int] = setting([], "Teacher layer (0-based) each student layer imitates (empty: uniform, "
                                   "student layer i -> teacher layer round((i+1)*Lt/Ls)-1)")
    soft_loss: str = setting("kl", "How the teacher's outputs are matched: kl (KL at the temperature) or mse (mean "
                             "squared error between logits, as Tang et al. 2019; per token for token classification)",
                             choices=SOFT_LOSSES)
    augment_copies: int = setting(0, "Transfer set (Tang et al. 2019; sentence classification): augmented copies "
                                  "tried per training sentence, labelled by the teacher only (0: off)", min=0, max=100)
    augment_mask_p: float = setting(0.1, "Transfer set: probability that a word becomes the mask token",
                                    min=0.0, max=1.0)
    augment_pos_p: float = setting(0.1, "Transfer set: probability that a word becomes another word of its kind (the "
                                   "words most often seen after the same word stand in for a part-of-speech tag)",
                                   min=0.0, max=1.0)
    augment_ngram_p: float = setting(0.25, "Transfer set: probability that a copy is cut to a random n-gram of it "
                                     "(n from 1 to 5)", min=0.0, max=1.0)

    def validate(self):
        problems = check_int_list("layer_map", self.layer_map)
        both = self.augment_mask_p + self.augment_pos_p
        if both > 1.0:
            problems.append(("augment_pos_p", f"augment_mask_p + augment_pos_p is {both:g}; a word takes one of the "
                                              "two, so at most 1"))
        return problems

    def augmentation(self) -> Augmentation:
        return Augmentation(self.augment_copies, self.augment_mask_p, self.augment_pos_p, self.augment_ngram_p)


def build_matcher(student, teacher, cfg, hidden_kind: str = "mse") -> Matcher | None:
    if not (cfg.hidden_weight > 0 or cfg.attention_weight > 0):
        return None
    mapping = resolve_layer_map(cfg.layer_map, num_layers(student), num_layers(teacher))
    return Matcher(hidden_width(student), hidden_width(teacher), mapping, hidden_kind)


def make_loss(teacher, cfg: DistillSettings, matcher: Matcher | None, means: RunningMeans | None = None,
              kind: str = "sequence-classification"):
    """The ``compute_loss(model, batch)`` that :func:`train_model` calls, for a task ``kind``."""
    want_hidden = matcher is not None and cfg.hidden_weight > 0
    want_attn = matcher is not None and cfg.attention_weight > 0

    def compute_loss(model, batch):
        inputs = {k: v for k, v in batch.items() if k not in TARGETS}
        extra = {"output_hidden_states": want_hidden, "output_attentions": want_attn}
        out = model(**inputs, **extra)
        with torch.no_grad():
            t_out = teacher(**inputs, **extra)
        parts = task_distillation_loss(kind, out, t_out, batch, cfg.temperature, cfg.alpha, cfg.soft_loss)
        loss = parts["loss"]
        report = {"kd_loss": parts["kd"], "ce_loss": parts["ce"]}
        if matcher is not None:
            loss = loss + matcher.weighted_loss(out, t_out, inputs.get("attention_mask"), cfg.hidden_weight,
                                                cfg.attention_weight, report)
        if means is not None:
            means.add(report)
        return loss

    return compute_loss


@register_method(
    "distill.train",
    family="distillation",
    title="Distil (task-specific)",
    description="Train the current model (the student) to match the fine-tuned teacher's soft predictions, mixed with "
    "the true labels (per token, over answer start and end, MSE for scores, BCE per label: the task's own terms); "
    "optionally match hidden states and attention maps layer by layer.",
    config=DistillSettings,
    trains=True,
    phrase=lambda s: "distil" + (" + transfer set" if s.augment_copies else ""),
    needs_adapter=False,  # on logits alone any student applies (a BiLSTM, a CNN); matching needs layers, refused below
    refuses=[Refusal(tuple(STUDENT_FAMILIES), f"{name} matches transformer layers; this student has none: distil on "
                     "its logits (soft_loss kl or mse)", name, "above 0", test=lambda v: float(v) > 0)
             for name in ("hidden_weight", "attention_weight")]
    + [Refusal((), "the answer's start and end are two distributions over the positions of a question read with "
               "its context, matched by KL", "soft_loss", "mse", tasks=("question-answering",)),
       Refusal((), "the transfer set labels augmented sentences with the teacher's classes; this task distils on its "
               "own training split (augment_copies: 0)", "augment_copies", "above 0", test=lambda v: int(v) > 0,
               tasks=("token-classification", "question-answering", "regression", "multi-label"))],
)
def distill_train(state, cfg: DistillSettings, ctx):
    from core.applicability import task_of

    kind = task_of(ctx.task)
    student = state.model
    teacher = frozen_teacher(ctx, student, attentions=cfg.attention_weight > 0)
    matcher = build_matcher(student, teacher, cfg)
    if matcher is not None:
        ctx.log(f"distillation layer map (student -> teacher): {matcher.layer_map}")
    data = ctx.task
    if cfg.augment_copies:
        max_length = ctx.recipe.data.max_length if ctx.recipe else 128
        data, added = with_transfer_set(ctx.task, cfg.augmentation(), ctx.recipe.seed if ctx.recipe else 0, max_length)
        ctx.log(f"transfer set: {added:,} augmented sentences beside {len(ctx.task.train):,} training sentences, "
                "labelled by the teacher only")
    means = RunningMeans(ctx, "distill")
    with eager_attention(student, cfg.attention_weight > 0), attached(student, matcher):
        loss = make_loss(teacher, cfg, matcher, means, kind)
        student = train_model(ctx, student, cfg, data, compute_loss=loss,
                              masks=state.masks, prefix="distill")
    means.flush()
    if matcher is not None and matcher.skipped_attention:
        ctx.log(f"attention maps not matched for student layers {sorted(matcher.skipped_attention)}: "
                "their head counts differ from the teacher's", level="warning")
    return state.replace(model=student)
