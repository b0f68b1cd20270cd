"""Factorization methods: ALBERT-style embeddings and low-rank linear layers (truncated SVD)."""

from core.methods.factorization import embeddings, linear, modules  # noqa: F401
