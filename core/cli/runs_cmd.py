"""``bert-studio runs`` and ``bert-studio show RUN``: read the experiment database."""

from __future__ import annotations

import json

from core.cli.format import results_text, table
from core.metrics import figures
from core.metrics.figures import format_figure as figure


def _with_spread(res: dict, key: str) -> str:
    """A list cell: the figure with its interval, marked when unreliable; a speedup not claimed says so briefly."""
    if key == "speedup" and res.get("speed_note") and figures.interval(res, key) is None and \
            figure(key, res.get(key)) in ("-", "n/a"):
        return "too small to time"
    text = figures.with_interval(key, res.get(key), res.get(f"{key}_low"), res.get(f"{key}_high"))
    return text + (" (unreliable)" if figures.unreliable(res, key) else "")


def _headline(res: dict) -> str:
    """The run's own headline figure (accuracy, entity F1, answer F1, Pearson, micro F1), named where not accuracy."""
    from core.metrics.task_figures import headline_key

    key = headline_key(res)
    cell = _with_spread(res, key)
    return cell if key == "accuracy" or cell == "-" else f"{figures.label(key)} {cell}"


def add_parser(sub) -> None:
    p = sub.add_parser("runs", help="list recorded runs")
    p.add_argument("--status", choices=("running", "finished", "failed", "cancelled", "interrupted"))
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--sort", metavar="ORDER", default="started",
                   help="started: newest first (default); score: best score first; or a figure's name (speedup, "
                        "accuracy_retained, latency_ms, ...): best first (lowest first for latencies, sizes, loss)")
    p.add_argument("--score", metavar="SCORE", default="geomean",
                   help="the score for --sort score and the score column: geomean, fastest, smallest, or a formula "
                        "over the figures, e.g. 'speedup * accuracy_retained ** 4' (default geomean)")
    p.set_defaults(func=list_runs)
    s = sub.add_parser("show", help="show one run's recipe and results")
    s.add_argument("run", help="run id (or an unambiguous prefix)")
    s.add_argument("--json", action="store_true", help="print the recipe as JSON instead of YAML")
    s.set_defaults(func=show_run)


_LOWER_IS_BETTER = ("ms", "bytes", "count")  # figure kinds where less is better (latency, size, parameters)


def sort_score(order: str):
    """The score ``--sort`` ranks by: None for 'started', the ``--score`` for 'score', else the figure named.

    A name that is not a figure is refused by the one check of figure names (core.scoring), with "did you mean".
    """
    from core.scoring import ScoreError, check_figure, parse_score

    if order in ("started", "score"):
        return None
    try:
        check_figure(order)
    except ScoreError as exc:
        raise ScoreError(f"--sort: {exc} (or: started, score)") from None
    fig = figures.spec(order)
    lower = order == "loss" or (fig is not None and fig.kind in _LOWER_IS_BETTER)
    return parse_score(f"-{order}" if lower else order)


def _when(ts) -> str:
    return ts.strftime("%Y-%m-%d %H:%M") if ts else "-"


def list_runs(args) -> int:
    from core.cli.database import open_repository

    from core.scoring import rank, run_scorer

    from core.db import DatabaseMissingError

    # a bad formula: a StudioError naming the unknown name or the syntax error; a built-in reads each run's task's
    score = run_scorer(args.score)
    by = sort_score(args.sort) if args.sort != "score" else score  # None: newest first
    try:
        _, repo = open_repository(args.db, for_reading=True)
    except DatabaseMissingError as exc:
        print(f"no runs recorded yet: {exc}")
        return 0
    runs = repo.list_runs(status=args.status, limit=None if by is not None else args.limit)
    if not runs:
        print("no runs recorded yet (bert-studio run RECIPE records one)")
        return 0
    ordered = [r for r, _ in rank(runs, by, lambda r: r.figures)] if by is not None else runs
    scored = [(r, score(r.figures or {})) for r in ordered]
    rows = []
    for r, value in scored[:args.limit]:
        res = r.figures or {}
        rows.append([r.id[:8], r.name, r.status, _when(r.started_at), _headline(res),
                     _with_spread(res, "speedup"), figure("size_bytes", res.get("size_bytes")),
                     "-" if value != value else f"{value:.4g}"])
    print(table(rows, ["run", "name", "status", "started", "accuracy / headline", "speedup", "size", "score"]))
    if args.sort == "score":
        print(f"\nscore: {score.describe()}")
    elif by is not None:
        print(f"\nsorted by {figures.label(args.sort).lower()}, best first")
    return 0


def show_run(args) -> int:
    import yaml

    from core.cli.database import open_repository

    from core.db import DatabaseMissingError, RunNotFoundError
    from core.errors import StudioError

    try:
        _, repo = open_repository(args.db, for_reading=True)
    except DatabaseMissingError as exc:
        raise StudioError(f"no run {args.run!r}: {exc}") from None
    try:
        run = repo.get_run(args.run)
    except RunNotFoundError as exc:
        raise StudioError(exc.args[0] if exc.args else f"no run {args.run!r}") from None
    print(f"run      {run.id}\nname     {run.name}\nstatus   {run.status}\nstarted  {_when(run.started_at)}\nended    {_when(run.ended_at)}\ndevice   {run.device or '-'}")
    if run.error:
        print(f"error    {run.error}")
    from core.engine.cache import describe_reuse

    reused = describe_reuse(run.steps)
    if reused:
        print(f"reused   {reused} (step cache)")
    print("\nrecipe:")
    text = json.dumps(run.recipe, indent=2) if args.json else yaml.safe_dump(run.recipe, sort_keys=False)
    print("  " + text.rstrip().replace("\n", "\n  "))
    figures = run.figures or run.results  # figures keep the intervals' notes and raw timings, results numbers only
    if figures:
        print("\nresults:")
        print(results_text(figures))
    return 0
