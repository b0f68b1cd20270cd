"""The step cache: a run whose leading steps match an earlier finished run's starts from that prefix's checkpoint.

Fine-tuning the teacher is the expensive step every stack of a study shares
(minutes to hours), so the engine keeps, for each prefix of a finished run's
stack, what the next step needs to carry on exactly as if the prefix had just
run: the model (the run's own checkpoint format, :mod:`core.export.checkpoint`,
so per-layer pruned, factorized, shared or int8 models come back with their
shapes), ``state.masks`` (as tensors), ``state.extras`` (as plain JSON), the random
number generators, the global training step, and which prefix's model is the
baseline (the fine-tuned teacher later steps distil from and the final figures
are measured against). A prefix that leaves anything else behind cannot be
cached and is simply recomputed.

An entry is keyed by :meth:`StepCache.key_for`: a hash of everything that
decides the prefix's result. It lives in a folder of its own under the cache
root (beside the database, see :func:`cache_root_for`) and is written whole
into a staging folder, then renamed into place, so readers never see half an
entry and two processes storing the same prefix do not collide. The cache is
capped; the least recently used entries go first.

Layout of an entry folder::

    entry.json        what the prefix was, who computed each step, baseline, global step, plain extras
    model/            the model as a run checkpoint (no tokenizer: the run has its own)
    masks.safetensors state.masks when present
    rng.safetensors   torch's CPU (and CUDA) generator states after the prefix
    last_used         its modification time orders the entries for eviction
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when what an entry holds, or how its key is made, changes
DEFAULT_CAP_BYTES = 10 * 1024**3
CAP_ENV = "BERT_STUDIO_CACHE_GB"  # overrides the default cap, in GiB
ENTRY_FILE = "entry.json"
STAGING = ".staging"
STALE_STAGING_S = 24 * 3600  # a staging folder this old belongs to a run that died


class CacheRefused(Exception):
    """This prefix cannot be cached (its state holds something the cache cannot store faithfully)."""


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


# -- what decides a prefix's result ------------------------------------------------
def _files_fingerprint(path: Path, limit: int = 10_000) -> list:
    """Name, size and modification time of a file, or of every file in a folder (a changed file is a new key)."""
    if path.is_file():
        st = path.stat()
        return [[path.name, st.st_size, st.st_mtime_ns]]
    out = []
    for i, file in enumerate(sorted(p for p in path.rglob("*") if p.is_file())):
        if i >= limit:
            break
        st = file.stat()
        out.append([str(file.relative_to(path)), st.st_size, st.st_mtime_ns])
    return out


def model_fingerprint(source: str) -> dict[str, Any]:
    from core.models.loading import DEFAULT_SOURCE, TINY_SOURCE, resolve_source

    if source == TINY_SOURCE:
        return {"source": source}
    try:
        path = Path(resolve_source(source)).expanduser()
    except Exception:  # the default model not installed: the run fails on its own, with its own message
        return {"source": source}
    if path.exists():
        return {"source": source if source == DEFAULT_SOURCE else str(path.resolve()), "files": _files_fingerprint(path)}
    return {"source": source}  # a hub name (online only)


def data_fingerprint(source: str) -> dict[str, Any]:
    from core.data.sources import DEFAULT_SOURCE

    if source == DEFAULT_SOURCE:
        try:
            from core.data.default import default_data_path

            return {"source": source, "files": _files_fingerprint(default_data_path())}
        except Exception:
            return {"source": source}
    path = Path(source).expanduser()
    if path.exists():
        return {"source": str(path.resolve()), "files": _files_fingerprint(path)}
    return {"source": source}


def step_identity(step) -> dict[str, Any]:
    """Method, its version and its full effective settings (defaults filled in)."""
    spec = step.spec()
    return {"method": step.method, "version": spec.version, "settings": dataclasses.asdict(step.config())}


def _libraries() -> dict[str, str]:
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__}


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# -- entries ---------------------------------------------------------------------
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
        meta = json.loads((folder / ENTRY_FILE).read_text(encoding="utf-8"))
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
            "device": getattr(dev, "type", str(dev)),
            "libraries": _libraries(),
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
        staging = self.root / STAGING
        if not staging.is_dir():
            return
        now = time.time()
        for folder in staging.iterdir():
            try:
                if now - folder.stat().st_mtime > STALE_STAGING_S:
                    shutil.rmtree(folder, ignore_errors=True)
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
