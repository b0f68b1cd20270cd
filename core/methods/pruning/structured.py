"""Bookkeeping shared by the structured pruning methods: extras, recovery training (selection: :mod:`core.methods.selection`).

Kept consistent here after a structured cut: ``state.masks`` (unstructured
masks, sliced with the weights) and ``state.extras['sensitivity']`` (scores from
``analyze.sensitivity``, sliced to the heads and layers that stay).
"""

from __future__ import annotations

from core.methods.selection import select_per_layer, select_removals  # noqa: F401  (their home before)
from core.models.surgery import reconcile_masks

SENSITIVITY_KEY = "sensitivity"


def stored_sensitivity(state) -> dict | None:
    return state.extras.get(SENSITIVITY_KEY)


def slice_sensitivity(sens: dict | None, heads: dict[int, list[int]] | None = None,
                      layers: list[int] | None = None) -> dict | None:
    """Scores of the heads / layers that stay, so a later step still lines them up with the model."""
    if not sens:
        return sens
    out = dict(sens)
    if heads is not None:
        for key in [k for k, v in sens.items() if k.startswith("heads") and isinstance(v, list)]:
            out[key] = [[row[h] for h in heads.get(i, range(len(row)))] for i, row in enumerate(sens[key])]
    if layers is not None:
        for key, value in sens.items():
            if isinstance(value, list) and (key.startswith("layers") or key.startswith("heads")):
                source = out[key]
                out[key] = [source[i] for i in layers if i < len(source)]
    return out


def update_extras(state, model, masks, *, heads=None, layers=None, ctx=None):
    """A new state with ``model``, sliced masks (stale ones dropped) and sliced sensitivity scores."""
    new = state.replace(model=model)
    if masks is not None or new.masks is not None:
        kept, dropped = reconcile_masks(model, masks)
        if dropped and ctx is not None:
            ctx.log(f"dropped {len(dropped)} pruning masks that no longer match a weight", "warning")
        new.masks = kept
    if SENSITIVITY_KEY in new.extras:
        new.extras[SENSITIVITY_KEY] = slice_sensitivity(new.extras[SENSITIVITY_KEY], heads, layers)
    return new


def recover(ctx, model, epochs: float, learning_rate: float, batch_size: int, masks, prefix: str = "recovery"):
    """A short fine-tuning through the shared training loop (no-op for ``epochs == 0``)."""
    if epochs <= 0:
        return model
    from core.engine.training import TrainSettings, train_model

    settings = TrainSettings(epochs=epochs, learning_rate=learning_rate, batch_size=batch_size)
    return train_model(ctx, model, settings, ctx.task, masks=masks, prefix=prefix)
