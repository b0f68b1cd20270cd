"""Analysis methods: measure the model without changing it (head and layer sensitivity)."""

from core.methods.analysis import sensitivity  # noqa: F401
