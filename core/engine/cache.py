"""The step cache: a run whose leading steps match an earlier finished run's starts from that prefix's checkpoint.

Fine-tuning the teacher is the expensive step every stack of a study shares
(minutes to hours), so the engine keeps, for a prefix of a finished run's stack
that a later run can reuse, what the next step needs to carry on exactly as if
the prefix had just run: the model (the run's own checkpoint format,
:mod:`core.export.checkpoint`, so per-layer pruned, factorized, shared or int8
models come back with their shapes), ``state.masks`` (as tensors),
``state.extras`` (as plain JSON), the random number generators, the global
training step, and which prefix's model is the baseline (the fine-tuned teacher
later steps distil from and the final figures are measured against). A prefix
that leaves anything else behind cannot be cached and is simply recomputed; a
method whose spec says ``cacheable=False`` keeps every prefix from its step on
out of the cache.

Which prefixes are written (:mod:`core.engine.prefixes`): a checkpoint costs as
much disk as the model, so a run keeps only what a later run can reuse: the
prefix that makes the baseline (the fine-tuned teacher: every later stack from
the same model, data, seed and fine-tune starts there), and a prefix that is
shared: one an earlier finished run computed too (each finished run notes the
keys it computed under ``.seen/``, a few bytes each; computing one again shows
two stacks share it, so a third will too), or one a study expects its trials to
share (:meth:`StepCache.expect`, from the planned recipes).

An entry is keyed by :meth:`StepCache.key_for`: a hash of everything that
decides the prefix's result (:mod:`core.engine.cache_keys`; each method's code
version among it, so a changed method is a miss). It lives in a folder of its
own under the cache root (beside the database, see :func:`cache_root_for`) and
is written whole into a staging folder, then renamed into place, so readers
never see half an entry and two processes storing the same prefix do not
collide. The cache is capped; the least recently used entries go first.

Layout of an entry folder (read by :class:`~core.engine.cache_entry.CacheEntry`)::

    entry.json        what the prefix was, who computed each step, baseline, global step, plain extras
    model/            the model as a run checkpoint (no tokenizer: the run has its own)
    masks.safetensors state.masks when present
    rng.safetensors   torch's CPU (and CUDA) generator states after the prefix
    last_used         its modification time orders the entries for eviction
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Sequence

from core.engine.cache_entry import (ENTRY_FILE, CacheEntry, CacheRefused, _checked_masks,  # noqa: F401 (API)
                                     _folder_size, _plain_extras, restore_rng, rng_snapshot)
from core.engine.cache_keys import (CACHE_FORMAT, _digest, _libraries, data_fingerprint,  # noqa: F401 (API)
                                    engine_version, model_fingerprint, step_identity)

log = logging.getLogger(__name__)

DEFAULT_CAP_BYTES = 10 * 1024**3
CAP_ENV = "BERT_STUDIO_CACHE_GB"  # overrides the default cap, in GiB
STAGING = ".staging"
SEEN = ".seen"  # one empty file per prefix key a finished run computed (see StepCache.note_computed)
STALE_STAGING_S = 24 * 3600  # a staging folder this old belongs to a run that died
STALE_SEEN_S = 30 * 24 * 3600  # a prefix nobody computed again in a month is forgotten


# -- where the cache lives ------------------------------------------------------
def cache_root_for(db_url: str | None = None) -> Path:
    """Beside the database: ``studio.db`` -> ``studio.step-cache/``; for a server database, the app data folder."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from core.env import default_database_url, studio_home

    text = db_url or default_database_url()
    try:
        url = make_url(text)
    except ArgumentError:
        return studio_home() / "step-cache"
    name = url.database or ""
    if url.get_backend_name() == "sqlite" and name not in ("", ":memory:") and not name.startswith("file:") \
            and not url.query.get("uri"):
        path = Path(name).expanduser().resolve()
        return path.with_name(path.stem + ".step-cache")
    return studio_home() / "step-cache"


def default_cap_bytes() -> int:
    raw = os.environ.get(CAP_ENV)
    if raw:
        try:
            return max(0, int(float(raw) * 1024**3))
        except ValueError:
            log.warning("%s=%r is not a number of GiB; using the default cap", CAP_ENV, raw)
    return DEFAULT_CAP_BYTES


