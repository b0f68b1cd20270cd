"""What a first-time user is told where the studio would otherwise show an empty box or a bare label."""

from __future__ import annotations

from tests.studio.conftest import quick_recipe, record_run


def _ink(widget) -> int:
    """How many pixels of ``widget`` differ from its most common colour (text drawn on a plain background)."""
    from collections import Counter

    image = widget.grab().toImage()
    colours = Counter(image.pixel(x, y) for x in range(0, image.width(), 2) for y in range(0, image.height(), 2))
    return sum(colours.values()) - colours.most_common(1)[0][1]


def test_an_empty_stack_says_how_to_fill_it(qtbot, window):
    listing = window.stack.list
    window.stack.set_steps([])
    empty = _ink(listing.viewport())
    assert empty > 50, "the empty stack draws its hint"
    window.stack.add_method("finetune")
    one_step = _ink(listing.viewport())
    window.stack.set_steps([])
    assert _ink(listing.viewport()) == empty  # the same hint again, not left-over rows
    assert one_step != empty


def test_the_log_and_the_runs_browser_say_what_will_appear_there(qtbot, window, db_url):
    assert "Nothing has run yet" in window.log.placeholderText()
    browser = window.browser
    assert browser.pages.currentWidget() is browser.hint
    assert "No saved runs" in browser.hint.text() and "Ctrl+R" in browser.hint.text()
    record_run(db_url, quick_recipe(), {"accuracy": 0.7})
    window.runs.refresh()
    assert browser.hint.text().startswith("Select a run")


def test_every_input_of_the_model_and_data_panel_has_a_tooltip(window):
    panel = window.data_panel
    missing = [w.objectName() or type(w).__name__ for w in panel.focus_chain() if not w.toolTip()]
    assert missing == []
    assert "second sentence" in panel.pair_column.toolTip()
