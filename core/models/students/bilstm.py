"""The BiLSTM student of Tang et al. 2019 ("Distilling Task-Specific Knowledge from BERT into Simple Neural
Networks"): one bidirectional LSTM layer over the word embeddings, max-pooled over time.

The two directions are two one-directional LSTMs, the backward one reading each text reversed within its own
length, so padding never reaches a real position (no packed sequences, which ONNX cannot export).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from core.models.students.base import StudentModel
from core.models.students.config import BiLSTMConfig
from core.models.students.encoding import compact, max_over_time, reverse_within


class BiLSTMForSequenceClassification(StudentModel):
    config_class = BiLSTMConfig

    def build_encoder(self, config: BiLSTMConfig) -> None:
        self.forward_lstm = nn.LSTM(config.embedding_size, config.hidden_size, batch_first=True)
        self.backward_lstm = nn.LSTM(config.embedding_size, config.hidden_size, batch_first=True)

    def encoded_width(self) -> int:
        return 2 * self.config.hidden_size

    def encode(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x, lengths = compact(x, keep)
        ahead, _ = self.forward_lstm(x)
        behind, _ = self.backward_lstm(reverse_within(x, lengths))
        behind = reverse_within(behind, lengths)  # back to reading order
        return max_over_time(torch.cat([ahead, behind], dim=-1), lengths)
