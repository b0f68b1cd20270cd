"""distillation methods."""
