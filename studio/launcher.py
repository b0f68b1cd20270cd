"""The ``bert-studio`` command: no arguments opens the studio, otherwise the command line."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from core.env import configure_environment

    configure_environment()
    if argv and argv[0] not in ("gui", "studio"):
        from core.cli import main as cli_main

        return cli_main(argv)
    from studio.platform_check import ensure, uses_xcb

    if uses_xcb() and ensure(install=False):  # Qt would abort without a window; the message says what to install
        return 1
    from studio.app import run_studio

    return run_studio(argv[1:] if argv else [])
