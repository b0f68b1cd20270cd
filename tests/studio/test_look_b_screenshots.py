"""The README's screenshots come from one script that drives the studio at 1280x800 (#23 part 3)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "screenshots" / "make_screenshots.py"


def test_the_script_retakes_every_readme_screenshot_at_1280x800():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    pictures = {name for page in pages for name in re.findall(r"screenshots/([\w-]+\.png)", page.read_text())}
    assert {"live-dashboard.png", "study-view.png"} <= pictures
    text = SCRIPT.read_text()
    for name in pictures:
        assert f'"{name}"' in text, f"{name} is in the README but the script does not take it"
        assert (SCRIPT.parent / name).is_file()
    assert "SCREEN = (1280, 800)" in text and "setGeometry(0, 0, *SCREEN)" in text
    assert "--xvfb" in text  # it starts its own X server: one command retakes them all
