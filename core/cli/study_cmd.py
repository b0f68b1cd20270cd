"""``bert-studio study run|worker|list|show|stop``: studies from the command line (see core.study.runner)."""

from __future__ import annotations

import argparse
import math
import os
import sys

from core.cli import signals
from core.cli.format import table
from core.metrics.figures import format_figure as figure, label as figure_label
from core.metrics.task_figures import difference_text, drop_label


def add_parser(sub) -> None:
    p = sub.add_parser("study", help="order, grid and search studies (run, worker, list, show, stop)",
                       description="Studies: a template recipe, what varies, a score and a budget. "
                                   "Workers on several machines share one study through one database (--db).")
    ss = p.add_subparsers(dest="study_command", required=True, metavar="ACTION")
    r = ss.add_parser("run", help="record a study file as a new study and work on it")
    _db_option(r)
    r.add_argument("file", help="study file (.yaml or .json)")
    _worker_options(r)
    r.set_defaults(func=run_study)
    w = ss.add_parser("worker", help="join a running study (from another process or machine) and work on it")
    _db_option(w)
    w.add_argument("study", help="study id (or an unambiguous prefix)")
    w.add_argument("--resume", action="store_true",
                   help="re-open a stopped study and run its cancelled and interrupted trials again")
    _worker_options(w)
    # How the studio follows a worker it started (as it follows a multi-process run, core.engine.local_launch):
    w.add_argument("--events", metavar="PATH", help="also write every event (study and runs) as a JSON line to PATH")
    w.add_argument("--control", metavar="PATH",
                   help="a file whose word 'cancel' stops the whole study (the current trial is cancelled)")
    w.add_argument("--workdir", metavar="DIR", help="folder of the trials' run folders (default: the studio's)")
    w.add_argument("--cache", metavar="DIR", help="the step cache's folder (default: the one beside the database)")
    w.add_argument("--nice", type=int, default=0, metavar="N",
                   help="lower this worker's CPU priority by N (POSIX), so a window beside it stays responsive")
    w.set_defaults(func=work_on_study)
    li = ss.add_parser("list", help="list studies")
    _db_option(li)
    li.add_argument("--limit", type=int, default=50)
    li.set_defaults(func=list_studies)
    sh = ss.add_parser("show", help="a study's trials, interaction table, Pareto front and best run")
    _db_option(sh)
    sh.add_argument("study", help="study id (or an unambiguous prefix)")
    sh.set_defaults(func=show_study)
    st = ss.add_parser("stop", help="stop a study: every worker stops; `study worker ID --resume` restarts it")
    _db_option(st)
    st.add_argument("study", help="study id (or an unambiguous prefix)")
    st.set_defaults(func=stop)


def _worker_options(p) -> None:
    p.add_argument("--no-cache", action="store_true", help="compute every step (no step cache)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--heartbeat", type=float, default=10.0, metavar="S",
                   help="seconds between this worker's signs of life (default 10)")
    p.add_argument("--grace", type=float, default=120.0, metavar="S",
                   help="a trial whose worker is silent this long is marked interrupted (default 120)")
    p.add_argument("--db-patience", type=float, default=60.0, metavar="S",
                   help="how long to wait for a database server that went away before this worker stops, keeping "
                        "its trial's results in a file the next command records (default 60)")


def _db_url(args) -> str:
    from core.env import default_database_url

    return args.db or default_database_url()


def run_study(args) -> int:
    from core.study.runner import create_study
    from core.study.spec import StudySpec

    spec = StudySpec.load(args.file)
    _refuse_unrunnable(spec)  # before anything is recorded
    study_id = create_study(spec, _db_url(args))
    print(f"study {study_id[:8]} ({spec.kind}): {spec.name}")
    if spec.kind == "search":
        print(f"  {spec.describe_space()}", flush=True)
    print(f"  more workers: bert-studio study worker {study_id[:8]} --db URL", file=sys.stderr)
    return _work(args, study_id, resume=False)


