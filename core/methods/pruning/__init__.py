"""Pruning methods: unstructured magnitude (one-shot and gradual), heads, FFN neurons, layers."""

from core.methods.pruning import magnitude  # noqa: F401
