"""Quantization methods: post-training dynamic int8, quantization-aware training, k-bit weights."""

from core.methods.quantization import dynamic, kbit, qat  # noqa: F401