def _refuse_unrunnable(spec) -> None:
    """An order or grid study none of whose trials can run is refused with the reasons, not 'finished' empty."""
    if spec.kind == "search":
        return
    from core.study.plan import plan
    from core.study.spec import StudyError

    trials = plan(spec)
    if trials and all(t.problems for t in trials):
        reasons = sorted({p for t in trials for p in t.problems})
        raise StudyError([f"none of the {len(trials)} trials can run:"] + reasons[:10])


def work_on_study(args) -> int:
    return _work(args, args.study, resume=args.resume)


def _work(args, study_id: str, resume: bool) -> int:
    """Work on the study until its budget is spent; SIGINT or SIGTERM cancels this worker's trial and leaves.

    Exit status: 0, 1 (the study failed), 130 after Ctrl-C, 143 after SIGTERM (:mod:`core.cli.signals`).
    """
    import threading

    from core.events import StudyStarted, TrialFinished, TrialStarted
    from core.study.runner import StudyRunner

    if getattr(args, "nice", 0) and hasattr(os, "nice"):
        os.nice(args.nice)
    url = _db_url(args)
    db, studies = _open(args)
    with db:
        study_id = studies.resolve_id(study_id)  # an unknown id ends here, with its message
    runner = StudyRunner(url, study_id, cache=_cache(args), resume=resume, heartbeat_s=args.heartbeat,
                         grace_s=args.grace, workdir_root=getattr(args, "workdir", None), patience_s=args.db_patience)
    writer = None
    if getattr(args, "events", None):
        from core.engine.event_stream import EventWriter

        writer = EventWriter(runner.bus, args.events)
    following = threading.Event()
    if getattr(args, "control", None):
        from core.engine.control import follow_control_file

        follow_control_file(args.control, _StudyControl(runner), following)
    bar = _TrialBar(quiet=args.quiet)
    runner.bus.subscribe(TrialStarted, bar.started)
    runner.bus.subscribe(TrialFinished, bar.finished)
    runner.bus.subscribe(StudyStarted, bar.study_started)
    with signals.cooperative() as interrupts:
        try:
            runner.start()
            stopping = False
            while not runner.done:
                runner.join(0.2)
                if interrupts.requested.is_set() and not stopping:
                    stopping = True
                    print("\n" + interrupts.cancel_message("this worker stops, its current trial is cancelled"),
                          file=sys.stderr, flush=True)
                    runner.stop()
        except signals.StopNow:
            # The trial's run may be deep in a batch: record it and its trial as cancelled now and leave without
            # waiting for the worker's thread (interpreter shutdown beside a running torch thread can abort).
            left = runner.abandon("stopped at once by the user")
            bar.close()
            if writer is not None:
                writer.close()
            from core.cli.database import close_all

            close_all()
            print(f"\nstudy {runner.study_id[:8]}: this worker stopped at once"
                  + (f"; trial {', '.join(str(n + 1) for n in left)} cancelled" if left else "")
                  + f" (bert-studio study worker {runner.study_id[:8]} --resume runs it again)", flush=True)
            sys.stderr.flush()
            os._exit(signals.exit_code())
        finally:
            following.set()
            bar.close()
            if writer is not None:
                writer.close()
    outcome = runner.outcome
    if outcome is None:
        print("error: the worker ended without an outcome (see the log above)", file=sys.stderr)
        return 1
    if outcome.status == "unreachable":  # its database went away and stayed away: nothing more can be read there
        print(f"study {outcome.study_id[:8]}: this worker stopped, its database went away")
        print(f"error: {outcome.error}", file=sys.stderr)
        return interrupts.exit_code() if interrupts.count else 1
    print(f"study {outcome.study_id[:8]} {outcome.status}: this worker ran {len(outcome.trials)} trial(s)")
    if outcome.status == "cancelled":
        print(f"  (stopped; bert-studio study worker {outcome.study_id[:8]} --resume restarts it)")
    elif interrupts.count and outcome.status == "running":
        print(f"  (this worker stopped; bert-studio study worker {outcome.study_id[:8]} --resume runs its "
              f"cancelled trial again)")
    print(_report_text(url, outcome.study_id))
    if interrupts.count:
        return interrupts.exit_code()
    if outcome.status == "failed":
        print(f"error: study {outcome.study_id[:8]} failed: every trial was skipped (the reasons are above)",
              file=sys.stderr)
        return 1
    return 0


