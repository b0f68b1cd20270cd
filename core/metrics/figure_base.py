"""The figures every run has (sequence classification's accuracy, size, speed) and the :class:`Figure` record.

Kept apart from :mod:`core.metrics.figures` so that :mod:`core.metrics.task_figures` can build the other task
kinds' figures from it, and :mod:`core.metrics.figures` join the two into the one table, without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.metrics.intervals import UNRELIABLE_WIDTH


@dataclass(frozen=True)
class Figure:
    """How one final figure is named, grouped, explained and formatted."""

    key: str
    label: str
    group: str  # one of GROUPS
    kind: str  # fraction | count | bytes | ratio | ms | number
    help: str
    unit: str = ""
    words: tuple[str, str, str] | None = None  # ratios: (above 1, about 1, below 1), e.g. faster / same speed / slower


_ACC_HOW = "on the recipe's evaluation split; in brackets the 95 % Wilson interval over the examples evaluated"
_SPEED_HOW = ("timed in alternation with the baseline in the same process, under the protocol stated with it "
              "(batch, lengths, threads, CPU); the median over the rounds, in brackets its 95 % confidence interval "
              "(order statistics of the rounds; under six rounds its own, lower level is stated), and the "
              "interquartile range of the rounds beside it")

FIGURES: tuple[Figure, ...] = (
    Figure("accuracy", "Accuracy", "accuracy", "fraction", f"Share of examples the final model classifies right, {_ACC_HOW}.", "%"),
    Figure("baseline_accuracy", "Baseline accuracy", "accuracy", "fraction",
           f"The same for the baseline (the fine-tuned model before compression, or the original), {_ACC_HOW}.", "%"),
    Figure("accuracy_retained", "Accuracy retained", "accuracy", "fraction",
           "Final accuracy / baseline accuracy on the same examples; in brackets a 95 % paired bootstrap interval "
           "(examples resampled together for both models).", "%"),
    Figure("evaluated", "Examples evaluated", "accuracy", "count",
           "How many examples the figures above are measured on (sentences, questions, rows)."),
    Figure("loss", "Loss", "accuracy", "number", "Mean loss of the final model on the evaluation split (the task's "
           "own: cross-entropy, or the mean squared error of scaled targets for regression)."),
    Figure("parameters", "Parameters", "size", "count",
           "Every parameter of the final model, zeros included (packed and quantized weights counted by what they hold)."),
    Figure("nonzero_parameters", "Non-zero parameters", "size", "count",
           "Parameters of the final model that are not zero (what unstructured pruning removes)."),
    Figure("baseline_parameters", "Baseline parameters", "size", "count", "Every parameter of the baseline."),
    Figure("parameter_ratio", "Parameters vs baseline", "size", "ratio",
           "Baseline parameters / final parameters (zeros included).", "x", ("fewer parameters", "same parameters", "more parameters")),
    Figure("size_bytes", "Size", "size", "bytes", "The final model's weights serialized as a state dict, in MB (10^6 bytes).", "MB"),
    Figure("baseline_size_bytes", "Baseline size", "size", "bytes", "The baseline's weights serialized the same way.", "MB"),
    Figure("size_ratio", "Size vs baseline", "size", "ratio", "Baseline size / final size, both serialized the same "
           "way (weights against weights); exact, so it has no interval.",
           "x", ("smaller", "same size", "larger")),
    Figure("latency_ms", "Latency", "speed", "ms", f"Milliseconds per batch of the final model, {_SPEED_HOW}.", "ms"),
    Figure("baseline_latency_ms", "Baseline latency", "speed", "ms", f"Milliseconds per batch of the baseline, {_SPEED_HOW}.", "ms"),
    Figure("speedup", "Speedup", "speed", "ratio",
           "Baseline latency / final latency: the median of per-round ratios, each round timing both models back to "
           "back; in brackets the 95 % confidence interval of that median (order statistics of the ratios, free of "
           "any assumption on their distribution; under six rounds its own, lower level is stated), with the "
           "interquartile range of the ratios beside it (how much one round differs from the next, not a "
           f"confidence interval). Marked unreliable when the confidence interval is wider than "
           f"{UNRELIABLE_WIDTH:.0%} of the median.", "x", ("faster", "same speed", "slower")),
)
