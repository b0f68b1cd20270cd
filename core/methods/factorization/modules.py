"""Factorized modules: a low-rank linear layer and ALBERT-style factorized word embeddings.

Both are made of plain ``nn.Linear`` / ``nn.Embedding`` children, so dynamic
int8 quantization, magnitude pruning and ``load_state_dict`` treat them like
any other layer. Both are registered with :mod:`core.models.custom` so export
rebuilds them from ``module_spec()`` without pickles.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from core.models.custom import register_module


def truncated_svd(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``U, S, Vh`` of ``weight`` computed in float32 (half-precision SVD is not supported everywhere)."""
    return torch.linalg.svd(weight.detach().float(), full_matrices=False)


@register_module
class LowRankLinear(nn.Module):
    """``y = second(first(x))``: ``in -> rank`` (no bias) then ``rank -> out`` (with the original bias).

    Answers ``in_features`` / ``out_features`` like ``nn.Linear`` so architecture
    readers (``layer_shapes``) keep working, and can be sliced by structured pruning.
    """

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.first = nn.Linear(in_features, rank, bias=False, device=device, dtype=dtype)
        self.second = nn.Linear(rank, out_features, bias=bias, device=device, dtype=dtype)

    @property
    def in_features(self) -> int:
        return self.first.in_features

    @property
    def out_features(self) -> int:
        return self.second.out_features

    @property
    def rank(self) -> int:
        return self.first.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(x))

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int) -> "LowRankLinear":
        """The best rank-``rank`` approximation of ``linear`` (singular values split evenly between the factors)."""
        w = linear.weight
        u, s, vh = truncated_svd(w)
        rank = max(1, min(rank, s.numel()))
        root = s[:rank].sqrt()
        out = cls(linear.in_features, linear.out_features, rank, linear.bias is not None, device=w.device, dtype=w.dtype)
        with torch.no_grad():
            out.first.weight.copy_((root[:, None] * vh[:rank]).to(w.dtype))
            out.second.weight.copy_((u[:, :rank] * root[None, :]).to(w.dtype))
            if linear.bias is not None:
                out.second.bias.copy_(linear.bias.detach())
        out.train(linear.training)
        return out

    # -- structured pruning (see core.models.surgery) -----------------------
    def select_outputs(self, index: torch.Tensor) -> None:
        from core.models.surgery import slice_linear

        self.second = slice_linear(self.second, index, 0)

    def select_inputs(self, index: torch.Tensor) -> None:
        from core.models.surgery import slice_linear

        self.first = slice_linear(self.first, index, 1)

    def mask_names(self, dim: int) -> list[tuple[str, int, tuple[int, ...]]]:
        """Masks that follow output (``dim=0``) or input (``dim=1``) slicing: (name, dim, current shape)."""
        if dim == 0:
            return [("second.weight", 0, tuple(self.second.weight.shape))]
        return [("first.weight", 1, tuple(self.first.weight.shape))]

    # -- export ---------------------------------------------------------------
    def module_spec(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features, "rank": self.rank,
                "bias": self.second.bias is not None}

    @classmethod
    def from_spec(cls, spec: dict) -> "LowRankLinear":
        return cls(int(spec["in_features"]), int(spec["out_features"]), int(spec["rank"]), bool(spec.get("bias", True)))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}"


@register_module
class FactorizedEmbedding(nn.Module):
    """ALBERT-style word embeddings: ``vocab x E`` lookup then an ``E x hidden`` projection (no bias)."""

    def __init__(self, num_embeddings: int, embedding_size: int, hidden_size: int, padding_idx: int | None = None,
                 device=None, dtype=None):
        super().__init__()
        self.embed = nn.Embedding(num_embeddings, embedding_size, padding_idx=padding_idx, device=device, dtype=dtype)
        self.project = nn.Linear(embedding_size, hidden_size, bias=False, device=device, dtype=dtype)

    @property
    def num_embeddings(self) -> int:
        return self.embed.num_embeddings

    @property
    def embedding_size(self) -> int:
        return self.embed.embedding_dim

    @property
    def embedding_dim(self) -> int:
        """The width the rest of the model sees (the hidden size), as ``nn.Embedding`` would answer."""
        return self.project.out_features

    @property
    def padding_idx(self) -> int | None:
        return self.embed.padding_idx

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.project(self.embed(input_ids))

    @classmethod
    def from_embedding(cls, embedding: nn.Embedding, embedding_size: int) -> "FactorizedEmbedding":
        """Truncated SVD of the ``vocab x hidden`` table: ``U_E S_E`` as the lookup, ``Vh_E`` as the projection."""
        w = embedding.weight
        u, s, vh = truncated_svd(w)
        e = max(1, min(embedding_size, s.numel()))
        out = cls(w.shape[0], e, w.shape[1], embedding.padding_idx, device=w.device, dtype=w.dtype)
        with torch.no_grad():
            out.embed.weight.copy_((u[:, :e] * s[None, :e]).to(w.dtype))
            out.project.weight.copy_(vh[:e].T.to(w.dtype))
        out.train(embedding.training)
        return out

    def module_spec(self) -> dict:
        return {"num_embeddings": self.num_embeddings, "embedding_size": self.embedding_size,
                "hidden_size": self.embedding_dim, "padding_idx": self.padding_idx}

    @classmethod
    def from_spec(cls, spec: dict) -> "FactorizedEmbedding":
        pad = spec.get("padding_idx")
        return cls(int(spec["num_embeddings"]), int(spec["embedding_size"]), int(spec["hidden_size"]),
                   None if pad is None else int(pad))

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_size} -> {self.embedding_dim}"
