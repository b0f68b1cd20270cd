"""Classification accuracy and loss over a data loader."""

from __future__ import annotations

import torch


def model_device(model) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@torch.no_grad()
def evaluate_accuracy(model, loader, check=None) -> dict[str, float]:
    """Accuracy and mean cross-entropy; ``check`` is called between batches (cancellation)."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    correct = total = 0
    loss_sum = 0.0
    for batch in loader:
        if check:
            check()
        batch = {k: v.to(device) for k, v in batch.items()}
        labels = batch.pop("labels")
        logits = model(**batch).logits
        loss_sum += float(torch.nn.functional.cross_entropy(logits.float(), labels, reduction="sum"))
        correct += int((logits.argmax(-1) == labels).sum())
        total += int(labels.numel())
    model.train(was_training)
    if total == 0:
        return {"accuracy": float("nan"), "loss": float("nan"), "samples": 0}
    return {"accuracy": correct / total, "loss": loss_sum / total, "samples": total}
