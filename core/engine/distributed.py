"""One recipe, one run, on several processes: data-parallel runs under ``torchrun`` / ``accelerate launch``.

A launcher starts N copies of ``bert-studio run RECIPE`` with ``RANK`` /
``WORLD_SIZE`` / ``MASTER_ADDR`` set. :func:`setup` joins them into one
``torch.distributed`` process group (gloo on CPU, NCCL on GPUs) with a timeout
on every collective; accelerate adopts that group, so the training loop's
``Accelerator`` shards the data and synchronises the gradients. This module
adds what accelerate does not do for a whole recipe:

- the run id comes from rank 0, and only rank 0 records, saves and evaluates;
- rank 0 decides which heads, neurons and layers a structural step keeps and
  every rank applies its choice (:func:`decide`); after every step all ranks
  must hold the same architecture (checked) and rank 0's weights (broadcast);
- cancel and pause are all-reduced once per training step, so every rank stops
  at the same step;
- each rank writes a heartbeat and, when it fails, its error into the
  launcher's key-value store; a rank that sees a collective fail, or is
  stopped by the launcher (SIGTERM), names the rank that died and why.

Without ``WORLD_SIZE`` > 1 every function here is a no-op for one process.
"""

from __future__ import annotations

import atexit
import datetime
import os
import signal
import socket
import threading
import time

from core.errors import RunCancelled, StudioError

TIMEOUT_ENV = "BERT_STUDIO_DIST_TIMEOUT"
DEFAULT_TIMEOUT = 1800.0  # seconds a collective waits; the main-only evaluation happens inside one such wait
HEARTBEAT = 0.5  # seconds between heartbeats
SILENT_AFTER = 1.5  # a rank without a heartbeat for this long is gone
_PREFIX = "bert-studio/"


class _State:
    def __init__(self) -> None:
        self.active = False
        self.rank = 0
        self.world = 1
        self.local_rank = 0
        self.backend = ""
        self.control_group = None  # gloo: flags and objects travel on CPU even when training uses NCCL
        self.store = None
        self.stop = threading.Event()
        self.terminated = ""  # why the launcher stopped this process ("" while it has not)
        self.controls: list = []
        self.reported = False
        self.overruled = 0  # structural choices of this rank that rank 0's replaced (see decide)


_state = _State()


def world_size() -> int:
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def launched() -> bool:
    """Whether a launcher started this process as one of several."""
    return world_size() > 1


def active() -> bool:
    return _state.active


def rank() -> int:
    return _state.rank


def size() -> int:
    return _state.world


def is_main() -> bool:
    """True on rank 0, and in a run of one process."""
    return _state.rank == 0


def timeout() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def setup(device: str = "auto") -> bool:
    """Join the launcher's process group once (later calls return at once); False for a run of one process.

    Call it from the main thread where possible (the CLI does): only there can the SIGTERM handler be
    installed that lets rank 0 record a failure when the launcher stops it because another rank died.
    """
    if _state.active or not launched():
        return _state.active
    import torch
    import torch.distributed as dist

    _state.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(_state.local_rank)
    wait = datetime.timedelta(seconds=timeout())
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", timeout=wait)
    _state.backend = dist.get_backend()
    _state.rank, _state.world = dist.get_rank(), dist.get_world_size()
    _state.control_group = None if _state.backend == "gloo" else dist.new_group(backend="gloo", timeout=wait)
    try:  # the launcher's store outlives a dead rank (torchrun hosts it in its agent)
        _state.store = dist.distributed_c10d._get_default_store()
    except Exception:  # private API: without it the failure message names less
        _state.store = None
    _state.active = True
    threading.Thread(target=_heartbeat, name="dist-heartbeat", daemon=True).start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    atexit.register(_shutdown)
    return True


def local_device(device):
    """This rank's GPU (``cuda:LOCAL_RANK``) where the run asks for CUDA without an index."""
    import torch

    if _state.active and device.type == "cuda" and device.index is None:
        return torch.device("cuda", _state.local_rank)
    return device


