"""Layers that store k-bit packed weights and dequantize them on use.

Both are registered custom modules: ``module_spec()`` gives the shapes and
options, ``from_spec()`` rebuilds an empty one of the right buffer sizes, and
``load_state_dict`` fills in ``codes`` (uint8), ``scales`` (float16) and, when
asymmetric, ``offsets`` (float16). The dequantized weight is cached (not
saved) and dropped whenever the module is moved or reloaded.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.methods.quantization.packing import dequantize_weight, packed_length, quantize_weight
from core.models.custom import register_module


class _KBitWeight(nn.Module):
    """Shared storage and caching of a k-bit (rows, cols) weight."""

    def _init_storage(self, rows: int, cols: int, bits: int, group_size: int, symmetric: bool) -> None:
        self.rows, self.cols, self.bits, self.symmetric = rows, cols, bits, symmetric
        self.group_size = min(group_size, cols) if group_size > 0 else cols
        self.padded = -(-cols // self.group_size) * self.group_size
        groups = self.padded // self.group_size
        self.register_buffer("codes", torch.zeros(packed_length(rows * self.padded, bits), dtype=torch.uint8))
        self.register_buffer("scales", torch.ones(rows, groups, dtype=torch.float16))
        self.register_buffer("offsets", None if symmetric else torch.zeros(rows, groups, dtype=torch.float16))
        self._cache: torch.Tensor | None = None

    def _store(self, weight: torch.Tensor) -> None:
        q = quantize_weight(weight, self.bits, self.group_size, self.symmetric)
        self.codes = q["codes"]
        self.scales = q["scales"]
        if not self.symmetric:
            self.offsets = q["offsets"]
        self._cache = None

    def dequantized(self) -> torch.Tensor:
        if self._cache is None or self._cache.device != self.codes.device:
            self._cache = dequantize_weight(self.codes, self.scales, self.offsets, self.bits, (self.rows, self.cols),
                                            self.group_size, self.padded)
        return self._cache

    def quantized_parameter_count(self) -> int:
        """Weights represented by the codes (buffers, so ``parameters()`` does not see them)."""
        return self.rows * self.cols

    def _apply(self, fn, *args, **kwargs):
        self._cache = None
        return super()._apply(fn, *args, **kwargs)

    def _load_from_state_dict(self, *args, **kwargs):
        self._cache = None
        return super()._load_from_state_dict(*args, **kwargs)

    def _spec(self) -> dict:
        return {"bits": self.bits, "group_size": self.group_size, "symmetric": self.symmetric}


@register_module
class KBitLinear(_KBitWeight):
    """A linear layer with k-bit (2..8) group-quantized weights and a float bias."""

    def __init__(self, in_features: int, out_features: int, bits: int = 4, group_size: int = 128,
                 symmetric: bool = True, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self._init_storage(out_features, in_features, bits, group_size, symmetric)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    @classmethod
    def from_linear(cls, linear: nn.Linear, bits: int, group_size: int, symmetric: bool) -> "KBitLinear":
        new = cls(linear.in_features, linear.out_features, bits, group_size, symmetric, linear.bias is not None)
        new.to(linear.weight.device)
        new._store(linear.weight.detach())
        if linear.bias is not None:
            new.bias = nn.Parameter(linear.bias.detach().clone(), requires_grad=False)
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.dequantized()
        return F.linear(x, w.to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bits={self.bits}, " \
               f"group_size={self.group_size}, symmetric={self.symmetric}"

    def module_spec(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features, "bias": self.bias is not None,
                **self._spec()}

    @classmethod
    def from_spec(cls, spec: dict) -> "KBitLinear":
        return cls(**spec)


@register_module
class KBitEmbedding(_KBitWeight):
    """An embedding table with k-bit group-quantized rows."""

    def __init__(self, num_embeddings: int, embedding_dim: int, bits: int = 8, group_size: int = 128,
                 symmetric: bool = True, padding_idx: int | None = None):
        super().__init__()
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self._init_storage(num_embeddings, embedding_dim, bits, group_size, symmetric)

    @property
    def weight(self) -> torch.Tensor:
        """The dequantized table (read-only use, e.g. tied output layers or shape checks)."""
        return self.dequantized()

    @classmethod
    def from_embedding(cls, emb: nn.Embedding, bits: int, group_size: int, symmetric: bool) -> "KBitEmbedding":
        new = cls(emb.num_embeddings, emb.embedding_dim, bits, group_size, symmetric, emb.padding_idx)
        new.to(emb.weight.device)
        new._store(emb.weight.detach())
        return new

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.dequantized(), self.padding_idx)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, bits={self.bits}, group_size={self.group_size}"

    def module_spec(self) -> dict:
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "padding_idx": self.padding_idx, **self._spec()}

    @classmethod
    def from_spec(cls, spec: dict) -> "KBitEmbedding":
        return cls(**spec)
