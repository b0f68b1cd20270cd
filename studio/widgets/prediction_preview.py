"""A few validation examples with a run's predictions beside the gold, drawn in each task's own terms.

For the run that just finished, or a saved run selected in the list, **Show predictions** loads the run's final
model and its recipe's data off the GUI thread (:func:`core.services.predictions.preview_run`) and shows:
tags per word for token classification (predicted above gold, a wrong tag in red), the answer span highlighted
in its context for question answering (the gold answer underlined), the score beside its target for regression,
the label set beside the gold set for multi-label, and the class beside the gold class for sentences.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Sequence

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from studio.workers import run_in_background

HINT = ("Finish a run, or select a saved run, then press Show predictions: a few validation examples appear here "
        "with the model's prediction beside the gold answer.")
_RIGHT, _WRONG = "#15803d", "#b91c1c"
_SPAN, _GOLD = "#fde68a", "#2563eb"


def _mark(correct: bool) -> str:
    colour, sign = (_RIGHT, "\u2714") if correct else (_WRONG, "\u2716")
    return f'<span style="color:{colour}">{sign}</span>'


def _tags_html(example) -> str:
    cells_word, cells_pred, cells_gold = [], [], []
    for word, gold, predicted in zip(example.words, example.gold_tags, example.predicted_tags):
        colour = _RIGHT if gold == predicted else _WRONG
        weight = "bold" if predicted != "O" or gold != "O" else "normal"
        cells_word.append(f'<td style="font-weight:{weight}">{html.escape(word)}</td>')
        cells_pred.append(f'<td style="color:{colour}">{html.escape(predicted)}</td>')
        cells_gold.append(f'<td style="color:#6b7280">{html.escape(gold)}</td>')
    rows = (f"<tr><td><i>word</i></td>{''.join(cells_word)}</tr>"
            f"<tr><td><i>predicted</i></td>{''.join(cells_pred)}</tr>"
            f"<tr><td><i>gold</i></td>{''.join(cells_gold)}</tr>")
    return f'<table cellspacing="0" cellpadding="3">{rows}</table>'


def _context_html(context: str, span: tuple[int, int] | None, gold: Sequence[tuple[int, int]]) -> str:
    """The context with the predicted span highlighted and the gold spans underlined."""
    marks: list[tuple[int, int, str]] = []  # (position, order, tag): closing tags sort before opening ones
    if span is not None:
        marks += [(span[0], 1, f'<span style="background:{_SPAN}">'), (span[1], 0, "</span>")]
    for start, end in gold:
        marks += [(start, 2, f'<u style="color:{_GOLD}">'), (end, 0, "</u>")]
    out, last = [], 0
    for position, _, tag in sorted(marks):
        out.append(html.escape(context[last:position]))
        out.append(tag)
        last = position
    out.append(html.escape(context[last:]))
    return "".join(out)


def example_html(example) -> str:
    """One example as HTML, in its task's terms."""
    text = html.escape(example.text)
    if example.text_pair:
        text += f" <i>/</i> {html.escape(example.text_pair)}"
    mark = _mark(example.correct)
    kind = example.kind
    if kind == "token-classification":
        return f"<p>{mark} {_tags_html(example)}</p>"
    if kind == "question-answering":
        return (f"<p>{mark} <b>Q:</b> {text}<br>{_context_html(example.context, example.span, example.gold_spans)}"
                f"<br><b>answer:</b> {html.escape(example.predicted)} &nbsp; <b>gold:</b> "
                f"{html.escape(example.gold)}</p>")
    if kind == "regression":
        return (f"<p>{mark} {text}<br><b>score</b> {html.escape(example.predicted)} &nbsp; <b>target</b> "
                f"{html.escape(example.gold)}</p>")
    what = "labels" if kind == "multi-label" else "class"
    return (f"<p>{mark} {text}<br><b>predicted {what}:</b> {html.escape(example.predicted)} &nbsp; "
            f"<b>gold:</b> {html.escape(example.gold)}</p>")


LEGEND = {
    "token-classification": "Each word's predicted tag (green: right, red: wrong) above its gold tag.",
    "question-answering": f'<span style="background:{_SPAN}">predicted answer</span>, '
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
        self.error = ""
        self._generation = 0
        self.title = QLabel(HINT)
        self.title.setObjectName("hint")
        self.title.setWordWrap(True)
        self.show_button = QPushButton("Show predictions")
        self.show_button.setToolTip("Load the run's final model and its recipe's data, and predict a few "
                                    "validation examples")
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
        self.title.setText(f"Run {run_id[:8]}: loading its final model and data\u2026")
        run_in_background(lambda: (getattr(record, "name", "") or run_id[:8], preview_run(record, count)),
                          lambda result: self._loaded(generation, *result), lambda exc: self._failed(generation, exc),
                          self)

    def show_examples(self, examples: list, name: str = "") -> None:
        """Draw ``examples`` (from :func:`core.services.predictions.examples_of`)."""
        self.examples = list(examples)
        self.error = ""
        kind = examples[0].kind if examples else ""
        right = sum(e.correct for e in examples)
        where = f"{name}: " if name else ""
        self.title.setText(f"{where}{len(examples)} validation examples, {right} right. {LEGEND.get(kind, '')}")
        self.view.setHtml("".join(example_html(e) for e in examples) or "<p>No validation examples.</p>")

    def _loaded(self, generation: int, name: str, examples: list) -> None:
        if generation != self._generation:
            return
        self.show_button.setEnabled(True)
        self.show_examples(examples, name)

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.show_button.setEnabled(self.run_id is not None)
        self.error = str(exc)
        self.examples = []
        self.title.setText(f"The predictions cannot be shown: {exc}")
        self.view.clear()
