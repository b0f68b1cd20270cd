"""A few validation examples with a run's predictions beside the gold, drawn in each task's own terms.

For the run that just finished, or a saved run selected in the list, **Show predictions** loads the run's final
(compressed) model, its teacher (the baseline its figures were measured against) and its recipe's data off the GUI
thread (:func:`core.services.predictions.preview_run`) and shows both models' predictions of the same examples:
rows word / gold / teacher / compressed for token classification (a wrong tag in red), both answer spans
highlighted in their context in different colours for question answering (the gold answer underlined), both
scores beside the target for regression, both label sets beside the gold set for multi-label, and both classes
beside the gold class for sentences. The title counts each model's right answers; where the teacher cannot be
loaded (its folder gone, the fine-tuned teacher evicted from the step cache) the compressed model is shown alone
with the reason.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Sequence

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from studio.workers import run_in_background

HINT = ("Finish a run, or select a saved run, then press Show predictions: a few validation examples appear here "
        "with the teacher's and the compressed model's predictions beside the gold answer.")
_RIGHT, _WRONG = "#15803d", "#b91c1c"
_SPAN, _GOLD = "#fde68a", "#2563eb"  # the compressed model's answer, the gold answer
_TEACHER_SPAN, _BOTH_SPAN = "#bfdbfe", "#bbf7d0"  # the teacher's answer, both models' answers


def _mark(correct: bool) -> str:
    colour, sign = (_RIGHT, "\u2714") if correct else (_WRONG, "\u2716")
    return f'<span style="color:{colour}">{sign}</span>'


def _tags_html(example, teacher=None) -> str:
    """Rows word / gold / teacher / compressed (the teacher's row only with ``teacher``); a tag in green when it
    is the gold tag, in red when not."""
    rows: list[tuple[str, tuple[str, ...]]] = [("gold", example.gold_tags)]
    if teacher is not None:
        rows.append(("teacher", teacher.predicted_tags))
    rows.append(("compressed" if teacher is not None else "predicted", example.predicted_tags))
    cells = []
    for word, gold, predicted in zip(example.words, example.gold_tags, example.predicted_tags):
        weight = "bold" if predicted != "O" or gold != "O" else "normal"
        cells.append(f'<td style="font-weight:{weight}">{html.escape(word)}</td>')
    out = [f"<tr><td><i>word</i></td>{''.join(cells)}</tr>"]
    for name, tags in rows:
        row = []
        for gold, tag in zip(example.gold_tags, tags):
            colour = "#6b7280" if name == "gold" else (_RIGHT if tag == gold else _WRONG)
            row.append(f'<td style="color:{colour}">{html.escape(tag)}</td>')
        out.append(f"<tr><td><i>{name}</i></td>{''.join(row)}</tr>")
    return f'<table cellspacing="0" cellpadding="3">{"".join(out)}</table>'


def _inside(position: int, span: tuple[int, int] | None) -> bool:
    return span is not None and span[0] <= position < span[1]


def _context_html(context: str, span: tuple[int, int] | None, gold: Sequence[tuple[int, int]],
                  teacher_span: tuple[int, int] | None = None) -> str:
    """The context with the compressed model's span highlighted in yellow, the teacher's in blue (green where
    both chose it) and the gold spans underlined; drawn piece by piece, so overlapping spans nest correctly."""
    cuts = {0, len(context)}
    for start, end in [s for s in (span, teacher_span) if s is not None] + list(gold):
        cuts.update((max(0, min(start, len(context))), max(0, min(end, len(context)))))
    points = sorted(cuts)
    out = []
    for start, end in zip(points, points[1:]):
        piece = html.escape(context[start:end])
        if any(_inside(start, g) for g in gold):
            piece = f'<u style="color:{_GOLD}">{piece}</u>'
        ours, theirs = _inside(start, span), _inside(start, teacher_span)
        if ours or theirs:
            colour = _BOTH_SPAN if ours and theirs else (_SPAN if ours else _TEACHER_SPAN)
            piece = f'<span style="background:{colour}">{piece}</span>'
        out.append(piece)
    return "".join(out)


def example_html(example, teacher=None) -> str:
    """One example as HTML, in its task's terms; with ``teacher`` (the teacher's prediction of the same example)
    the teacher's answer is shown beside the compressed model's."""
    text = html.escape(example.text)
    if example.text_pair:
        text += f" <i>/</i> {html.escape(example.text_pair)}"
    mark = _mark(example.correct)
    if teacher is not None:
        mark = f"teacher {_mark(teacher.correct)} compressed {_mark(example.correct)}"
    kind = example.kind
    if kind == "token-classification":
        return f"<p>{mark} {_tags_html(example, teacher)}</p>"
    ours = "compressed" if teacher is not None else "answer"
    theirs = "" if teacher is None else f"<b>teacher:</b> {html.escape(teacher.predicted)} &nbsp; "
    if kind == "question-answering":
        context = _context_html(example.context, example.span, example.gold_spans,
                                teacher.span if teacher is not None else None)
        return (f"<p>{mark} <b>Q:</b> {text}<br>{context}<br>{theirs}<b>{ours}:</b> "
                f"{html.escape(example.predicted)} &nbsp; <b>gold:</b> {html.escape(example.gold)}</p>")
    if kind == "regression":
        ours = "compressed" if teacher is not None else "score"
        return (f"<p>{mark} {text}<br>{theirs}<b>{ours}</b> {html.escape(example.predicted)} &nbsp; <b>target</b> "
                f"{html.escape(example.gold)}</p>")
    what = "labels" if kind == "multi-label" else "class"
    ours = "compressed" if teacher is not None else f"predicted {what}"
    return (f"<p>{mark} {text}<br>{theirs}<b>{ours}:</b> {html.escape(example.predicted)} &nbsp; "
            f"<b>gold:</b> {html.escape(example.gold)}</p>")


LEGEND = {
    "token-classification": "Each word's gold tag, then the predicted tags (green: right, red: wrong).",
    "question-answering": f'<span style="background:{_SPAN}">compressed model\'s answer</span>, '
                          f'<span style="background:{_TEACHER_SPAN}">teacher\'s answer</span> '
                          f'(<span style="background:{_BOTH_SPAN}">both</span>), '
                          f'<u style="color:{_GOLD}">gold answer</u>.',
    "regression": "The predicted score beside its target (\u2714: within 0.5).",
    "multi-label": "The labels above the threshold beside the gold labels.",
    "sequence-classification": "The predicted class beside the gold class.",
}


class PredictionPreview(QWidget):
    """Shows :class:`core.services.predictions.Example` objects; ``load_record`` gives a run's record by id."""

    def __init__(self, load_record: Callable[[str], Any] | None = None, parent: QWidget | None = None,
                 count: int = 5):
        super().__init__(parent)
        self.load_record = load_record
        self.count = count
        self.run_id: str | None = None
        self.examples: list = []
        self.teacher: list | None = None  # the teacher's predictions of the same examples, when it could be loaded
        self.error = ""
        self._generation = 0
        self.title = QLabel(HINT)
        self.title.setObjectName("hint")
        self.title.setWordWrap(True)
        self.show_button = QPushButton("Show predictions")
        self.show_button.setToolTip("Load the run's final model, its teacher and its recipe's data, and "
                                    "predict a few validation examples with both")
        self.show_button.setEnabled(False)
        self.view = QTextBrowser()
        self.view.setOpenLinks(False)
        # The dock beside the log is narrow: the text takes the whole width, the button sits under it.
        row = QHBoxLayout()
        row.addWidget(self.show_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.view, 1)
        self.show_button.clicked.connect(self.load)

    def set_run(self, run_id: str | None) -> None:
        """The run whose predictions Show predictions loads (a finished run, or the one selected)."""
        if not run_id or run_id == self.run_id:
            return
        self.run_id = run_id
        self._generation += 1  # a preview still loading for another run is dropped
        self.show_button.setEnabled(self.load_record is not None)
        self.title.setText(f"Run {run_id[:8]}: press Show predictions.")

    def load(self) -> None:
        if self.run_id is None or self.load_record is None:
            return
        from core.services.predictions import preview_run

        self._generation += 1
        generation, run_id, count = self._generation, self.run_id, self.count
        try:
            record = self.load_record(run_id)
        except (KeyError, Exception) as exc:  # a run deleted meanwhile, a database that cannot be read
            self._failed(generation, exc)
            return
        self.show_button.setEnabled(False)
        self.title.setText(f"Run {run_id[:8]}: loading its final model, its teacher and data\u2026")
        run_in_background(lambda: preview_run(record, count), lambda preview: self._loaded(generation, preview),
                          lambda exc: self._failed(generation, exc), self)

    def show_examples(self, examples: list, name: str = "", teacher: list | None = None,
                      teacher_note: str = "") -> None:
        """Draw ``examples`` (from :func:`core.services.predictions.examples_of`) and, when given, the teacher's
        predictions of the same examples beside them; ``teacher_note`` says why the teacher is missing."""
        self.examples = list(examples)
        self.teacher = list(teacher) if teacher is not None else None
        self.error = ""
        kind = examples[0].kind if examples else ""
        right, n = sum(e.correct for e in examples), len(examples)
        where = f"{name}: " if name else ""
        if self.teacher is not None:
            taught = sum(e.correct for e in self.teacher)
            counts = f"teacher {taught}/{n} right, compressed {right}/{n}."
        else:
            counts = f"{right} right." + (f" ({teacher_note})" if teacher_note else "")
        self.title.setText(f"{where}{n} validation examples, {counts} {LEGEND.get(kind, '')}")
        pairs = zip(examples, self.teacher if self.teacher is not None else [None] * n)
        self.view.setHtml("".join(example_html(e, t) for e, t in pairs) or "<p>No validation examples.</p>")

    def _loaded(self, generation: int, preview) -> None:
        if generation != self._generation:
            return
        self.show_button.setEnabled(True)
        self.show_examples(preview.examples, preview.name, preview.teacher, preview.teacher_note)

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.show_button.setEnabled(self.run_id is not None)
        self.error = str(exc)
        self.examples, self.teacher = [], None
        self.title.setText(f"The predictions cannot be shown: {exc}")
        self.view.clear()
