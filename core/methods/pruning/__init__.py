"""Pruning methods: unstructured magnitude (one-shot and gradual), heads, FFN neurons, layers, LayerDrop."""

from core.methods.pruning import ffn, gradual, heads, layerdrop, layers, magnitude  # noqa: F401
