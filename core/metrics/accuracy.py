"""Classification accuracy and loss over a data loader."""

from __future__ import annotations

import torch


def model_device(model) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@torch.no_grad()
def evaluate_accuracy(model, loader, check=None, per_example: bool = False) -> dict:
    """Accuracy, mean cross-entropy and the number of examples; ``check`` is called between batches (cancellation).

    With ``per_example`` the result also holds ``correct``: one bool per example in loader order, for paired
    comparisons of two models on the same examples (:func:`core.metrics.intervals.paired_retained`).
    """
    was_training = model.training
    model.eval()
    device = model_device(model)
    correct = total = 0
    loss_sum = 0.0
    hits: list[bool] = []
    for batch in loader:
        if check:
            check()
        batch = {k: v.to(device) for k, v in batch.items()}
        labels = batch.pop("labels")
        logits = model(**batch).logits
        loss_sum += float(torch.nn.functional.cross_entropy(logits.float(), labels, reduction="sum"))
        right = logits.argmax(-1) == labels
        correct += int(right.sum())
        if per_example:
            hits.extend(bool(x) for x in right.tolist())
        total += int(labels.numel())
    model.train(was_training)
    out = ({"accuracy": float("nan"), "loss": float("nan"), "samples": 0} if total == 0 else
           {"accuracy": correct / total, "loss": loss_sum / total, "samples": total})
    if per_example:
        out["correct"] = hits
    return out
