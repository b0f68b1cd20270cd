"""What a method reports when it cuts structures out of the model.

``model/parameters`` means one thing everywhere: the model's parameter count as
:func:`core.models.architecture.count_parameters` gives it (every weight, zeros
included, shared tensors once, packed and quantized weights by what they hold; the
same count as the final ``parameters`` figure and each step's summary), after
the step that reports it. The engine reports it once before the first step; a
step that changes the count reports it through :func:`report_cut`. Zeros left by
unstructured pruning change no count; ``evaluate`` reports the non-zero count
under ``model/nonzero_parameters``.
"""

from __future__ import annotations

import torch.nn as nn

from core.models.architecture import count_parameters

PARAMETERS_KEY = "model/parameters"


def report_cut(ctx, model: nn.Module, before: int, what: str, detail: str = "") -> int:
    """Report a step that changed the parameter count: ``model/parameters`` and one log line; returns the count.

    ``what`` names the step in the log (``head pruning``), ``detail`` says what it removed.
    """
    after = count_parameters(model)
    ctx.metric(PARAMETERS_KEY, after)
    change = f"{before - after:,} parameters fewer" if after <= before else f"{after - before:,} parameters more"
    ctx.log(f"{what}: {detail + '; ' if detail else ''}{change} ({before:,} -> {after:,})")
    return after
