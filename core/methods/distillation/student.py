"""``distill.student_init``: build a smaller student from the teacher (no training here).

Either keep chosen teacher layers (every other one by default, as DistilBERT
does) with their exact weights, or make a fresh, smaller configuration whose
embeddings start from the teacher's (copied when widths agree, projected onto
their principal directions when the student is narrower). With ``init_layers``
the configuration's encoder layers start from teacher layers too, projected
onto the same basis (:mod:`core.methods.distillation.projection`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn as nn

from core.methods.family import report_cut
from core.errors import StudioError
from core.methods.distillation.matching import check_int_list
from core.methods.distillation.projection import (PROJECTION_REFUSALS, kept_share, project_norm, project_student,
                                                  residual_basis)
from core.models.adapters import adapter_for
from core.models.architecture import count_parameters, layers_of
from core.models.student_families import ARCHITECTURES
from core.registry import Refusal, register_method, setting

STUDENT_KEY = "student"  # state.extras: how the student was made (plain data)
SENTENCE_TASKS = ("sequence-classification", "regression", "multi-label")  # one output row per input: BiLSTM / CNN
TOKEN_TASK = "token-classification"  # a BiLSTM tags every token; a CNN does not
_CNN_SENTENCES = ("a CNN student classifies whole sentences (max over time over its convolutions); this task needs "
                  "one output per token or per answer position: build a BiLSTM student (token classification) or a "
                  "transformer student")
_NO_SPANS = ("a BiLSTM student has no answer-span head (start and end logits over a question read with its context); "
             "build a transformer student")


@dataclass
class StudentInitSettings:
    architecture: str = setting("transformer", "The student's kind: a smaller transformer like the teacher, a BiLSTM "
                                "(Tang et al. 2019: one bidirectional LSTM layer, max-pooling, a small MLP) or a CNN "
                                "(Kim 2014: convolutions of several widths, max over time); both read the teacher's "
                                "tokens, sentence pairs encoded one text at a time", choices=ARCHITECTURES)
    mode: str = setting("layers", "Transformer: keep chosen teacher layers, or build a smaller random configuration",
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
    init_layers: bool = setting(False, "Config mode: start every student layer from a teacher layer, its weights "
                                "projected onto the student's width, heads and FFN (and the embeddings with them)")
    layer_map: list[int] = setting([], "Config mode with init_layers: the teacher layer (0-based) each student layer "
                                   "starts from (empty: uniform, student layer i -> teacher layer round((i+1)*Lt/Ls)-1, "
                                   "as distill.train matches by default)")
    embedding_size: int | None = setting(None, "BiLSTM / CNN: word embedding width (empty: the teacher's; smaller: "
                                         "the teacher's embeddings projected onto their top principal directions by "
                                         "SVD)", min=8, max=4096, optional=True)
    lstm_hidden_size: int = setting(150, "BiLSTM: hidden units per direction (Tang et al.: 150)", min=8, max=4096)
    cnn_widths: list[int] = setting([], "CNN: convolution widths in tokens (empty: 3, 4, 5 as Kim 2014)")
    cnn_filters: int = setting(100, "CNN: filters per width (Kim 2014: 100)", min=1, max=4096)
    mlp_size: int = setting(200, "BiLSTM / CNN: width of the ReLU layer before the output layer (Tang et al.: 200)",
                            min=4, max=8192)
    student_dropout: float = setting(0.1, "BiLSTM / CNN: dropout on the pooled features and the MLP", min=0.0, max=0.9)

    def validate(self):
        problems = check_int_list("keep_layers", self.keep_layers) + check_int_list("layer_map", self.layer_map)
        problems += check_int_list("cnn_widths", self.cnn_widths)
        if not problems and any(int(w) < 1 or int(w) > 64 for w in self.cnn_widths):
            problems.append(("cnn_widths", f"convolution widths are between 1 and 64 tokens; got {self.cnn_widths}"))
        if self.architecture != "transformer":
            for name, value in (("keep_layers", self.keep_layers), ("init_layers", self.init_layers),
                                ("layer_map", self.layer_map)):
                if value:
                    problems.append((name, f"{name} builds a transformer student; architecture {self.architecture} "
                                           "has no encoder layers to take from the teacher"))
        if self.init_layers and self.mode != "config":
            problems.append(("init_layers", "init_layers applies to mode: config (mode: layers keeps the teacher's "
                                            "layers as they are)"))
        if self.layer_map and not self.init_layers:
            problems.append(("layer_map", "layer_map says which teacher layer each student layer starts from; it "
                                          "needs init_layers"))
        elif self.layer_map and len(self.layer_map) != self.num_layers:
            problems.append(("layer_map", f"layer_map has {len(self.layer_map)} entries but the student has "
                                          f"num_layers {self.num_layers}: give one teacher layer per student layer"))
        return problems


def every_other_layer(n: int) -> list[int]:
    return list(range(0, n, 2))


def student_from_layers(model: nn.Module, keep: list[int]) -> nn.Module:
    """A copy of ``model`` whose encoder keeps only layers ``keep`` (in that order), weights untouched."""
    adapter = adapter_for(model)
    n = len(adapter.layers(model))
    bad = [i for i in keep if not 0 <= i < n]
    if bad or not keep:
        raise StudioError(f"layers to keep must be between 0 and {n - 1}; got {keep}")
    student = copy.deepcopy(model)  # deepcopy keeps modules shared between positions shared
    layers = adapter.layers(student)
    adapter.set_layers(student, [layers[i] for i in keep])
    adapter.after_keep_layers(student, list(keep))
    return student


def _tables(emb: nn.Module) -> dict[str, nn.Embedding]:
    return {name: m for name, m in emb.named_children() if isinstance(m, nn.Embedding)}


def _project_embeddings(teacher_emb: nn.Module, student_emb: nn.Module, words_attr: str = "word_embeddings",
                        basis: torch.Tensor | None = None, kept: float = 1.0) -> None:
    """Copy the teacher's embedding tables (and norms), or project them onto their top principal directions
    (``basis``, teacher width x student width, when given: then the norms are projected too)."""
    t_width = getattr(teacher_emb, words_attr).weight.shape[1]
    s_width = getattr(student_emb, words_attr).weight.shape[1]
    t_tables, s_tables = _tables(teacher_emb), _tables(student_emb)
    tables = [name for name in s_tables if name in t_tables]
    with torch.no_grad():
        if s_width == t_width:
            for name in tables:
                dst, src = s_tables[name].weight, t_tables[name].weight
                if dst.shape == src.shape:
                    dst.copy_(src)
            for name, norm in student_emb.named_children():
                src = getattr(teacher_emb, name, None)
                if isinstance(norm, nn.LayerNorm) and isinstance(src, nn.LayerNorm) and \
                        norm.normalized_shape == src.normalized_shape:
                    norm.load_state_dict(src.state_dict())
            return
        if s_width > t_width:
            return  # nothing sensible to project onto: keep the random start
        project_norms = basis is not None
        if basis is None:
            words = getattr(teacher_emb, words_attr).weight.float()
            # The same basis for every table keeps word, position and type embeddings additive.
            _, _, v = torch.linalg.svd(words - words.mean(0), full_matrices=False)
            basis = v[:s_width].T  # (teacher width, student width)
        for name in tables:
            dst, src = s_tables[name].weight, t_tables[name].weight
            if dst.shape[0] == src.shape[0] and src.shape[1] == t_width:
                dst.copy_((src.float() @ basis.to(src.device)).to(dst.dtype))
        if project_norms:
            for name, norm in student_emb.named_children():
                src = getattr(teacher_emb, name, None)
                if isinstance(norm, nn.LayerNorm) and isinstance(src, nn.LayerNorm):
                    project_norm(src, norm, basis, kept)


def student_from_config(teacher: nn.Module, cfg: StudentInitSettings, seed: int, info: dict | None = None) -> nn.Module:
    """A fresh model of the smaller configuration; ``info`` (when given) receives what ``init_layers`` did."""
    adapter = adapter_for(teacher)
    config = copy.deepcopy(teacher.config)
    ffn_attr = adapter.ffn_config_attr
    for attr in ("num_hidden_layers", "hidden_size", "num_attention_heads", ffn_attr):
        if not hasattr(config, attr):
            raise StudioError(f"config mode needs a BERT-style configuration; {type(config).__name__} has no {attr}")
    adapter.config_for_depth(config, cfg.num_layers)
    config.hidden_size = cfg.hidden_size or config.hidden_size
    config.num_attention_heads = cfg.num_heads or config.num_attention_heads
    setattr(config, ffn_attr, cfg.intermediate_size or getattr(config, ffn_attr))
    if config.hidden_size % config.num_attention_heads:
        raise StudioError(f"hidden size {config.hidden_size} is not a multiple of {config.num_attention_heads} heads")
    torch.manual_seed(seed)
    student = type(teacher)(config)
    if cfg.init_layers:
        basis = residual_basis(teacher, adapter, int(config.hidden_size))
        kept = kept_share(teacher, adapter, basis)
        done = project_student(teacher, student, adapter, cfg.layer_map, basis, kept)
        if info is not None:
            info.update(done)
        _project_embeddings(adapter.embeddings(teacher), adapter.embeddings(student), adapter.word_embeddings_attr,
                            basis if _embedding_width(teacher, adapter) == basis.shape[0] else None, kept)
    elif cfg.init_embeddings:
        _project_embeddings(adapter.embeddings(teacher), adapter.embeddings(student), adapter.word_embeddings_attr)
    return student


def _embedding_width(model: nn.Module, adapter) -> int:
    return int(getattr(adapter.embeddings(model), adapter.word_embeddings_attr).weight.shape[1])


def _remap_masks(masks: dict, keep: list[int], marker: str = "encoder.layer.") -> dict:
    """Masks of kept layers follow them to their new index; those of dropped layers go."""
    out = {}
    for name, mask in masks.items():
        if marker not in name:
            out[name] = mask
            continue
        head, rest = name.split(marker, 1)
        index, tail = rest.split(".", 1)
        if int(index) in keep:
            out[f"{head}{marker}{keep.index(int(index))}.{tail}"] = mask
    return out


def _transformer(settings) -> bool:
    """Whether a step builds a transformer student (``mode`` says how only then)."""
    return settings.architecture == "transformer"


_PROJECTS = ("init_layers projects BERT-style post-norm layers (bert, roberta, xlm-roberta, camembert, electra, "
             "distilbert); ")


@register_method(
    "distill.student_init",
    family="distillation",
    title="Build a student",
    description="Make a smaller student from the teacher: keep chosen layers (every other one by default) or build a "
    "smaller configuration, its layers random or (init_layers) projected from the teacher's onto the narrower width. "
    "Follow it with distill.train to teach it.",
    config=StudentInitSettings,
    refuses=[Refusal("albert", "ALBERT uses one set of layer weights at every depth, so keeping some teacher layers "
                               "saves nothing; use mode: config for a smaller ALBERT", "mode", "layers",
                     only_if=_transformer),
             Refusal("mobilebert", "MobileBERT's bottleneck sizes are tied to its hidden width; build the student "
                                   "with mode: layers", "mode", "config", only_if=_transformer),
             *(Refusal(family, _PROJECTS + why, "init_layers", True) for family, why in PROJECTION_REFUSALS.items()),
             Refusal((), _CNN_SENTENCES, "architecture", "cnn", tasks=(TOKEN_TASK, "question-answering")),
             Refusal((), _NO_SPANS, "architecture", "bilstm", tasks=("question-answering",))],
    phrase=lambda s: (f"student {s.architecture}" if s.architecture != "transformer" else
                      f"student {len(s.keep_layers) if s.keep_layers else s.num_layers} layers"),
    becomes=lambda s: None if s.architecture == "transformer" else s.architecture,
)
def student_init(state, cfg: StudentInitSettings, ctx):
    from core.methods.sharing.layers import SHARED_KEY, shared_groups

    ref = state if cfg.source == "current" or ctx.teacher is None else ctx.teacher
    base = ref.model
    new = state.replace()
    if cfg.architecture != "transformer":
        return _other_architecture(state, ref, cfg, ctx, new)
    if cfg.mode == "layers":
        keep = [int(i) for i in cfg.keep_layers] or every_other_layer(len(layers_of(base)))
        student = student_from_layers(base, keep)
        masks = state.masks if ref is state else None
        if masks:
            new.masks = _remap_masks(masks, keep, adapter_for(base).layer_list_name(base) + ".")
        else:
            new.masks = None
        new.extras[STUDENT_KEY] = {"mode": "layers", "teacher_layers": keep}
    else:
        info: dict = {}
        student = student_from_config(base, cfg, ctx.recipe.seed if ctx.recipe else 0, info)
        new.masks = None
        new.extras[STUDENT_KEY] = {"mode": "config", "num_layers": student.config.num_hidden_layers,
                                   "hidden_size": student.config.hidden_size,
                                   "num_heads": student.config.num_attention_heads,
                                   "intermediate_size": getattr(student.config, adapter_for(student).ffn_config_attr),
                                   "layers_projected": cfg.init_layers}
        if info:
            new.extras[STUDENT_KEY].update({"layer_map": info["layer_map"], "teacher_heads": info["teacher_heads"]})
            ctx.log(f"student layers projected from teacher layers {info['layer_map']} "
                    f"(width {base.config.hidden_size} -> {student.config.hidden_size})")
    groups = shared_groups(student)
    if groups:
        new.extras[SHARED_KEY] = groups
    else:
        new.extras.pop(SHARED_KEY, None)
    student.to(ctx.device).eval()
    report_cut(ctx, student, count_parameters(base), "student", f"{adapter_for(student).depth(student)} layers, "
               "against the model it was built from")
    new.model = student
    return new


def _other_architecture(state, ref, cfg: StudentInitSettings, ctx, new):
    """A BiLSTM or CNN student on the teacher's tokenizer (:mod:`core.methods.distillation.architectures`)."""
    from core.applicability import task_of
    # the students' configurations are transformers classes: imported when one is built, not with the registry
    from core.methods.distillation.architectures import build_from_teacher, sizes
    from core.methods.distillation.architectures import describe as describe_student
    from core.methods.sharing.layers import SHARED_KEY

    kind = task_of(ctx.task)
    tokens = kind == TOKEN_TASK
    if kind not in SENTENCE_TASKS and not (tokens and cfg.architecture == "bilstm"):  # refused before, by the spec
        raise StudioError(f"a {cfg.architecture} student cannot take a {kind} task")
    pair = getattr(ctx.task, "text_pair_column", None) is not None
    seed = ctx.recipe.seed if ctx.recipe else 0
    student = build_from_teacher(cfg, ref.model, ref.tokenizer or state.tokenizer, pair, seed, tokens)
    new.masks = None
    new.extras[STUDENT_KEY] = describe_student(student)
    new.extras.pop(SHARED_KEY, None)
    student.to(ctx.device).eval()
    report_cut(ctx, student, count_parameters(ref.model), "student", f"{sizes(student)}, against the model it was "
               "built from")
    new.model = student
    return new
