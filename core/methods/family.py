"""The check every structural or training method makes first: can it apply to this family and state?"""

from __future__ import annotations

import dataclasses
from typing import Any

from core.models.adapters import Adapter, check_method


def checked_adapter(method: str, state, cfg: Any = None, ctx=None, structural: bool = False) -> Adapter:
    """The model's adapter, or a ``FamilyRefusal`` naming the family and the reason.

    ``structural`` steps that change a shared layer (ALBERT) say so in the step log.
    """
    settings = dataclasses.asdict(cfg) if cfg is not None and dataclasses.is_dataclass(cfg) else None
    adapter = check_method(method, state.model, settings, bool(getattr(state, "quantized", False)))
    note = adapter.sharing_note(state.model) if structural else ""
    if note and ctx is not None:
        ctx.log(f"{method}: {note}")
    return adapter
