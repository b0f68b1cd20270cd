"""The CNN student (Kim 2014, "Convolutional Neural Networks for Sentence Classification"): convolutions of
several widths over the word embeddings, ReLU, max over time, concatenated.

Each convolution sees the text padded by ``width - 1`` zeros on both sides; the positions past the text are
zeros too, so a window's value does not depend on the batch's padding, and only the ``length + width - 1``
windows that touch the text are pooled.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.models.students.base import StudentModel
from core.models.students.config import CNNConfig
from core.models.students.encoding import compact, max_over_time


class CNNForSequenceClassification(StudentModel):
    config_class = CNNConfig

    def build_encoder(self, config: CNNConfig) -> None:
        self.convs = nn.ModuleList(nn.Conv1d(config.embedding_size, config.filters, w, padding=w - 1)
                                   for w in config.widths)

    def encoded_width(self) -> int:
        return self.config.filters * len(self.config.widths)

    def encode(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x, lengths = compact(x, keep)
        x = x.transpose(1, 2)  # (batch, width, time) for Conv1d
        pooled = []
        for conv in self.convs:
            h = F.relu(conv(x)).transpose(1, 2)  # (batch, time + w - 1, filters)
            windows = torch.where(lengths > 0, lengths + conv.kernel_size[0] - 1, torch.zeros_like(lengths))
            pooled.append(max_over_time(h, windows))
        return torch.cat(pooled, dim=-1)
