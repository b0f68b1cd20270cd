"""``bert-studio run RECIPE``: run a recipe headless, recording into the database."""

from __future__ import annotations

import sys

from core.cli.format import results_text


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run a recipe file headless", description="Run a recipe (YAML or JSON) and record it in the database.")
    p.add_argument("recipe", help="recipe file (.yaml, .yml or .json)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override the recipe's device")
    p.add_argument("--name", help="override the run's name")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.cli.database import open_repository
    from core.cli.progress import TerminalProgress
    from core.db import Recorder
    from core.engine import Engine
    from core.recipe import Recipe

    recipe = Recipe.load(args.recipe)
    if args.device:
        recipe.device = args.device
    if args.name:
        recipe.name = args.name
    recipe.validate()
    db, repo = open_repository(args.db)
    engine = Engine()
    recorder = Recorder(db, engine.bus)
    display = TerminalProgress(engine.bus, quiet=args.quiet)
    handle = engine.start(recipe)
    try:
        while not handle.done:
            handle.join(0.2)
    except KeyboardInterrupt:
        print("\ncancelling (the run stops at the next batch)...", file=sys.stderr)
        handle.cancel()
        handle.join()
    finally:
        display.close()
        recorder.close()
    result = handle.result
    print(f"run {result.run_id[:8]} {result.status}")
    if result.status == "failed":
        print(f"error: {result.error}", file=sys.stderr)
        return 1
    if result.status == "cancelled":
        return 130
    print(results_text(result.results))
    return 0
