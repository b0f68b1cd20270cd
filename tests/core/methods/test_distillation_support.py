"""A real RunContext around a model, for calling method handlers directly in tests."""

from __future__ import annotations

import functools

import torch

from core import events as ev
from core.engine.context import RunContext
from core.engine.control import RunControl
from core.models.loading import tiny_config
from core.models.state import ModelState
from tests.conftest import tiny_recipe


def make_ctx(tmp_path, task, state, teacher=None):
    """A context whose teacher is ``teacher`` (default: ``state``); collects metric events in ``ctx.seen``."""
    ctx = RunContext("test-run", tiny_recipe(), ev.EventBus(), RunControl(), torch.device("cpu"), tmp_path, task=task)
    ctx.baseline = ctx.original = teacher or state
    ctx.seen = {}
    ctx.bus.subscribe(ev.Metric, lambda e: ctx.seen.setdefault(e.key, []).append(e.value))
    return ctx


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
