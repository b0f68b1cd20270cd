"""The ``bert-studio`` command line: run recipes headless, list and show runs, export.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> int``. A :class:`core.errors.StudioError` ends the command with
its message and exit status 2, never a bare traceback. SIGINT and SIGTERM stop every
command the same way (:mod:`core.cli.signals`): exit status 130 and 143.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from core import __version__
from core.errors import StudioError

COMMANDS = ("run_cmd", "runs_cmd", "methods_cmd", "export_cmd", "bench_cmd", "study_cmd", "cache_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bert-studio", description="BERT Compression Studio (no command: open the studio)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--db", metavar="URL", help="experiment database (SQLAlchemy URL; default: a SQLite file in the data folder, or $BERT_STUDIO_DB)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"core.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"core.cli.{name}":
                raise
            continue
        module.add_parser(sub)
    for command in sub.choices.values():  # --db before or after the command; SUPPRESS keeps the global one
        if not any("--db" in action.option_strings for action in command._actions):
            command.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help="experiment database (as before the command)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from core.cli import signals
    from core.env import configure_environment

    configure_environment()
    args = build_parser().parse_args(argv)
    from core.cli.database import say_database_outages

    say_database_outages()
    with signals.handling() as interrupts:  # SIGINT and SIGTERM, the same way in every command
        try:
            return int(args.func(args) or 0)
        except StudioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # signals.Interrupted, or a KeyboardInterrupt raised by hand
            print("terminated (SIGTERM)" if interrupts.name == "SIGTERM" else "interrupted", file=sys.stderr)
            return interrupts.exit_code()
        finally:
            from core.cli.database import close_all

            close_all()

if __name__ == "__main__":
    raise SystemExit(main())
