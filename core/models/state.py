"""The model as it travels through a stack of steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch.nn as nn


@dataclass
class ModelState:
    """A sequence-classification model, its tokenizer, and what steps did to it.

    ``quantized`` is set by steps that convert weights to integers (the model can
    no longer be trained); ``extras`` carries structured data between steps,
    such as head-importance scores from an analysis step.
    """

    model: nn.Module
    tokenizer: Any
    source: str = ""
    quantized: bool = False
    extras: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> "ModelState":
        data = {**self.__dict__, **changes}
        data["extras"] = dict(data["extras"])
        return ModelState(**data)
