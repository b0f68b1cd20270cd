"""Run the benchmarks: ``python -m bench`` (or ``make bench``) runs every one below, in this order.

``python -m bench NAME [NAME ...]`` runs the named ones, ``--list`` prints them with their commands. Every
bench writes ``docs/results/<file>.json``; afterwards the results tables of the README and docs are
regenerated from the files (``python -m bench.tables``). A bench that cannot be imported stops everything
before anything runs; one that misses its target or crashes is reported at the end, and the exit status is 1.
All of them together take hours on a 2-core CPU (the frontier and methods benches about an hour each).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from pathlib import Path

BASELINE_CACHE = str(Path.home() / ".cache" / "bert-studio-bench")

# name: (module, arguments). Each module under bench/ with a main() is here, and the docs name each.
BENCHMARKS: dict[str, tuple[str, list[str]]] = {
    "engine_overhead": ("engine_overhead", []),
    "gui_stall": ("gui_stall", []),
    "gui_stall_study": ("gui_stall", ["--study"]),
    "export_latency": ("export_latency", []),
    "export_fusion": ("export_fusion", []),
    "figures": ("figures", []),
    "distributed_throughput": ("distributed_throughput", []),
    "task_examples": ("task_examples", []),
    "study_cache": ("study_cache", []),
    "methods": ("methods", ["--baseline-cache", BASELINE_CACHE]),
    "frontier": ("frontier", ["--baseline-cache", BASELINE_CACHE]),
}


def command(name: str) -> str:
    module, args = BENCHMARKS[name]
    return " ".join(["python -m", f"bench.{module}", *args]).replace(str(Path.home()), "~")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all of them)")
    parser.add_argument("--list", action="store_true", help="print the benchmarks and their commands, run nothing")
    parser.add_argument("--no-tables", dest="tables", action="store_false",
                        help="do not regenerate the docs' results tables afterwards")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    names = args.names or list(BENCHMARKS)
    if args.list:
        for name in names:
            print(f"{name}: {command(name)}")
        return 0
    modules = {}
    for name in names:  # every module first: a missing or broken one stops the whole run before it starts
        module_name = f"bench.{BENCHMARKS[name][0]}"
        try:
            modules[name] = importlib.import_module(module_name)
        except Exception as exc:
            print(f"benchmark {name}: cannot import {module_name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        if not callable(getattr(modules[name], "main", None)):
            print(f"benchmark {name}: {module_name} has no main()", file=sys.stderr)
            return 2
    failed = []
    for name in names:
        print(f"== {name}: {command(name)}", flush=True)
        try:
            status = modules[name].main(list(BENCHMARKS[name][1]))
        except (Exception, SystemExit) as exc:
            if isinstance(exc, SystemExit) and exc.code in (0, None):
                status = 0
            else:
                traceback.print_exc()
                status = f"crashed ({type(exc).__name__})"
        if status != 0:
            failed.append(f"{name} ({status if isinstance(status, str) else 'missed its target'})")
    if args.tables:
        from bench import tables

        tables.main([])
    print("benchmarks that failed or missed their target:", ", ".join(failed) if failed else "none")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
