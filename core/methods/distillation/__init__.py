"""Knowledge distillation: build a student, then teach it (task-specific or general)."""

from core.methods.distillation import agnostic, student, task  # noqa: F401
