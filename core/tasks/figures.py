"""Each task's figures: their names, labels and help, in the style of :mod:`core.metrics.figures`, and the
headline figure that "retained" compares against the baseline's.

Headlines, and why:

- sequence-classification: ``accuracy`` (what the studio reports today);
- token-classification: ``entity_f1``, conlleval's FB1, the figure NER papers and the CoNLL shared tasks report;
- question-answering: ``answer_f1``, SQuAD's F1 (partial credit for overlapping answers, steadier than EM);
- regression: ``pearson``, the correlation GLUE's STS-B leads with; it is higher-better like the other
  headlines, so "retained" reads the same way (MSE, lower-better, would invert it);
- multi-label: ``micro_f1``, which pools every decision and is not swung by a rare label as macro F1 is.
"""

from __future__ import annotations

from core.metrics.figure_base import Figure
from core.metrics.task_figures import (BY_TASK, HEADLINES, LOWER_IS_BETTER, MULTI_LABEL_FIGURES,  # noqa: F401
                                       QA_FIGURES, REGRESSION_FIGURES, TOKEN_FIGURES)
from core.tasks.kinds import TaskKind

# The definitions are in core.metrics.task_figures (the metrics layer, which the figure table reads).
TASK_FIGURES: dict[TaskKind, tuple[Figure, ...]] = {kind: BY_TASK[kind.value] for kind in TaskKind}
HEADLINE: dict[TaskKind, str] = {kind: HEADLINES[kind.value] for kind in TaskKind}


def figures_for(task: TaskKind | str) -> tuple[Figure, ...]:
    return TASK_FIGURES[TaskKind.parse(task)]


def headline(task: TaskKind | str) -> Figure:
    kind = TaskKind.parse(task)
    return next(f for f in TASK_FIGURES[kind] if f.key == HEADLINE[kind])
