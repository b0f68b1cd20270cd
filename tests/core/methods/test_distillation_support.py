"""A real RunContext around a model, for calling method handlers directly in tests."""

from __future__ import annotations

import functools

import torch

from core.models.loading import tiny_config
from core.models.state import ModelState
from tests.conftest import method_context as make_ctx  # noqa: F401  (re-exported for the method tests)



@functools.lru_cache(maxsize=1)
def _tokenizer():
    from core.models.loading import load_tokenizer

    return load_tokenizer("tiny")


def tiny_bert(layers: int = 4, seed: int = 0, **overrides) -> ModelState:
    """A random tiny BERT classifier with ``layers`` layers and the default tokenizer."""
    from transformers import BertForSequenceClassification

    torch.manual_seed(seed)
    model = BertForSequenceClassification(tiny_config(2, num_hidden_layers=layers, **overrides)).eval()
    return ModelState(model=model, tokenizer=_tokenizer(), source="tiny")


def fixed_batch(task, n: int = 8) -> dict[str, torch.Tensor]:
    return next(iter(task.loader("train", n)))


def layer_params(model, index: int = 0) -> int:
    from core.models.architecture import encoder_of

    return sum(p.numel() for p in encoder_of(model).layer[index].parameters())
