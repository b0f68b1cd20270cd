"""Weight sharing: ALBERT-style cross-layer parameter sharing."""

from core.methods.sharing import layers  # noqa: F401
