"""Run every benchmark: ``python -m bench`` (or ``make bench``)."""

import importlib
import sys

BENCHMARKS = ("engine_overhead", "methods", "gui_stall", "export_latency")

failed = []
for name in BENCHMARKS:
    try:
        module = importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"bench.{name}":
            continue
        raise
    print(f"== {name}")
    if module.main([]) != 0:
        failed.append(name)
print("benchmarks missing their target:", ", ".join(failed) if failed else "none")
sys.exit(1 if failed else 0)