# -- the cache --------------------------------------------------------------------------
class StepCache:
    """Prefix checkpoints under ``root``, at most ``cap_bytes`` in all (least recently used go first)."""

    def __init__(self, root: str | Path, cap_bytes: int | None = None):
        self.root = Path(root)
        self.cap_bytes = default_cap_bytes() if cap_bytes is None else int(cap_bytes)

    @classmethod
    def for_database(cls, db_url: str | None = None, cap_bytes: int | None = None) -> "StepCache":
        return cls(cache_root_for(db_url), cap_bytes)

    def __repr__(self) -> str:
        return f"StepCache({str(self.root)!r}, cap_bytes={self.cap_bytes})"

    # -- keys ----------------------------------------------------------------------------
    def prefix_keys(self, recipe, device=None) -> list[str]:
        """``keys[n]`` identifies the first ``n`` steps of ``recipe`` (``keys[0]``: no step, model and data only)."""
        from core.engine.device import resolve_device

        dev = device if device is not None else resolve_device(recipe.device)
        base = {
            "format": CACHE_FORMAT,
            "model": model_fingerprint(recipe.model.source),
            "data": {**dataclasses.asdict(recipe.data), "source": data_fingerprint(recipe.data.source)},
            "seed": recipe.seed,
            "task": getattr(recipe, "task", "sequence-classification"),  # the head differs per task
            "device": getattr(dev, "type", str(dev)),
            "libraries": _libraries(),
            "engine": engine_version(),
        }
        keys = [_digest(base)]
        for step in recipe.steps:
            keys.append(_digest({"prefix": keys[-1], "step": step_identity(step)}))
        return keys

    def key_for(self, recipe, upto_step: int, device=None) -> str:
        """The key of ``recipe``'s first ``upto_step`` steps."""
        if not 0 <= upto_step <= len(recipe.steps):
            raise ValueError(f"upto_step must be between 0 and {len(recipe.steps)}; got {upto_step}")
        return self.prefix_keys(recipe, device)[upto_step]

    # -- reading ---------------------------------------------------------------------------
    def entry(self, key: str) -> CacheEntry | None:
        folder = self.root / key
        if not (folder / ENTRY_FILE).is_file():
            return None
        try:
            return CacheEntry.read(folder)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the unreadable step-cache entry %s: %s", folder, exc)
            return None

    def lookup(self, recipe, device=None, keys: Sequence[str] | None = None) -> tuple[int, CacheEntry] | None:
        """The longest cached prefix of ``recipe``'s steps as ``(steps reused, entry)``, or None.

        An entry whose baseline entry has been evicted cannot be resumed faithfully and is passed over.
        """
        keys = list(keys) if keys is not None else self.prefix_keys(recipe, device)
        for n in range(len(keys) - 1, 0, -1):
            found = self.entry(keys[n])
            if found is None or found.steps != n:
                continue
            if found.baseline_key and found.baseline_steps != n and self.entry(found.baseline_key) is None:
                continue
            self.touch(found)
            if found.baseline_key and found.baseline_steps != n:
                self.touch(self.root / found.baseline_key)
            return n, found
        return None

    def touch(self, entry: CacheEntry | Path) -> None:
        folder = entry.path if isinstance(entry, CacheEntry) else Path(entry)
        try:
            (folder / "last_used").touch()
        except OSError:
            pass

    def entries(self) -> list[CacheEntry]:
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            entry = self.entry(folder.name)
            if entry is not None:
                found.append(entry)
        return found

    def size_bytes(self) -> int:
        """Bytes on disk, staging folders of runs in progress included."""
        return _folder_size(self.root) if self.root.is_dir() else 0

    # -- writing -----------------------------------------------------------------------------
    def stage(self, key: str, state, meta: dict[str, Any], rng: dict[str, Any]) -> Path:
        """Write an entry into a staging folder; :meth:`commit` moves it into place. Raises CacheRefused."""
        from safetensors.torch import save_file

        from core.errors import ExportError
        from core.models.checkpoint import write_model_folder

        plain, masks = _plain_extras(state.extras), _checked_masks(state.masks)
        staging = self.root / STAGING / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        (staging / "model").mkdir(parents=True)
        try:
            try:
                write_model_folder(state.replace(tokenizer=None), staging / "model")
            except ExportError as exc:
                raise CacheRefused(f"its model cannot be saved faithfully ({exc})") from None
            if masks:
                save_file({k: v.detach().to("cpu").contiguous() for k, v in masks.items()},
                          str(staging / "masks.safetensors"))
            save_file({k: v.contiguous() for k, v in rng.items()}, str(staging / "rng.safetensors"))
            frozen = [n for n, p in state.model.named_parameters() if not p.requires_grad]
            record = {**meta, "format": CACHE_FORMAT, "key": key, "extras": plain, "has_masks": bool(masks),
                      "quantized": bool(state.quantized), "source": state.source, "frozen": frozen,
                      "created": time.time()}
            (staging / ENTRY_FILE).write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
            (staging / "last_used").touch()
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return staging

    def commit(self, staged: Iterable[tuple[str, Path]]) -> list[str]:
        """Move staged entries into place (an entry another run stored meanwhile wins); returns the keys added."""
        added = []
        for key, folder in staged:
            target = self.root / key
            if target.exists():
                shutil.rmtree(folder, ignore_errors=True)
                continue
            try:
                os.replace(folder, target)
                added.append(key)
            except OSError as exc:  # the cache was cleared meanwhile, or the other run won the race
                log.info("could not add step-cache entry %s: %s", key, exc)
                shutil.rmtree(folder, ignore_errors=True)
        if added:
            self.evict(keep=set())
        return added

    def discard(self, staged: Iterable[tuple[str, Path]]) -> None:
        for _, folder in staged:
            shutil.rmtree(folder, ignore_errors=True)

    def store(self, key: str, state, meta: dict[str, Any], rng: dict[str, Any]) -> CacheEntry | None:
        """Stage and commit one entry at once; returns it (None when it could not be added)."""
        folder = self.stage(key, state, meta, rng)
        self.commit([(key, folder)])
        return self.entry(key)

    # -- which prefixes are worth keeping ------------------------------------------------------
    def note_computed(self, keys: Iterable[str]) -> None:
        """Remember that a finished run computed these prefixes (a marker of a few bytes each, no model).

        A prefix computed a second time is shared by more than one stack, so the run that computes it
        again keeps its checkpoint (:meth:`wanted`).
        """
        folder = self.root / SEEN
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for key in keys:
                (folder / key).touch()
        except OSError as exc:  # a read-only or full disk: the cache keeps less, the run is not hurt
            log.info("could not note computed prefixes in %s: %s", folder, exc)

    def expect(self, recipes: Iterable[Any], device=None) -> int:
        """Note the prefixes that two or more of ``recipes`` share (a study's planned trials), before any runs.

        The first run that computes such a prefix then keeps it, and the others start from it. Returns how many
        prefixes were noted.
        """
        counts: dict[str, int] = {}
        for recipe in recipes:
            try:
                keys = self.prefix_keys(recipe, device)[1:]
            except Exception as exc:  # an unreadable model or data folder: that trial's run reports it
                log.info("no shared prefixes noted for recipe %r: %s", getattr(recipe, "name", ""), exc)
                continue
            for key in keys:
                counts[key] = counts.get(key, 0) + 1
        shared = [key for key, n in counts.items() if n > 1]
        self.note_computed(shared)
        return len(shared)

    def wanted(self, key: str) -> bool:
        """Whether an earlier run computed this prefix (or a study expects it): a later run would reuse it."""
        return (self.root / SEEN / key).is_file()

    # -- housekeeping ---------------------------------------------------------------------------
    def evict(self, keep: set[str] | None = None) -> list[str]:
        """Remove least recently used entries until the cache is under its cap; returns the keys removed."""
        keep = keep or set()
        self._sweep_staging()
        sized = []
        for entry in self.entries():
            try:
                used = (entry.path / "last_used").stat().st_mtime
            except OSError:
                used = entry.created
            sized.append((used, entry.key, entry.size_bytes()))
        total = self.size_bytes()
        removed = []
        for _, key, size in sorted(sized):
            if total <= self.cap_bytes:
                break
            if key in keep:
                continue
            shutil.rmtree(self.root / key, ignore_errors=True)
            total -= size
            removed.append(key)
        return removed

    def _sweep_staging(self) -> None:
        now = time.time()
        for name, age in ((STAGING, STALE_STAGING_S), (SEEN, STALE_SEEN_S)):
            folder = self.root / name
            if not folder.is_dir():
                continue
            for child in folder.iterdir():
                try:
                    if now - child.stat().st_mtime <= age:
                        continue
                    if child.is_dir():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink(missing_ok=True)
                except OSError:
                    pass

    def clear(self) -> int:
        """Remove every entry (and any staging folder); returns the bytes freed."""
        size = self.size_bytes()
        if self.root.is_dir():
            for child in self.root.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        return size - self.size_bytes()


# -- what a run reused, in words ---------------------------------------------------------------
REUSED_KEY = "reused_from"  # in a reused step's StepFinished summary (and so the run's step rows): the run id


def describe_reuse(steps: Iterable[Any]) -> str | None:
    """``"steps 1–2 from run 3f2a9c1e"`` from a run's steps (anything with ``.index`` and ``.summary``), or None."""
    reused = sorted((s.index, str(s.summary[REUSED_KEY])) for s in steps
                    if isinstance(getattr(s, "summary", None), dict) and s.summary.get(REUSED_KEY))
    if not reused:
        return None
    groups: list[list] = []
    for index, origin in reused:
        if groups and groups[-1][2] == origin and groups[-1][1] == index - 1:
            groups[-1][1] = index
        else:
            groups.append([index, index, origin])
    parts = []
    for first, last, origin in groups:
        span = f"step {first + 1}" if first == last else f"steps {first + 1}\u2013{last + 1}"
        parts.append(f"{span} from run {origin[:8]}")
    return ", ".join(parts)
