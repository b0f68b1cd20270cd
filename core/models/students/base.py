"""What every non-transformer student shares: word embeddings, the segments of a pair, the MLP head, the loss.

A student is a plain ``nn.Module`` with a :class:`~core.models.students.config.StudentConfig` on ``.config``,
called like a transformers sequence classifier (``input_ids``, ``attention_mask``, ``token_type_ids``,
``labels``) and answering a ``SequenceClassifierOutput``. Subclasses say how one text is encoded into a
vector (:meth:`StudentModel.encode`); the model is named ``...ForSequenceClassification`` so the studio
reads its task from the class as it does for transformers heads.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.models.students.config import StudentConfig
from core.models.students.encoding import combine, features_width, output, segments


class StudentModel(nn.Module):
    """Embeddings -> encoder (per text) -> [u, v, |u-v|, u*v] for pairs -> ReLU MLP -> ``classifier``."""

    config_class = StudentConfig
    main_input_name = "input_ids"

    def __init__(self, config: StudentConfig):
        super().__init__()
        self.config = config
        self.embeddings = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=config.pad_token_id)
        self.build_encoder(config)
        width = features_width(self.encoded_width(), config.pair)
        self.mlp = nn.Linear(width, config.mlp_size)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.mlp_size, config.num_labels)

    def build_encoder(self, config: StudentConfig) -> None:
        raise NotImplementedError

    def encoded_width(self) -> int:
        raise NotImplementedError

    def encode(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """One vector per row for the positions ``keep`` of the embedded inputs ``x`` (batch, time, width)."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return self.embeddings.weight.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None, **ignored):
        # ``ignored``: output_hidden_states, output_attentions, return_dict... (there are none to give)
        x = self.embeddings(input_ids)
        keeps = segments(input_ids, attention_mask, token_type_ids, self.config.pair)
        # both texts of a pair in one pass, stacked on the batch axis: one encoder node in the ONNX graph (ONNX
        # Runtime's int8 quantizer rewrites an LSTM's weights in place, so it cannot share them between two nodes)
        pooled = self.encode(torch.cat([x] * len(keeps)), torch.cat(keeps))
        features = self.dropout(combine(list(pooled.chunk(len(keeps)))))
        logits = self.classifier(self.dropout(F.relu(self.mlp(features))))
        return output(self.config, logits, labels)
