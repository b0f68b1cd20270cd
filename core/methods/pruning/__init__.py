"""Pruning methods: unstructured magnitude (one-shot and gradual), heads, FFN neurons, layers, LayerDrop, vocabulary."""

from core.methods.pruning import ffn, gradual, heads, layerdrop, layers, magnitude, movement, rpp, vocabulary  # noqa: F401
