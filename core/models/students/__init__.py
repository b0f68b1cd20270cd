"""Students that are not transformers: a BiLSTM (Tang et al. 2019) and a CNN (Kim 2014), for sentence tasks.

They are built by ``distill.student_init`` (``architecture: bilstm | cnn``) on the teacher's tokenizer,
saved as the studio's own safetensors folder (:mod:`core.models.students.folder`) and refused by the methods
that need a transformer's layers, heads or hidden states (:mod:`core.applicability`).
"""

from __future__ import annotations

import torch.nn as nn

from core.models.students.base import StudentModel
from core.models.students.bilstm import BiLSTMForSequenceClassification
from core.models.students.cnn import CNNForSequenceClassification
from core.models.students.config import BiLSTMConfig, CNNConfig, StudentConfig
from core.models.students.tagger import BiLSTMForTokenClassification

# family (the config's model_type) -> (title, model class, config class)
STUDENTS: dict[str, tuple[str, type[StudentModel], type[StudentConfig]]] = {
    "bilstm": ("BiLSTM student", BiLSTMForSequenceClassification, BiLSTMConfig),
    "cnn": ("CNN student", CNNForSequenceClassification, CNNConfig),
}

__all__ = ["STUDENTS", "BiLSTMConfig", "BiLSTMForSequenceClassification", "BiLSTMForTokenClassification", "CNNConfig",
           "CNNForSequenceClassification",
           "StudentConfig", "StudentModel", "build_student", "student_family"]


def student_family(model: nn.Module) -> str | None:
    """``bilstm`` / ``cnn`` for a student (also after dynamic int8, which keeps the class), None otherwise."""
    if isinstance(model, StudentModel):
        return str(model.config.model_type)
    return None


def build_student(config: StudentConfig) -> StudentModel:
    """A fresh student of ``config``'s family (random weights); a BiLSTM with ``tokens`` is a tagger."""
    try:
        cls = STUDENTS[config.model_type][1]
    except KeyError:
        raise ValueError(f"unknown student architecture {config.model_type!r} (known: {', '.join(STUDENTS)})") from None
    if getattr(config, "tokens", False):
        cls = BiLSTMForTokenClassification
    return cls(config)


def config_from_dict(data: dict) -> StudentConfig:
    """The config of the family named by ``data['model_type']``."""
    family = str(data.get("model_type"))
    if family not in STUDENTS:
        raise ValueError(f"unknown student architecture {family!r} (known: {', '.join(STUDENTS)})")
    fields = {k: v for k, v in data.items() if k != "model_type"}
    return STUDENTS[family][2](**fields)
