"""The model as it travels through a stack of steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn


@dataclass
class ModelState:
    """A sequence-classification model, its tokenizer, and what steps did to it.

    ``quantized`` is set by steps that convert weights to integers (the model can
    no longer be trained); ``extras`` carries structured data between steps,
    such as head-importance scores from an analysis step; ``masks`` holds the
    unstructured-pruning masks (parameter name -> 0/1 tensor) that training
    re-applies after every optimiser step, ``None`` when nothing was pruned so.
    """

    model: nn.Module
    tokenizer: Any
    source: str = ""
    quantized: bool = False
    extras: dict[str, Any] = field(default_factory=dict)
    masks: dict[str, torch.Tensor] | None = None

    def replace(self, **changes: Any) -> "ModelState":
        data = {**self.__dict__, **changes}
        data["extras"] = dict(data["extras"])
        if data["masks"] is not None:
            data["masks"] = dict(data["masks"])
        return ModelState(**data)
