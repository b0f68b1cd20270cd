"""Pick the compute device for a run."""

from __future__ import annotations


def resolve_device(preference: str = "auto"):
    import torch

    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        from core.errors import StudioError

        raise StudioError("the recipe asks for CUDA but no GPU is available; set device to auto or cpu")
    return device