def attach(control) -> None:
    """Let a SIGTERM from the launcher cancel this run's ``control`` (and fail the run, see :func:`failure`)."""
    _state.controls.append(control)


# -- collectives ---------------------------------------------------------------
def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank."""
    if not _state.active:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0, group=_state.control_group)
    return box[0]


def decide(choice):
    """Rank 0's structural ``choice`` (which heads, neurons, layers a step keeps) applied on every rank.

    Each rank computes its choice from its own importance scores; on GPUs near-ties differ between ranks, so
    the ranks would cut different units. Every selection goes through :mod:`core.methods.selection`, which
    calls this: rank 0 decides, the others take its choice (and count it when their own differed).
    """
    if not _state.active:
        return choice
    chosen = broadcast_object(choice)
    if chosen != choice:
        _state.overruled += 1
    return chosen


def overruled() -> int:
    """How many structural choices of this rank differed from rank 0's (and were replaced by it)."""
    return _state.overruled


def gather_objects(obj) -> list:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not _state.active:
        return [obj]
    import torch.distributed as dist

    out = [None] * _state.world
    dist.all_gather_object(out, obj, group=_state.control_group)
    return out


def mean(values: dict[str, float]) -> dict[str, float]:
    """The mean of each value over the ranks (every rank must call this with the same keys)."""
    if not _state.active or not values:
        return values
    import torch
    import torch.distributed as dist

    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(t, group=_state.control_group)
    return {k: float(v) / _state.world for k, v in zip(keys, t.tolist())}


def sync_check(ctx) -> None:
    """``ctx.check()`` for all ranks at once: any rank's cancel stops every rank; any rank's pause holds all.

    Called once per training step on every rank; a pause keeps exchanging flags (each exchange is short),
    so a long pause does not run into the collectives' timeout.
    """
    if not _state.active:
        ctx.check()
        return
    import torch
    import torch.distributed as dist

    held = False
    while True:
        control = ctx.control
        flags = torch.tensor([int(control.cancelled or bool(_state.terminated)), int(control.paused)])
        dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=_state.control_group)
        if flags[0]:
            raise RunCancelled()
        if bool(flags[1]) != held:  # every rank holds (or goes on) from here: acknowledged as one run
            held = bool(flags[1])
            ctx.held(held)
        if not held:
            return
        time.sleep(0.2)


def architecture(model) -> list:
    """The shapes of every parameter and buffer: equal on two ranks when their models have the same layout."""
    return [(name, tuple(t.shape)) for name, t in list(model.named_parameters()) + list(model.named_buffers())]


def agree(ctx, model, index: int, method: str) -> None:
    """After a step: all ranks must hold the same architecture (else the run fails); then rank 0's weights.

    Every structural choice is rank 0's (:func:`decide`), so the layouts agree; the check catches a cut
    made outside :mod:`core.methods.selection`, and the broadcast removes floating-point differences
    before the next step.
    """
    if not _state.active:
        return
    import hashlib

    import torch
    import torch.distributed as dist

    mine = hashlib.sha1(repr(architecture(model)).encode()).hexdigest()[:12]
    prints, overruled = zip(*gather_objects((mine, _state.overruled)))
    _state.overruled = 0
    if len(set(prints)) > 1:
        odd = [r for r, p in enumerate(prints) if p != prints[0]]
        raise StudioError(f"after step {index + 1} ({method}) the processes hold different architectures: "
                          f"rank(s) {odd} differ from rank 0 (fingerprints {list(prints)})")
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                dist.broadcast(t.data, src=0)
    if is_main():
        ctx.log(f"all {_state.world} processes hold the same architecture after step {index + 1} ({method}): "
                + ", ".join(f"rank {r} {p}" for r, p in enumerate(prints)))
        replaced = {r: n for r, n in enumerate(overruled) if n}
        if replaced:
            ctx.log(f"step {index + 1} ({method}): rank 0's structural choice replaced a different one of "
                    + ", ".join(f"rank {r} ({n} time{'s' if n > 1 else ''})" for r, n in replaced.items()))


