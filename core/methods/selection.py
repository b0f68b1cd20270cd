"""Which heads, neurons and layers a structural step keeps: the one place where that is decided.

Every structural selection (head and FFN pruning, layer pruning, block movement
pruning, the heads and neurons a projected student starts from, the ranks of a
low-rank factorization) ends here. In a data-parallel run each process computes
its own importance scores; on GPUs near-ties come out differently on different
ranks, and a cut made from them would leave the processes with different models.
So rank 0's choice is broadcast and every rank applies it
(:func:`core.engine.distributed.decide`); in a run of one process the choice is
returned as it is. Every rank reaches each selection in the same order, because
every rank runs the same steps on the same schedule.
"""

from __future__ import annotations

from typing import Sequence, TypeVar

from core.engine import distributed

T = TypeVar("T")


def agreed(choice: T) -> T:
    """Rank 0's ``choice`` on every rank (this rank's own where the run has one process)."""
    return distributed.decide(choice)


def select_removals(scores: Sequence[Sequence[float]], count: int, min_keep: int = 1) -> dict[int, list[int]]:
    """Indices to keep per layer after removing the ``count`` lowest-scored units overall.

    Units are ranked globally (ties broken by position); a layer never drops
    below ``min_keep`` units, so fewer than ``count`` may go when that binds.
    """
    left = [len(row) for row in scores]
    ranked = sorted((float(s), layer, unit) for layer, row in enumerate(scores) for unit, s in enumerate(row))
    removed: set[tuple[int, int]] = set()
    for _, layer, unit in ranked:
        if len(removed) >= count:
            break
        if left[layer] <= min_keep:
            continue
        removed.add((layer, unit))
        left[layer] -= 1
    return agreed({layer: [u for u in range(len(row)) if (layer, u) not in removed]
                   for layer, row in enumerate(scores)})


def select_per_layer(scores: Sequence[Sequence[float]], share: float, min_keep: int = 1) -> dict[int, list[int]]:
    """Remove the same share of units from every layer (lowest scores first)."""
    out = {}
    for layer, row in enumerate(scores):
        drop = min(int(round(share * len(row))), len(row) - min_keep)
        order = sorted(range(len(row)), key=lambda u: (float(row[u]), u))
        gone = set(order[:max(0, drop)])
        out[layer] = [u for u in range(len(row)) if u not in gone]
    return agreed(out)


def select_top(scores: Sequence[float], count: int) -> list[int]:
    """The indices of the ``count`` highest scores, in ascending order (ties: the earlier index stays)."""
    best = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))[:max(0, count)]
    return agreed(sorted(best))
