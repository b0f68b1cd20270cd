"""The BiLSTM student as a tagger (token classification): the BiLSTM's output at every position feeds the ReLU
layer and the output layer, one row of tag logits per token (no pooling).

The tokenizer's padding and a word's later pieces carry the label -100, as for the transformer tagger
(:mod:`core.tasks.token_features`); the loss skips them. Each text is read within its own length, as the
sentence student reads it, so a sentence's tag logits are the same alone or in a padded batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers.modeling_outputs import TokenClassifierOutput

from core.models.students.bilstm import BiLSTMForSequenceClassification
from core.models.students.encoding import compact, reverse_within

IGNORED = -100  # positions the loss skips: padding, a word's later pieces


class BiLSTMForTokenClassification(BiLSTMForSequenceClassification):
    """Embeddings -> BiLSTM (per position) -> ReLU MLP -> ``classifier``, at every token."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None, **ignored):
        keep = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
        x = self.embeddings(input_ids)
        h = self.positions(x, keep)
        logits = self.classifier(self.dropout(F.relu(self.mlp(self.dropout(h)))))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORED)
        return TokenClassifierOutput(loss=loss, logits=logits)

    def positions(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """The BiLSTM's output at each input position (zeros where ``keep`` is false)."""
        moved, lengths = compact(x, keep)
        ahead, _ = self.forward_lstm(moved)
        behind, _ = self.backward_lstm(reverse_within(moved, lengths))
        h = torch.cat([ahead, reverse_within(behind, lengths)], dim=-1)
        # back to the input's positions: the kept ones were moved to the front in order (compact's sort)
        time = x.shape[1]
        steps = torch.arange(time, device=x.device).unsqueeze(0)
        order = torch.sort((~keep).long() * time + steps, dim=1).indices
        back = torch.argsort(order, dim=1)
        h = torch.gather(h, 1, back.unsqueeze(-1).expand(-1, -1, h.shape[2]))
        return h * keep.unsqueeze(-1).to(h.dtype)
