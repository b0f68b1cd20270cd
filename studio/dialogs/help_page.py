"""Help > Figures and methods: what each final figure means and what each method does.

Both halves are generated: the figures from :mod:`core.metrics.figures` (the one
list of figure names, labels, groups and help), the methods from the registry,
so the page never disagrees with what a run shows.
"""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

_INTRO = (
    "<p>A run applies its stack of steps to the model in order, then measures the final model against a "
    "<i>baseline</i>: the model after the training steps that come before any compression (the fine-tuned, "
    "uncompressed model), otherwise the model as loaded. Accuracy is measured on the recipe's evaluation split; latency is timed in the same process, "
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


class HelpDialog(QDialog):
    """A non-modal page with :func:`help_html`."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Help \u2014 figures and methods")
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(help_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(720, 640)
