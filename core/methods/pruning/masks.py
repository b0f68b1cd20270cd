"""Which weights unstructured pruning may zero, and how sparse they are; the masks themselves live in
``ModelState.masks`` and are applied by :func:`core.models.masks.apply_masks` (re-exported here)."""

from __future__ import annotations

import torch.nn as nn

from core.models.masks import Masks, apply_masks

__all__ = ["Masks", "apply_masks", "prunable_weights", "sparsity"]


def prunable_weights(model: nn.Module, include_embeddings: bool = False) -> dict[str, nn.Parameter]:
    """Weight matrices of the encoder layers' linears (and optionally the word embeddings), in any family."""
    try:
        from core.models.adapters import adapter_for

        adapter = adapter_for(model)
        prefixes = tuple(f"{name}." for name in adapter.layer_names(model))
        words = adapter.word_embeddings_attr
    except TypeError:  # not a known family: the BERT naming
        prefixes, words = None, "word_embeddings"
    out = {}
    for name, module in model.named_modules():
        in_layer = name.startswith(prefixes) if prefixes is not None else "encoder." in name
        if isinstance(module, nn.Linear) and in_layer:
            out[f"{name}.weight"] = module.weight
        elif include_embeddings and isinstance(module, nn.Embedding) and name.endswith(words):
            out[f"{name}.weight"] = module.weight
    return out


def sparsity(model: nn.Module, include_embeddings: bool = False) -> dict[str, float]:
    """Share of zeros per prunable weight, and ``overall``."""
    weights = prunable_weights(model, include_embeddings)
    out = {}
    zeros = total = 0
    for name, w in weights.items():
        z = int((w == 0).sum())
        out[name] = z / w.numel()
        zeros += z
        total += w.numel()
    out["overall"] = zeros / total if total else 0.0
    return out
