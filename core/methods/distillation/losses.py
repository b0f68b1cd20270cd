"""Distillation losses: soft targets at a temperature, hidden-state and attention-map matching.

All functions take float tensors and return scalars; padding is excluded with
the batch's attention mask so short sentences weigh the same as long ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) on temperature-softened distributions, scaled by T^2 (Hinton et al.).

    The T^2 factor keeps the gradient size independent of the temperature.
    """
    t = float(temperature)
    log_p_student = F.log_softmax(student_logits.float() / t, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits.float() / t, dim=-1)
    return F.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="batchmean") * (t * t)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None,
                      temperature: float, alpha: float) -> dict[str, torch.Tensor]:
    """``alpha * CE(labels) + (1 - alpha) * KD``: alpha 0 is pure distillation, alpha 1 plain fine-tuning.

    Returns ``{"loss", "kd", "ce"}``; without labels the CE term is zero and KD gets the full weight.
    """
    kd = kd_loss(student_logits, teacher_logits, temperature)
    if labels is None:
        return {"loss": kd, "kd": kd, "ce": torch.zeros_like(kd)}
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
