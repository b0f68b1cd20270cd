"""The runner's side of the step cache for one run: resume from a cached prefix, stage new ones, commit.

A run resumes from the longest prefix of its stack found in the
:class:`~core.engine.cache.StepCache`: the model, extras, random generators,
global step and baseline come back as they were when that prefix ended, and
each reused step is announced (``StepStarted`` / ``StepFinished`` whose summary
names the run that computed it, under ``reused_from``) so the database, the
studio and ``bert-studio show`` can say so.

After a step it computes, the run stages that prefix only where a later run can
reuse it (see :mod:`core.engine.cache` for why): the prefix that made the
baseline (the fine-tuned teacher), and a prefix :meth:`StepCache.wanted` (an
earlier run computed it too, or a study expects its trials to share it). From a
step whose method is not ``cacheable`` on, nothing is staged. The staged
entries join the cache only when the run finishes, so a failed or cancelled run
leaves nothing behind; the finished run then notes every prefix it computed, so
the next run that computes one of them keeps it. Nothing here raises into the
run: a cache that cannot be read or written means the steps are computed, with
a line in the run's log.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

from core import events as ev
from core.engine.cache import REUSED_KEY, CacheEntry, CacheRefused, StepCache, restore_rng, rng_snapshot

log = logging.getLogger(__name__)


class Prefixes:
    def __init__(self, cache: StepCache, ctx):
        self.cache = cache
        self.ctx = ctx
        self.keys: list[str] = []
        self.origins: list[str] = []  # the run that computed each step so far
        self.summaries: list[dict] = []
        self.staged: list[tuple[str, Path]] = []
        self.available: set[int] = {0}  # prefix lengths whose model the cache has or will have
        self.computed: list[str] = []  # keys of the cacheable prefixes this run computed
        self.closed_by: str | None = None  # the step from which nothing may be cached
        self.enabled = True
        try:
            self.keys = cache.prefix_keys(ctx.recipe, ctx.device)
        except Exception as exc:  # an unreadable model or data folder: its own step reports that better
            log.warning("step cache off for run %s: %s", ctx.run_id, exc)
            self.enabled = False

    # -- before the first step ---------------------------------------------------
    def resume(self, state):
        """``(steps reused, state)``: the longest cached prefix applied to ``state``, or ``(0, state)``."""
        if not self.enabled:
            return 0, state
        ctx = self.ctx
        try:
            found = self.cache.lookup(ctx.recipe, keys=self.keys)
        except Exception as exc:
            ctx.log(f"the step cache could not be read ({exc}); computing every step", level="warning")
            return 0, state
        if found is None:
            return 0, state
        n, entry = found
        ctx.progress(0, 1, f"loading steps 1-{n} from the step cache", force=True)
        try:
            resumed = entry.load_state(state.tokenizer, ctx.device)
            baseline = self._baseline(entry, resumed, state.tokenizer)
            rng = entry.rng_states()
        except Exception as exc:  # evicted or damaged meanwhile: compute instead
            log.warning("could not load step-cache entry %s", entry.path, exc_info=True)
            ctx.log(f"the step cache's copy of steps 1-{n} could not be loaded ({exc}); computing them",
                    level="warning")
            return 0, state
        ctx.set_baseline(baseline, entry.baseline_steps)
        ctx.global_step = entry.global_step
        restore_rng(rng)
        self.origins, self.summaries = list(entry.origins), [dict(s) for s in entry.summaries]
        self.available |= set(range(n + 1))
        self._announce(entry, n)
        return n, resumed

    def _baseline(self, entry: CacheEntry, resumed, tokenizer):
        if entry.baseline_steps is None:
            return None
        if entry.baseline_steps == entry.steps:
            return resumed.replace(model=copy.deepcopy(resumed.model))
        base = self.cache.entry(entry.baseline_key or "")
        if base is None:
            raise FileNotFoundError(f"the baseline entry {entry.baseline_key} is gone")
        return base.load_state(tokenizer, self.ctx.device)

    def _announce(self, entry: CacheEntry, n: int) -> None:
        from core.engine.cache import describe_reuse

        ctx = self.ctx
        steps = ctx.recipe.steps
        done = []
        for index in range(n):
            ctx.step_index = index
            ctx.emit(ev.StepStarted, index=index, method=steps[index].method, title=steps[index].title())
            summary = {**self.summaries[index], REUSED_KEY: entry.origins[index], "cache_key": self.keys[index + 1]}
            ctx.emit(ev.StepFinished, index=index, method=steps[index].method, summary=summary)
            done.append(_Step(index, summary))
        ctx.log(f"reused {describe_reuse(done)} (step cache {entry.key[:12]}): not computed again")

    # -- after each step ---------------------------------------------------------
    def after_step(self, index: int, state, summary: dict) -> None:
        """Stage the prefix that ends with step ``index`` (0-based) if a later run can reuse it."""
        self.origins.append(self.ctx.run_id)
        self.summaries.append(dict(summary))
        if not self.enabled or self._closed(index):
            return
        ctx, n = self.ctx, index + 1
        key = self.keys[n]
        self.computed.append(key)
        if self.cache.entry(key) is not None:
            self.available.add(n)
            return
        if not self.reusable(n):
            return
        base = ctx.baseline_steps
        if base is not None and base != n and base not in self.available:
            return  # its baseline's model is not kept, so this prefix could not be resumed faithfully
        meta = {
            "steps": n,
            "methods": [s.method for s in ctx.recipe.steps[:n]],
            "origins": list(self.origins),
            "baseline_steps": base,
            "baseline_key": self.keys[base] if base is not None else None,
            "global_step": ctx.global_step,
            "summaries": self.summaries,
            "recipe": ctx.recipe.name,
        }
        try:
            folder = self.cache.stage(key, state, meta, rng_snapshot(ctx.device))
        except CacheRefused as exc:
            ctx.log(f"steps 1-{n} are not kept in the step cache: {exc}")
            return
        except Exception as exc:  # a full disk must not end the run
            log.warning("could not stage step-cache entry for run %s", ctx.run_id, exc_info=True)
            ctx.log(f"the step cache could not be written ({exc}); it is off for the rest of this run",
                    level="warning")
            self.enabled = False
            return
        self.staged.append((key, folder))
        self.available.add(n)

    def _closed(self, index: int) -> bool:
        """Whether the prefix ending with step ``index`` must stay out of the cache (a step not cacheable)."""
        if self.closed_by is None:
            step = self.ctx.recipe.steps[index]
            if step.spec().cacheable:
                return False
            self.closed_by = step.method
            self.ctx.log(f"steps {index + 1}-{len(self.ctx.recipe.steps)} are not kept in the step cache: "
                         f"{step.method} changes what the cache does not store")
        return True

    def reusable(self, n: int) -> bool:
        """Whether a later run can reuse the first ``n`` steps: the baseline's prefix, or a prefix shared by stacks."""
        return n == self.ctx.baseline_steps or self.cache.wanted(self.keys[n])

    # -- at the end --------------------------------------------------------------
    def commit(self) -> None:
        """The run finished: its staged prefixes join the cache, and the prefixes it computed are noted."""
        self.cache.note_computed(self.computed)
        staged, self.staged = self.staged, []
        try:
            added = self.cache.commit(staged)
        except Exception:
            log.warning("could not commit the step-cache entries of run %s", self.ctx.run_id, exc_info=True)
            self.cache.discard(staged)
            return
        if added:
            self.ctx.log(f"kept {len(added)} prefix(es) of this stack in the step cache")

    def discard(self) -> None:
        staged, self.staged = self.staged, []
        self.cache.discard(staged)


class _Step:
    """What :func:`describe_reuse` reads of a step."""

    def __init__(self, index: int, summary: dict):
        self.index, self.summary = index, summary
