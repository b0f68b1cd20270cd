"""``distill.student_init``: build a smaller student from the teacher (no training here).

Either keep chosen teacher layers (every other one by default, as DistilBERT
does) with their exact weights, or make a fresh, smaller configuration whose
embeddings start from the teacher's (copied when widths agree, projected onto
their principal directions when the student is narrower).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn as nn

from core.errors import StudioError
from core.methods.distillation.matching import check_int_list
from core.methods.pruning.masks import MASKS_KEY
from core.models.architecture import count_parameters, encoder_of
from core.registry import register_method, setting

STUDENT_KEY = "student"  # state.extras: how the student was made (plain data)


@dataclass
class StudentInitSettings:
    mode: str = setting("layers", "Keep chosen teacher layers, or build a smaller random configuration",
                        choices=("layers", "config"))
    source: str = setting("teacher", "Take the layers from the fine-tuned teacher, or from the model as it is at this "
                          "point of the stack (after pruning, say)", choices=("teacher", "current"))
    keep_layers: list[int] = setting([], "Teacher layers to keep, 0-based (empty: every other layer, 0, 2, 4...)")
    num_layers: int = setting(3, "Config mode: encoder layers of the student", min=1, max=48)
    hidden_size: int | None = setting(None, "Config mode: hidden width (empty: the teacher's)", min=8, max=8192, optional=True)
    num_heads: int | None = setting(None, "Config mode: attention heads (empty: the teacher's)", min=1, max=128, optional=True)
    intermediate_size: int | None = setting(None, "Config mode: FFN width (empty: the teacher's)", min=8, max=32768, optional=True)
    init_embeddings: bool = setting(True, "Config mode: start the embeddings from the teacher's (copied, or projected "
                                    "when the student is narrower) instead of random")

    def validate(self):
        return check_int_list("keep_layers", self.keep_layers)


def every_other_layer(n: int) -> list[int]:
    return list(range(0, n, 2))


def student_from_layers(model: nn.Module, keep: list[int]) -> nn.Module:
    """A copy of ``model`` whose encoder keeps only layers ``keep`` (in that order), weights untouched."""
    n = len(encoder_of(model).layer)
    bad = [i for i in keep if not 0 <= i < n]
    if bad or not keep:
        raise StudioError(f"layers to keep must be between 0 and {n - 1}; got {keep}")
    student = copy.deepcopy(model)  # deepcopy keeps modules shared between positions shared
    enc = encoder_of(student)
    enc.layer = nn.ModuleList([enc.layer[i] for i in keep])
    student.config.num_hidden_layers = len(keep)
    return student


def _project_embeddings(teacher_emb: nn.Module, student_emb: nn.Module) -> None:
    """Copy the teacher's embedding tables, or project them onto their top principal directions."""
    t_width = teacher_emb.word_embeddings.weight.shape[1]
    s_width = student_emb.word_embeddings.weight.shape[1]
    tables = ("word_embeddings", "position_embeddings", "token_type_embeddings")
    with torch.no_grad():
        if s_width == t_width:
            for name in tables:
                dst, src = getattr(student_emb, name).weight, getattr(teacher_emb, name).weight
                if dst.shape == src.shape:
                    dst.copy_(src)
            student_emb.LayerNorm.load_state_dict(teacher_emb.LayerNorm.state_dict())
            return
        if s_width > t_width:
            return  # nothing sensible to project onto: keep the random start
        words = teacher_emb.word_embeddings.weight.float()
        # The same basis for every table keeps word, position and type embeddings additive.
        _, _, v = torch.linalg.svd(words - words.mean(0), full_matrices=False)
        basis = v[:s_width].T  # (teacher width, student width)
        for name in tables:
            dst, src = getattr(student_emb, name).weight, getattr(teacher_emb, name).weight
            if dst.shape[0] == src.shape[0]:
                dst.copy_((src.float() @ basis).to(dst.dtype))


def student_from_config(teacher: nn.Module, cfg: StudentInitSettings, seed: int) -> nn.Module:
    config = copy.deepcopy(teacher.config)
    for attr in ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size"):
        if not hasattr(config, attr):
            raise StudioError(f"config mode needs a BERT-style configuration; {type(config).__name__} has no {attr}")
    config.num_hidden_layers = cfg.num_layers
    config.hidden_size = cfg.hidden_size or config.hidden_size
    config.num_attention_heads = cfg.num_heads or config.num_attention_heads
    config.intermediate_size = cfg.intermediate_size or config.intermediate_size
    if config.hidden_size % config.num_attention_heads:
        raise StudioError(f"hidden size {config.hidden_size} is not a multiple of {config.num_attention_heads} heads")
    torch.manual_seed(seed)
    student = type(teacher)(config)
    if cfg.init_embeddings:
        base = getattr(teacher, teacher.base_model_prefix)
        _project_embeddings(base.embeddings, getattr(student, student.base_model_prefix).embeddings)
    return student


def _remap_masks(masks: dict, keep: list[int]) -> dict:
    """Masks of kept layers follow them to their new index; those of dropped layers go."""
    out = {}
    for name, mask in masks.items():
        marker = "encoder.layer."
        if marker not in name:
            out[name] = mask
            continue
        head, rest = name.split(marker, 1)
        index, tail = rest.split(".", 1)
        if int(index) in keep:
            out[f"{head}{marker}{keep.index(int(index))}.{tail}"] = mask
    return out


@register_method(
    "distill.student_init",
    family="distillation",
    title="Build a student",
    description="Make a smaller student from the teacher: keep chosen layers (every other one by default) or build a "
    "smaller random configuration. Follow it with distill.train to teach it.",
    config=StudentInitSettings,
)
def student_init(state, cfg: StudentInitSettings, ctx):
    from core.methods.sharing.layers import SHARED_KEY, shared_groups

    ref = state if cfg.source == "current" or ctx.teacher is None else ctx.teacher
    base = ref.model
    new = state.replace()
    if cfg.mode == "layers":
        keep = [int(i) for i in cfg.keep_layers] or every_other_layer(len(encoder_of(base).layer))
        student = student_from_layers(base, keep)
        masks = state.extras.get(MASKS_KEY) if ref is state else None
        if masks:
            new.extras[MASKS_KEY] = _remap_masks(masks, keep)
        else:
            new.extras.pop(MASKS_KEY, None)
        new.extras[STUDENT_KEY] = {"mode": "layers", "teacher_layers": keep}
    else:
        student = student_from_config(base, cfg, ctx.recipe.seed if ctx.recipe else 0)
        new.extras.pop(MASKS_KEY, None)
        new.extras[STUDENT_KEY] = {"mode": "config", "num_layers": student.config.num_hidden_layers,
                                   "hidden_size": student.config.hidden_size,
                                   "num_heads": student.config.num_attention_heads,
                                   "intermediate_size": student.config.intermediate_size}
    groups = shared_groups(student)
    if groups:
        new.extras[SHARED_KEY] = groups
    else:
        new.extras.pop(SHARED_KEY, None)
    student.to(ctx.device).eval()
    before, after = count_parameters(base), count_parameters(student)
    ctx.metric("model/parameters", after)
    ctx.log(f"student: {len(encoder_of(student).layer)} layers, {after:,} parameters (teacher {before:,})")
    new.model = student
    return new
