"""Distillation losses: soft targets at a temperature, hidden-state and attention-map matching.

All functions take float tensors and return scalars; padding is excluded with
the batch's attention mask so short sentences weigh the same as long ones.

:func:`task_distillation_loss` picks the soft-target term for the task kind (its outputs, as the HF heads give
them): a distribution over classes (KL at a temperature), one per token (KL on real, labelled tokens), one over
start and one over end positions (their KLs averaged), a score (MSE to the teacher's) or independent labels
(BCE against the teacher's sigmoid at a temperature).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.tasks.kinds import TaskKind

TARGETS = ("labels", "start_positions", "end_positions")  # the batch keys the heads read as targets
IGNORED = -100  # token classification: positions the loss skips (padding, a word's later pieces)


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) on temperature-softened distributions, scaled by T^2 (Hinton et al.).

    The T^2 factor keeps the gradient size independent of the temperature.
    """
    t = float(temperature)
    log_p_student = F.log_softmax(student_logits.float() / t, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits.float() / t, dim=-1)
    return F.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="batchmean") * (t * t)


def logit_mse(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Mean squared error between the raw logits (Tang et al. 2019: no temperature, no softmax)."""
    return F.mse_loss(student_logits.float(), teacher_logits.float())


SOFT_LOSSES = ("kl", "mse")


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None,
                      temperature: float, alpha: float, soft: str = "kl") -> dict[str, torch.Tensor]:
    """``alpha * CE(labels) + (1 - alpha) * KD``: alpha 0 is pure distillation, alpha 1 plain fine-tuning.

    KD is the KL at ``temperature`` (``soft="kl"``) or the MSE between logits (``"mse"``). Returns
    ``{"loss", "kd", "ce"}``; without labels the CE term is zero and KD gets the full weight. Rows labelled
    -100 (a transfer set's augmented sentences, which only the teacher labels) are left out of CE.
    """
    kd = logit_mse(student_logits, teacher_logits) if soft == "mse" else kd_loss(student_logits, teacher_logits,
                                                                                  temperature)
    if labels is None:
        return {"loss": kd, "kd": kd, "ce": torch.zeros_like(kd)}
    keep = labels != IGNORED
    if not bool(keep.all()):
        if not bool(keep.any()):
            return {"loss": (1.0 - alpha) * kd, "kd": kd, "ce": torch.zeros_like(kd)}
        student_logits, labels = student_logits[keep], labels[keep]
    ce = F.cross_entropy(student_logits.float(), labels)
    return {"loss": alpha * ce + (1.0 - alpha) * kd, "kd": kd, "ce": ce}


def _token_weights(attention_mask: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    if attention_mask is None:
        return torch.ones(like.shape[:2], device=like.device, dtype=like.dtype)
    return attention_mask.to(like.dtype)


def hidden_loss(student: torch.Tensor, teacher: torch.Tensor, attention_mask: torch.Tensor | None,
                kind: str = "mse") -> torch.Tensor:
    """Per-token distance between (projected) student and teacher hidden states, padding excluded.

    ``mse`` is TinyBERT's mean squared error per feature; ``cosine`` is DistilBERT's 1 - cos.
    """
    w = _token_weights(attention_mask, student)
    if kind == "cosine":
        per_token = 1.0 - F.cosine_similarity(student.float(), teacher.float(), dim=-1)
    elif kind == "mse":
        per_token = (student.float() - teacher.float()).pow(2).mean(-1)
    else:
        raise ValueError(f"unknown hidden-state loss {kind!r}")
    return (per_token * w).sum() / w.sum().clamp_min(1.0)


def attention_loss(student: torch.Tensor, teacher: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """MSE between attention probabilities (batch, heads, query, key) over real query rows."""
    w = _token_weights(attention_mask, student)  # (batch, query)
    per_row = (student.float() - teacher.float()).pow(2).sum(-1)  # (batch, heads, query)
    per_row = per_row * w[:, None, :]
    return per_row.sum() / (w.sum().clamp_min(1.0) * student.shape[1])


def token_kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float,
                  keep: torch.Tensor) -> torch.Tensor:
    """Per-token KL(teacher || student) at temperature ``T`` (x T^2), averaged over the tokens where ``keep``."""
    t = float(temperature)
    log_p_student = F.log_softmax(student_logits.float() / t, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits.float() / t, dim=-1)
    per_token = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(-1)  # (batch, tokens)
    w = keep.to(per_token.dtype)
    return (per_token * w).sum() / w.sum().clamp_min(1.0) * (t * t)


def token_logit_mse(student_logits: torch.Tensor, teacher_logits: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Tang et al.'s MSE between raw logits, per token: averaged over the tokens where ``keep``."""
    per_token = (student_logits.float() - teacher_logits.float()).pow(2).mean(-1)
    w = keep.to(per_token.dtype)
    return (per_token * w).sum() / w.sum().clamp_min(1.0)


def _masked_positions(logits: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Start / end logits with padding positions out of the distribution (a finite floor keeps KL at 0 there)."""
    logits = logits.float()
    if attention_mask is None:
        return logits
    return logits.masked_fill(attention_mask == 0, -1e9)


def span_ce(start: torch.Tensor, end: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """The QA head's own loss: mean of the start and end cross-entropies, positions past the input ignored."""
    ignored = start.size(1)
    starts, ends = starts.clamp(0, ignored), ends.clamp(0, ignored)
    return (F.cross_entropy(start.float(), starts, ignore_index=ignored)
            + F.cross_entropy(end.float(), ends, ignore_index=ignored)) / 2


def task_distillation_loss(kind: TaskKind | str, student, teacher, batch: dict, temperature: float,
                           alpha: float, soft_loss: str = "kl") -> dict[str, torch.Tensor]:
    """``alpha * hard + (1 - alpha) * soft`` for a task ``kind``, from the student's and teacher's model outputs.

    - sequence classification: :func:`distillation_loss` (CE on the labels, KL at T x T^2);
    - token classification: per-token KL at T (x T^2) over real tokens whose label is not -100 (all real tokens
      without labels), and the token CE with -100 ignored;
    - question answering: the mean of the start and the end KL at T (x T^2), padding outside both
      distributions, and the mean of the start and end CE;
    - regression: MSE to the teacher's outputs (no temperature: a score has no distribution to soften), and MSE
      to the targets;
    - multi-label: per-label BCE of ``sigmoid(student / T)`` against ``sigmoid(teacher / T)`` (x T^2), and BCE
      against the 0/1 targets.

    ``soft_loss="mse"`` (Tang et al.) matches the raw logits by MSE instead, for the sentence-level kinds
    (classification, regression, multi-label) and per token (real, labelled tokens, as the KL).

    Returns ``{"loss", "kd", "ce"}`` (``ce``: the hard-label term, whatever its form); without targets the soft
    term gets the full weight.
    """
    kind = TaskKind.parse(kind)
    t = float(temperature)
    mask = batch.get("attention_mask")
    if kind is TaskKind.SEQUENCE_CLASSIFICATION:
        return distillation_loss(student.logits, teacher.logits, batch.get("labels"), t, alpha, soft_loss)
    if soft_loss == "mse" and kind is TaskKind.QUESTION_ANSWERING:
        raise ValueError("MSE on logits is for sentence and token tasks; a question-answering task distils with kl")
    hard = None
    if kind is TaskKind.TOKEN_CLASSIFICATION:
        labels = batch.get("labels")
        keep = torch.ones(student.logits.shape[:2], dtype=torch.bool, device=student.logits.device)
        if mask is not None:
            keep &= mask.bool()
        if labels is not None:
            keep &= labels != IGNORED
            hard = F.cross_entropy(student.logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORED)
        soft = (token_logit_mse(student.logits, teacher.logits, keep) if soft_loss == "mse" else
                token_kd_loss(student.logits, teacher.logits, t, keep))
    elif kind is TaskKind.QUESTION_ANSWERING:
        sides = [kd_loss(_masked_positions(getattr(student, side), mask), _masked_positions(getattr(teacher, side), mask),
                         t) for side in ("start_logits", "end_logits")]
        soft = (sides[0] + sides[1]) / 2
        if batch.get("start_positions") is not None and batch.get("end_positions") is not None:
            hard = span_ce(student.start_logits, student.end_logits, batch["start_positions"], batch["end_positions"])
    elif kind is TaskKind.REGRESSION:
        out = student.logits.float().reshape(student.logits.shape[0], -1)
        soft = F.mse_loss(out, teacher.logits.float().reshape(out.shape))
        if batch.get("labels") is not None:
            hard = F.mse_loss(out, batch["labels"].float().reshape(out.shape))
    elif soft_loss == "mse":  # multi-label, as Tang et al. match logits
        soft = logit_mse(student.logits, teacher.logits)
        if batch.get("labels") is not None:
            hard = F.binary_cross_entropy_with_logits(student.logits.float(), batch["labels"].float())
    else:  # multi-label
        soft = F.binary_cross_entropy_with_logits(student.logits.float() / t, torch.sigmoid(teacher.logits.float() / t)
                                                  ) * (t * t)
        if batch.get("labels") is not None:
            hard = F.binary_cross_entropy_with_logits(student.logits.float(), batch["labels"].float())
    if hard is None:
        return {"loss": soft, "kd": soft, "ce": torch.zeros_like(soft)}
    return {"loss": alpha * hard + (1.0 - alpha) * soft, "kd": soft, "ce": hard}