# -- failure -------------------------------------------------------------------
def _key(kind: str, r: int) -> str:
    return f"{_PREFIX}{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/{kind}/{r}"


def _heartbeat() -> None:
    # A beat count, not a timestamp: the ranks' machines may disagree about the time (clock skew), so a peer is
    # judged silent by its count not moving while the judging rank waits on its own monotonic clock.
    me = f"{os.getpid()}@{socket.gethostname()}"
    beat = 0
    while not _state.stop.is_set() and _state.store is not None:
        beat += 1
        try:
            _state.store.set(_key("alive", _state.rank), f"{beat}|{me}")
        except Exception:  # the store went away with the launcher
            return
        _state.stop.wait(HEARTBEAT)


def _on_sigterm(signum, frame) -> None:
    _state.terminated = "the launcher stopped this process (SIGTERM)"
    for control in _state.controls:
        control.cancel()


def report(error: str) -> None:
    """Leave this rank's error where the other ranks look for it (:func:`failure`)."""
    if not _state.active or _state.store is None or _state.reported:
        return
    _state.reported = True
    try:
        _state.store.set(_key("failed", _state.rank), error[:2000])
    except Exception:
        pass


def terminated() -> str:
    return _state.terminated


def failure(cause: str) -> str:
    """A failure message that names the rank that died and why, seen from this rank (``cause``: what it saw)."""
    if not _state.active:
        return cause
    peers = [r for r in range(_state.world) if r != _state.rank]
    before = {r: _beat(r) for r in peers}
    began = time.monotonic()
    time.sleep(SILENT_AFTER + HEARTBEAT)  # a live rank beats meanwhile; a dead one's report arrives
    waited = time.monotonic() - began
    found = []
    for r in peers:
        found += _peer_state(r, before[r], waited)
    me = f"process rank {_state.rank} of {_state.world}"
    if not found:
        return f"{me}: {cause}"
    return f"{'; '.join(found)} (seen from {me}: {cause})"


def _beat(r: int) -> str | None:
    """Rank ``r``'s last heartbeat count (None: none yet, or the store is unreachable)."""
    try:
        if _state.store is None or not _state.store.check([_key("alive", r)]):
            return None
        return _state.store.get(_key("alive", r)).decode().split("|", 1)[0]
    except Exception:
        return None


def _peer_state(r: int, before: str | None, age: float) -> list[str]:
    """What became of rank ``r``, whose heartbeat count was ``before`` ``age`` seconds ago (this rank's clock)."""
    store = _state.store
    if store is None:
        return []
    try:
        if store.check([_key("failed", r)]):
            return [f"process rank {r} of {_state.world} failed: {store.get(_key('failed', r)).decode()}"]
        if not store.check([_key("alive", r)]):
            return [f"process rank {r} of {_state.world} never started its heartbeat"]
        beat, who = store.get(_key("alive", r)).decode().split("|", 1)
    except Exception as exc:
        return [f"the launcher's store is unreachable ({exc}); rank 0 or the launcher may be gone"]
    if beat != before or age < SILENT_AFTER:
        return []
    pid, host = who.split("@", 1)
    name = f"process rank {r} of {_state.world} (pid {pid} on {host})"
    exists = None
    if host == socket.gethostname():
        try:
            os.kill(int(pid), 0)
            exists = True
        except ProcessLookupError:
            exists = False
        except (PermissionError, ValueError):
            pass
    if exists:
        return [f"{name} stopped answering: no heartbeat for {age:.1f} s, its process still exists (hung or stopped)"]
    where = ", its process has exited" if exists is False else ""
    return [f"{name} died: no heartbeat for {age:.1f} s and no error reported{where}; it was killed (a signal such as "
            f"SIGKILL, or the out-of-memory killer) or crashed"]


def _shutdown() -> None:
    _state.stop.set()
    if not _state.active or _state.terminated or _state.reported:
        return  # a failed group is left to the process exit: destroying it could wait on a dead peer
    try:
        import torch.distributed as dist

        dist.destroy_process_group()
    except Exception:
        pass
