"""The house rule of issue 26: one responsibility per module, and no module of the product past 400 lines."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 400


def test_no_module_of_the_product_is_longer_than_400_lines():
    long = {str(p.relative_to(ROOT)): n for folder in ("core", "studio", "bench")
            for p in (ROOT / folder).rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > LIMIT}
    assert not long, f"split these modules (lines): {long}"
