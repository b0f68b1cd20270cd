"""Run the benchmarks: ``python -m bench`` (or ``make bench``) runs every one below, in this order.

``python -m bench NAME [NAME ...]`` runs the named ones, ``--list`` prints them with their commands. Every
bench writes ``docs/results/<file>.json``; afterwards the results tables of the README and docs are
regenerated from the files (``python -m bench.tables``). Each bench runs in its own process, exactly as its
command reads, so its result file records that command and the load average of its own start. A bench that
cannot be imported stops everything before anything runs; one that ends with another status than 0 (1: it
missed its target, or raised) is named at the end with its status, and the exit status is 1.
All of them together take hours on a 2-core CPU (the frontier and methods benches the longest).
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE_CACHE = str(Path.home() / ".cache" / "bert-studio-bench")

# name: (module, arguments). Each module under bench/ with a main() is here, and the docs name each.
BENCHMARKS: dict[str, tuple[str, list[str]]] = {
    "engine_overhead": ("bench.engine_overhead", []),
    "gui_stall": ("bench.gui_stall", []),
    "gui_stall_study": ("bench.gui_stall", ["--study"]),
    "export_latency": ("bench.export_latency", []),
    "export_fusion": ("bench.export_fusion", []),
    "figures": ("bench.figures", []),
    "distributed_throughput": ("bench.distributed_throughput", []),
    "task_examples": ("bench.task_examples", []),
    "tasks": ("bench.tasks", []),
    "study_cache": ("bench.study_cache", []),
    "methods": ("bench.methods", ["--baseline-cache", BASELINE_CACHE]),
    "frontier": ("bench.frontier", ["--baseline-cache", BASELINE_CACHE]),
    "students": ("bench.students", ["--baseline-cache", BASELINE_CACHE]),
}


def command(name: str) -> str:
    module, args = BENCHMARKS[name]
    return " ".join(["python -m", module, *args]).replace(str(Path.home()), "~")


def run_one(name: str) -> int:
    """The bench in a process of its own, as its command reads; its exit status."""
    module, args = BENCHMARKS[name]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env).returncode


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
    for name in names:  # every module first: a missing or broken one stops the whole run before it starts
        module_name = BENCHMARKS[name][0]
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            print(f"benchmark {name}: cannot import {module_name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        if not callable(getattr(module, "main", None)):
            print(f"benchmark {name}: {module_name} has no main()", file=sys.stderr)
            return 2
    failed = []
    for name in names:
        print(f"== {name}: {command(name)}", flush=True)
        status = run_one(name)
        if status != 0:
            failed.append(f"{name} (exit status {status})")
    if args.tables:
        from bench import tables

        tables.main([])
    print("benchmarks that failed or missed their target:", ", ".join(failed) if failed else "none")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
