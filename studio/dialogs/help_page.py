"""Help: getting started (a first run in five steps, with pictures), and what each figure and method is.

The figures and methods are generated: the figures from :mod:`core.metrics.figures` (the one
list of figure names, labels, groups and help), the methods from the registry,
so the page never disagrees with what a run shows.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTabWidget, QTextBrowser, QVBoxLayout, QWidget

# The README's screenshots (docs/screenshots/make_screenshots.py retakes them); absent from an installed package,
# where the steps read without their pictures.
PICTURES = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FIRST_RUN = (
    ("Choose a model and data",
     "In the <b>Model and data</b> dock, keep <i>default</i>: the embedded all-MiniLM-L6 and movie-review sentences "
     "work offline. Or pick a model folder (BERT, DistilBERT, RoBERTa, ModernBERT and more) and a CSV, JSON or "
     "Parquet file; the column boxes say which column is the text and which the label.", None),
    ("Build a stack",
     "Double-click methods in the <b>Methods</b> palette (or drag them) to add steps: for a first run, "
     "<i>Fine-tune</i>, then <i>Head pruning</i>, then <i>Dynamic int8</i>. Each step's settings appear beside the "
     "stack, each explained in its tooltip; a greyed method says why when clicked.", "stack-editor.png"),
    ("Run it",
     "Press <b>Run</b> (Ctrl+R). The Run dock shows each step, its progress and an estimate; the plots fill with "
     "loss and the task's figure (accuracy, entity F1, SQuAD F1, Pearson r or micro F1), the head mask with what "
     "was pruned. Pause and Cancel are beside Run; Queue "
     "(Ctrl+Shift+R) lines up more recipes.", "live-dashboard.png"),
    ("Read the results",
     "The run ends with its figures in words (\u201c2.10x faster\u201d, \u201c98.7 % of the accuracy "
     "kept\u201d). The <b>Saved runs</b> tab keeps every run: select one for its details, several (Ctrl or Shift) "
     "to compare them: the headline figure against speedup and size, the Pareto front, the recipe fields that differ.",
     "compare-runs.png"),
    ("Export the model",
     "In Saved runs, select a finished run and press <b>Export\u2026</b>: a Hugging Face folder or ONNX (float, "
     "int8, 4-bit), reloaded and checked against the run's model before it is moved into place. File \u25b8 Save "
     "keeps the recipe, to run again here or with <code>bert-studio run</code>.", None),
)

_INTRO = (
    "<p>A run applies its stack of steps to the model in order, then measures the final model against a "
    "<i>baseline</i>: the model after the training steps that come before any compression (the fine-tuned, "
    "uncompressed model), otherwise the model as loaded. Accuracy (or the task's own figures) is measured on the "
    "recipe's evaluation split; latency is timed in the same process, "
    "alternating the two models, so a ratio compares like with like. Ratios read in words: "
    "&ldquo;2.10x faster&rdquo;, &ldquo;same parameters&rdquo;.</p>")


def figures_html() -> str:
    from core.metrics.figures import FIGURES, GROUPS

    parts = ["<h3>Figures</h3>", _INTRO]
    for group in GROUPS:
        parts.append(f"<h4>{escape(group.capitalize())}</h4><dl>")
        for f in FIGURES:
            if f.group == group:
                unit = f" ({escape(f.unit)})" if f.unit else ""
                parts.append(f"<dt><b>{escape(f.label)}</b>{unit} <span style='color:#6b7280'>{escape(f.key)}"
                             f"</span></dt><dd>{escape(f.help)}</dd>")
        parts.append("</dl>")
    return "".join(parts)


def methods_html() -> str:
    from core.registry import FAMILIES, all_methods

    specs = all_methods()
    parts = ["<h3>Methods</h3><p>Add a method from the Methods palette (double-click or drag) to the stack; its "
             "settings appear beside the stack, each explained in its tooltip. A step that trains is marked so in "
             "its description.</p>"]
    families = list(FAMILIES) + sorted({s.family for s in specs} - set(FAMILIES))
    for family in families:
        members = [s for s in specs if s.family == family]
        if not members:
            continue
        parts.append(f"<h4>{escape(family.capitalize())}</h4><dl>")
        for s in members:
            trains = " <i>(trains)</i>" if s.trains else ""
            parts.append(f"<dt><b>{escape(s.title)}</b> <span style='color:#6b7280'>{escape(s.name)}</span>{trains}"
                         f"</dt><dd>{escape(s.description)}</dd>")
        parts.append("</dl>")
    return "".join(parts)


def help_html() -> str:
    return "<h2>Figures and methods</h2>" + figures_html() + methods_html()


def getting_started_html(pictures: Path = PICTURES, width: int = 620) -> str:
    """A first run in five steps, each with its picture where the screenshots are at hand."""
    parts = ["<h2>Getting started: a first run in five steps</h2>",
             "<p>Everything below works offline on the embedded default model, in a few minutes on a laptop.</p>"]
    for n, (title, text, picture) in enumerate(FIRST_RUN, start=1):
        parts.append(f"<h3>{n}. {escape(title)}</h3><p>{text}</p>")
        path = pictures / picture if picture else None
        if path is not None and path.is_file():
            parts.append(f"<p><img src='{path.as_uri()}' width='{width}'></p>")
    parts.append("<p>Help \u25b8 Figures and methods says what every figure means and what every method does.</p>")
    return "".join(parts)


class HelpDialog(QDialog):
    """A non-modal window: Getting started, and Figures and methods (:func:`help_html`)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Help")
        self.start = QTextBrowser()
        self.start.setOpenExternalLinks(False)
        self.start.setHtml(getting_started_html())
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(help_html())
        self.tabs = QTabWidget()
        self.tabs.addTab(self.start, "Getting started")
        self.tabs.addTab(self.browser, "Figures and methods")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        self.resize(720, 640)
        self.show_page("figures")

    def show_page(self, page: str) -> "HelpDialog":
        """``start`` (getting started) or ``figures`` (figures and methods); returns the dialog."""
        self.tabs.setCurrentWidget(self.start if page == "start" else self.browser)
        return self
