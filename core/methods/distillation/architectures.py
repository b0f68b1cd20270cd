"""``distill.student_init`` with ``architecture: bilstm | cnn``: a non-transformer student on the teacher's tokenizer.

The student reads the teacher's token ids, so no vocabulary is downloaded: its word embeddings start from the
teacher's token embeddings, as they are or projected by SVD onto their top principal directions when the
student's embedding width is smaller (Tang et al. start from word2vec; the teacher's table is what the studio
has at hand). Sentence pairs are encoded as two texts (siamese) and combined as [u, v, |u-v|, u*v].
"""

from __future__ import annotations

import torch
import torch.nn as nn

from core.errors import StudioError
from core.models.students import STUDENTS, StudentModel, build_student

DEFAULT_WIDTHS = (3, 4, 5)  # Kim 2014


def teacher_word_embeddings(teacher: nn.Module) -> torch.Tensor:
    """The teacher's token embedding table (vocabulary x width), through its family's adapter."""
    from core.models.adapters import adapter_for

    adapter = adapter_for(teacher)
    table = getattr(adapter.embeddings(teacher), adapter.word_embeddings_attr)
    weight = getattr(table, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        raise StudioError(f"the teacher's word embeddings ({type(table).__name__}) are not a plain table; start "
                          "from the float teacher")
    return weight.detach()


def project_rows(table: torch.Tensor, width: int) -> torch.Tensor:
    """``table`` (rows x teacher width) onto its top ``width`` principal directions (centred SVD), or as it is."""
    table = table.float()
    if width == table.shape[1]:
        return table.clone()
    if width > table.shape[1]:
        raise StudioError(f"embedding_size {width} is wider than the teacher's embeddings ({table.shape[1]}); "
                          "projection only narrows them")
    _, _, vh = torch.linalg.svd(table - table.mean(0), full_matrices=False)
    return table @ vh[:width].T


def student_config(cfg, teacher: nn.Module, tokenizer, pair: bool, vocab_size: int, width: int, tokens: bool = False):
    """The configuration of the ``cfg.architecture`` student for ``teacher``'s labels and vocabulary (``tokens``:
    a BiLSTM tagger, one row of logits per token)."""
    family = cfg.architecture
    labels = teacher.config
    common = dict(vocab_size=vocab_size, embedding_size=width, pair=pair, mlp_size=cfg.mlp_size,
                  dropout=cfg.student_dropout, pad_token_id=int(getattr(tokenizer, "pad_token_id", 0) or 0),
                  num_labels=int(labels.num_labels), id2label=dict(labels.id2label), label2id=dict(labels.label2id),
                  problem_type=getattr(labels, "problem_type", None))
    if family == "bilstm":
        return STUDENTS[family][2](hidden_size=cfg.lstm_hidden_size, tokens=tokens, **common)
    return STUDENTS[family][2](widths=list(cfg.cnn_widths) or list(DEFAULT_WIDTHS), filters=cfg.cnn_filters, **common)


def build_from_teacher(cfg, teacher: nn.Module, tokenizer, pair: bool, seed: int, tokens: bool = False) -> StudentModel:
    """A fresh ``bilstm`` / ``cnn`` student whose embeddings start from ``teacher``'s (``cfg.init_embeddings``)."""
    table = teacher_word_embeddings(teacher)
    width = int(cfg.embedding_size or table.shape[1])
    config = student_config(cfg, teacher, tokenizer, pair, int(table.shape[0]), width, tokens)
    torch.manual_seed(seed)
    student = build_student(config)
    if cfg.init_embeddings:
        with torch.no_grad():
            student.embeddings.weight.copy_(project_rows(table.to("cpu"), width))
    return student


def describe(student: StudentModel) -> dict:
    """What ``state.extras['student']`` records of a non-transformer student (plain data)."""
    c = student.config
    out = {"mode": "architecture", "architecture": c.model_type, "embedding_size": c.embedding_size,
           "pair": c.pair, "mlp_size": c.mlp_size}
    if c.model_type == "bilstm":
        out.update(hidden_size=c.hidden_size, tokens=c.tokens)
    else:
        out.update(widths=list(c.widths), filters=c.filters)
    return out


def sizes(student: StudentModel) -> str:
    c = student.config
    encoder = (f"BiLSTM {c.hidden_size} per direction" if c.model_type == "bilstm" else
               f"convolutions of widths {', '.join(map(str, c.widths))} x {c.filters} filters")
    return (f"embeddings {c.embedding_size} wide, {encoder}, MLP {c.mlp_size}" + (", siamese pairs" if c.pair else "")
            + (", one output per token" if getattr(c, "tokens", False) else ""))
