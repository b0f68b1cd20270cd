"""Multi-label classification: micro and macro F1 at a threshold, and subset accuracy, with intervals.

A label is predicted when its probability (sigmoid of its logit) reaches ``threshold``. Micro F1 pools every
(example, label) decision; macro F1 averages the labels' own F1 over the labels that occur in the gold labels
or the predictions of the examples measured (a label absent from both has no F1 and is left out, as
scikit-learn does with ``zero_division=np.nan``); subset accuracy counts examples whose whole label set is right.
"""

from __future__ import annotations

import math
from typing import Sequence

from core.tasks.metrics.bootstrap import Scored, score


def sigmoid(logits):
    import numpy as np

    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def label_rows(probabilities, gold, threshold: float = 0.5):
    """Per example: true positives, false positives, false negatives of each label, then 1 if all are right."""
    import numpy as np

    p, g = np.asarray(probabilities, dtype=np.float64), np.asarray(gold, dtype=np.float64) > 0.5
    if p.shape != g.shape or p.ndim != 2:
        raise ValueError(f"probabilities {p.shape} and gold labels {g.shape} must both be (examples, labels)")
    hit = p >= threshold
    exact = (hit == g).all(axis=1, keepdims=True)
    return np.hstack([hit & g, hit & ~g, ~hit & g, exact]).astype(np.float64)


def figures_of(rows) -> dict[str, float]:
    import numpy as np

    n_labels = (rows.shape[1] - 1) // 3
    total = rows.sum(axis=0)
    tp, fp, fn = total[:n_labels], total[n_labels:2 * n_labels], total[2 * n_labels:3 * n_labels]
    pooled = 2 * tp.sum() + fp.sum() + fn.sum()
    present = (2 * tp + fp + fn) > 0
    per_label = 2 * tp[present] / (2 * tp + fp + fn)[present]
    return {"micro_f1": float(2 * tp.sum() / pooled) if pooled else math.nan,
            "macro_f1": float(np.mean(per_label)) if per_label.size else math.nan,
            "subset_accuracy": float(total[-1] / rows.shape[0])}


def score_multilabel(probabilities, gold, threshold: float = 0.5, seed: int = 0, resamples: int | None = None,
                     label_names: Sequence[str] | None = None) -> Scored:
    rows = label_rows(probabilities, gold, threshold)
    if label_names is not None and len(label_names) != (rows.shape[1] - 1) // 3:
        raise ValueError(f"{len(label_names)} label names for {(rows.shape[1] - 1) // 3} labels")
    kwargs = {"resamples": resamples} if resamples else {}
    return score(rows, figures_of, {"evaluated": float(rows.shape[0]), "threshold": float(threshold)}, seed=seed,
                 **kwargs)