def _cache(args):
    """The step cache the trials share: none, the folder named, or the one beside the database."""
    if args.no_cache:
        return None
    if getattr(args, "cache", None):
        from core.engine.cache import StepCache

        return StepCache(args.cache)
    from core.study.runner import DEFAULT

    return DEFAULT


class _StudyControl:
    """What the control file's words do to a study worker: ``cancel`` stops the whole study (no pause)."""

    def __init__(self, runner):
        self.runner = runner

    def cancel(self) -> None:
        self.runner.stop(study=True)

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass


class _TrialBar:
    """A progress bar over the study's trial slots, and one line per trial that ends."""

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet, self.stream = quiet, stream or sys.stderr
        self.bar = None

    def study_started(self, e) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        self.bar = tqdm(total=e.planned, file=self.stream, unit="trial", dynamic_ncols=True, leave=False,
                        desc=f"study {e.study_id[:8]}")

    def started(self, e) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"trial {e.number + 1}: {e.label}"[:60])

    def finished(self, e) -> None:
        value = "" if math.isnan(e.value) else f", score {e.value:.4g}"
        line = f"trial {e.number + 1} {e.status}: {e.label}{value}" + (f" ({e.note})" if e.note else "")
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
            self.bar.update(1)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _open(args, for_reading: bool = False):
    """The database (a context manager: closed when the command ends) and its studies.

    Not ``core.cli.database.open_repository``: that marks runs of other hosts 'interrupted', and a
    study's workers run on other hosts.
    """
    from core.db import StudyRepository, open_database

    db = open_database(args.db, for_reading=for_reading)  # list/show: never create a database, nor write a damaged one
    if db.damaged is None:
        from core.cli.database import record_pending_runs

        record_pending_runs(db)  # trials that ended while the database was away (core.db.pending): recorded now
    return db, StudyRepository(db)


def _when(ts) -> str:
    return ts.strftime("%Y-%m-%d %H:%M") if ts else "-"


def list_studies(args) -> int:
    db, studies = _open(args, for_reading=True)
    with db:
        found = studies.list_studies(limit=args.limit)
    if not found:
        print("no studies recorded yet (bert-studio study run STUDY.yaml records one)")
        return 0
    rows = [[s.short_id, s.name, s.kind, s.status, _when(s.created_at),
             f"{s.claimed}/{s.max_trials}" if s.max_trials is not None else str(s.claimed)] for s in found]
    print(table(rows, ["study", "name", "kind", "status", "created", "trials"]))
    return 0


def show_study(args) -> int:
    db, studies = _open(args, for_reading=True)
    with db:
        print(_report_text(db, studies.resolve_id(args.study)))
    return 0


def stop(args) -> int:
    db, studies = _open(args)
    with db:
        full = studies.resolve_id(args.study)
        studies.set_status(full, "cancelled")
    print(f"study {full[:8]} stopped; its workers stop their current trials "
          f"(bert-studio study worker {full[:8]} --resume restarts it)")
    return 0


