"""The README and docs name only files the repository holds, and the README stays a newcomer's page."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")
# A path the text names (in backticks or not): docs/..., resources/..., and the code folders.
PATH = re.compile(r"(?<![\w/.\-])(?P<path>(?:docs|resources|core|bench|tests|studio)/[\w./\-]*[\w/])")
CODE_BLOCK = re.compile(r"```.*?```", re.S)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchors(doc: Path) -> set[str]:
    """GitHub's anchors of a page's headings."""
    out = set()
    for line in doc.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def broken_links(doc: Path) -> list[str]:
    bad = []
    for m in LINK.finditer(doc.read_text()):
        target = m.group("target")
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            bad.append(f"{target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            bad.append(f"{target} (no heading '{anchor}' in {file.name})")
    return bad


def missing_paths(doc: Path) -> list[str]:
    text = doc.read_text()
    return sorted({m.group("path") for m in PATH.finditer(text) if not (ROOT / m.group("path")).exists()})


def test_every_relative_link_in_the_readme_and_docs_exists():
    bad = {doc.name: broken_links(doc) for doc in documents()}
    assert not any(bad.values()), {k: v for k, v in bad.items() if v}


def test_every_repository_path_the_readme_and_docs_name_exists():
    bad = {doc.name: missing_paths(doc) for doc in documents()}
    assert not any(bad.values()), {k: v for k, v in bad.items() if v}


def test_the_checks_catch_a_missing_file_a_missing_heading_and_a_missing_path(tmp_path):
    (tmp_path / "other.md").write_text("# A heading, here\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#a-heading-here) [gone](nowhere.md) [bad](other.md#nope) "
                    "![pic](img/missing.png) [web](https://example.org/x)\n"
                    "see `docs/no_such_page.md` and resources/recipes/quickstart.yaml and bench/results/x.json\n")
    assert broken_links(page) == ["nowhere.md (no such file)", "other.md#nope (no heading 'nope' in other.md)",
                                  "img/missing.png (no such file)"]
    assert missing_paths(page) == ["bench/results/x.json", "docs/no_such_page.md"]


def test_the_readme_is_a_newcomers_page():
    """120-150 lines, one screenshot, the two commands, a quick start, one generated table, links to docs/."""
    text = (ROOT / "README.md").read_text()
    lines = text.splitlines()
    assert 120 <= len(lines) <= 150, len(lines)
    assert len(re.findall(r"!\[", CODE_BLOCK.sub("", text))) == 1
    assert "make run" in text and "make test" in text and "## Quick start" in text
    assert text.count("<!-- results:") == 1
    linked = {m.group("target").partition("#")[0] for m in LINK.finditer(text)}
    pages = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert pages <= linked, f"docs pages the README does not link: {sorted(pages - linked)}"
