"""One stored prefix of the step cache, read back; and what a prefix must hold to be stored faithfully."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.engine.cache_keys import CACHE_FORMAT

ENTRY_FILE = "entry.json"


class CacheRefused(Exception):
    """This prefix cannot be cached (its state holds something the cache cannot store faithfully)."""



MAX_ENTRY_BYTES = 64 << 20  # an entry's JSON (its extras hold, say, a pruned vocabulary's id map)

@dataclass(frozen=True)
class CacheEntry:
    """One stored prefix (read from its ``entry.json``)."""

    key: str
    path: Path
    steps: int  # how many leading steps it covers
    methods: tuple[str, ...]
    origins: tuple[str, ...]  # the run that computed each of those steps
    baseline_steps: int | None  # the prefix whose model is the baseline; None: no baseline yet (the original)
    baseline_key: str | None
    global_step: int
    quantized: bool
    source: str
    summaries: tuple[dict, ...]  # each step's StepFinished summary in the run that computed it
    extras: dict[str, Any]
    has_masks: bool
    frozen: tuple[str, ...]  # parameters with requires_grad False
    created: float

    @classmethod
    def read(cls, folder: Path) -> "CacheEntry":
        from core.errors import RecipeError
        from core.recipe_text import load_document  # the one guarded loader: bounded size, UTF-8, no key twice

        try:
            meta = load_document(folder / ENTRY_FILE, "step-cache entry", "json", max_bytes=MAX_ENTRY_BYTES)
        except RecipeError as exc:
            raise ValueError("; ".join(map(str, exc.problems))) from None
        if not isinstance(meta, dict):
            raise ValueError(f"{folder / ENTRY_FILE} is not a JSON object")
        if meta.get("format") != CACHE_FORMAT:
            raise ValueError(f"cache entry format {meta.get('format')!r}")
        return cls(key=meta["key"], path=folder, steps=int(meta["steps"]), methods=tuple(meta["methods"]),
                   origins=tuple(meta["origins"]), baseline_steps=meta.get("baseline_steps"),
                   baseline_key=meta.get("baseline_key"), global_step=int(meta["global_step"]),
                   quantized=bool(meta["quantized"]), source=str(meta.get("source", "")),
                   summaries=tuple(meta.get("summaries", ())), extras=dict(meta.get("extras") or {}),
                   has_masks=bool(meta.get("has_masks")), frozen=tuple(meta.get("frozen", ())),
                   created=float(meta.get("created", 0)))

    def load_state(self, tokenizer, device):
        """The model state after the prefix, on ``device``, with ``tokenizer`` (the run's own)."""
        from safetensors.torch import load_file

        from core.models.reload import load_model_folder as load_export

        state = load_export(self.path / "model")
        extras = json.loads(json.dumps(self.extras))  # a private copy: steps mutate extras
        masks = None
        if self.has_masks:  # entries written before ModelState.masks store them the same way
            masks = load_file(str(self.path / "masks.safetensors"), device=str(device))
        params = dict(state.model.named_parameters())
        for name in self.frozen:
            if name in params:
                params[name].requires_grad_(False)
        state.model.to(device)
        return state.replace(tokenizer=tokenizer, source=self.source, quantized=self.quantized, extras=extras,
                             masks=masks)

    def rng_states(self) -> dict[str, Any]:
        from safetensors.torch import load_file

        return load_file(str(self.path / "rng.safetensors"))

    def size_bytes(self) -> int:
        return _folder_size(self.path)


def _folder_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _checked_masks(masks) -> dict | None:
    """``state.masks`` if it is a mapping of names to tensors (None when empty); else CacheRefused."""
    import torch

    if not masks:
        return None
    if not isinstance(masks, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in masks.items()):
        raise CacheRefused("its pruning masks are not a mapping of tensors")
    return masks


def _plain_extras(extras: dict[str, Any]) -> dict[str, Any]:
    """The extras as JSON data; refuse anything that would not come back equal."""
    plain: dict[str, Any] = {}
    for key, value in extras.items():
        try:
            again = json.loads(json.dumps(value))
        except (TypeError, ValueError):
            raise CacheRefused(f"state.extras[{key!r}] is not plain data") from None
        if again != value:
            raise CacheRefused(f"state.extras[{key!r}] would not come back the same from JSON")
        plain[key] = value
    return plain


def rng_snapshot(device) -> dict[str, Any]:
    import torch

    states = {"cpu": torch.get_rng_state()}
    if getattr(device, "type", str(device)) == "cuda" and torch.cuda.is_available():
        for i, st in enumerate(torch.cuda.get_rng_state_all()):
            states[f"cuda{i}"] = st
    return states


def restore_rng(states: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(states["cpu"])
    cuda = [states[k] for k in sorted((k for k in states if k.startswith("cuda")), key=lambda k: int(k[4:]))]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
