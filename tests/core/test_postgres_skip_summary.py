"""`make test` on a machine without a PostgreSQL server says so in its closing lines, not only in a skip count."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_closing_lines_say_the_postgresql_tests_were_skipped(tmp_path):
    bare = tmp_path / "bin"  # a PATH where neither pg_config nor initdb is found
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bare)}
    env.pop("STUDIO_REQUIRE_POSTGRES", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/core/db/test_studies.py", "-k", "postgresql"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    closing = proc.stdout.strip().splitlines()[-4:]
    assert "PostgreSQL tests SKIPPED" in closing[0] and "no PostgreSQL server binary" in closing[1], closing
    assert "skipped" in closing[-1]
