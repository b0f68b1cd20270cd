"""The configuration of a non-transformer student: sizes, vocabulary, labels (a ``PretrainedConfig``, so the
rest of the studio reads ``num_labels``, ``id2label`` and ``problem_type`` as it does on any model).

One subclass per architecture, its ``model_type`` being the student's family (``bilstm``, ``cnn``): that is
what :mod:`core.applicability` reads to refuse the methods that need a transformer.
"""

from __future__ import annotations

from transformers import PretrainedConfig


class StudentConfig(PretrainedConfig):
    """Shared fields: the teacher's vocabulary, the embedding width, whether inputs are sentence pairs."""

    model_type = "student"

    def __init__(self, vocab_size: int = 30522, embedding_size: int = 300, pad_token_id: int = 0, pair: bool = False,
                 mlp_size: int = 200, dropout: float = 0.1, **kwargs):
        self.vocab_size = int(vocab_size)
        self.embedding_size = int(embedding_size)
        self.pair = bool(pair)  # sentence pairs: both texts encoded alike, combined as [u, v, |u-v|, u*v]
        self.mlp_size = int(mlp_size)
        self.dropout = float(dropout)
        super().__init__(pad_token_id=pad_token_id, **kwargs)


class BiLSTMConfig(StudentConfig):
    """Tang et al. 2019: embedding, one bidirectional LSTM layer, max-pooling over time, a small MLP."""

    model_type = "bilstm"

    def __init__(self, hidden_size: int = 150, tokens: bool = False, **kwargs):
        self.hidden_size = int(hidden_size)  # per direction
        self.tokens = bool(tokens)  # a tagger: one row of logits per token (token classification)
        super().__init__(**kwargs)


class CNNConfig(StudentConfig):
    """Kim 2014: convolutions of several widths over the embeddings, max-over-time pooling, a small MLP."""

    model_type = "cnn"

    def __init__(self, widths: list[int] | tuple[int, ...] = (3, 4, 5), filters: int = 100, **kwargs):
        self.widths = [int(w) for w in widths]
        self.filters = int(filters)
        super().__init__(**kwargs)