# -- the report in text ------------------------------------------------------------------------------------
def _report_text(db, study_id: str) -> str:
    from core.scoring import retained_figure
    from core.study.runner import study_report

    rep = study_report(db, study_id)
    s = rep.study
    out = [f"study    {s.id}", f"name     {s.name}", f"kind     {s.kind}", f"status   {s.status}",
           f"trials   {s.claimed} of {s.max_trials if s.max_trials is not None else 'open'} claimed; "
           + ", ".join(f"{n} {k}" for k, n in sorted(rep.counts.items()))]
    if rep.spec.constraints:
        out.append("require  " + ", ".join(str(c) for c in rep.spec.constraints))
    rows, retained = [], retained_figure(rep.spec.recipe.task)  # the task's: entity_f1_retained for NER
    for t in rep.trials:
        f = t.figures
        rows.append([str(t.number + 1), t.label[:48], t.status, "-" if math.isnan(t.value) else f"{t.value:.4g}",
                     figure(retained, f.get(retained)) if f else "-",
                     figure("speedup", f.get("speedup")) if f else "-",
                     figure("size_ratio", f.get("size_ratio")) if f else "-",
                     (t.run_id or "-")[:8], "" if t.feasible or not f else "constraint not met"])
    out += ["", table(rows, ["trial", "what", "status", "score", figure_label(retained), "speedup", "size ratio",
                             "run", ""])]
    notes = [(t.number + 1, t.note) for t in rep.trials if t.note and t.status not in ("finished",)]
    out += [f"  trial {n}: {note}" for n, note in notes]
    if rep.interaction:
        out += ["", interaction_text(rep.interaction)]
    if rep.pareto:
        axes = " vs ".join(f"{name} ({'higher' if d == 'maximize' else 'lower'} is better)"
                           for name, d in rep.pareto_axes)
        out += ["", f"Pareto front on {axes}:"]
        out += [f"  trial {t.number + 1} (run {(t.run_id or '-')[:8]}): "
                + ", ".join(f"{name} {figure(name, t.figures.get(name))}" for name, _ in rep.pareto_axes)
                + f"  {t.label}" for t in rep.pareto]
    if rep.best is not None:
        b = rep.best
        out += ["", f"best: trial {b.number + 1}, run {(b.run_id or '-')[:8]}, score {b.value:.4g}: {b.label}"
                    f" (bert-studio show {(b.run_id or '')[:8]})"]
    else:
        out += ["", "best: none yet (no finished trial meets the constraints)"]
    return "\n".join(out)


def _effect(effect, kind: str, headline: str = "accuracy") -> str:
    if effect is None:
        return "-"
    if kind == "ratio":
        text = f"x{effect.value:.2f} \u00b1 {effect.spread:.2f}"
    else:
        text = difference_text(effect.value, effect.spread, headline)
    return f"{text} ({effect.verdict})"


def interaction_text(tables) -> str:
    """For each pair: A alone, B alone, A->B, B->A and the no-interaction prediction; then the effects."""
    drop = drop_label(tables[0].headline if tables else "accuracy")
    out = ["interaction (against the same teacher; no interaction: speedups and size ratios multiply, "
           f"{drop[:1].lower() + drop[1:]}s add):"]
    for p in tables:
        rows = [[f"{p.a} alone", *_cells(p.alone_a, p.headline)], [f"{p.b} alone", *_cells(p.alone_b, p.headline)],
                [f"{p.a} -> {p.b}", *_cells(p.ab, p.headline)], [f"{p.b} -> {p.a}", *_cells(p.ba, p.headline)],
                ["no interaction predicts", f"{p.null_speedup:.2f}x", f"{p.null_size_ratio:.2f}x",
                 difference_text(p.null_drop, math.nan, p.headline)]]
        out += ["", table(rows, ["", "speedup", "size ratio", drop[:1].lower() + drop[1:]])]
        for name, stacked in ((f"{p.a} -> {p.b}", p.ab), (f"{p.b} -> {p.a}", p.ba)):
            if stacked is None:
                out.append(f"  {name}: did not run")
                continue
            out.append(f"  {name} against the null: speed {_effect(p.speed_interaction(stacked), 'ratio')}, "
                       f"size {_effect(p.size_interaction(stacked), 'ratio')}, "
                       f"drop {_effect(p.drop_interaction(stacked), 'diff', p.headline)}")
        if p.ab and p.ba:
            out.append(f"  order ({p.a} first against {p.b} first): speed {_effect(p.order_speed(), 'ratio')}, "
                       f"size {_effect(p.order_size(), 'ratio')}, drop {_effect(p.order_drop(), 'diff', p.headline)}")
    return "\n".join(out)


def _cells(run, headline: str = "accuracy") -> list[str]:
    if run is None:
        return ["-", "-", "-"]
    return [f"{run.speedup.value:.2f}x \u00b1 {run.speedup.spread:.2f}", f"{run.size_ratio.value:.2f}x",
            difference_text(run.drop.value, run.drop.spread, headline)]


def _db_option(p) -> None:
    """``--db`` after the action too (the global one, before the command, still works)."""
    p.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help="experiment database (SQLAlchemy URL)")
