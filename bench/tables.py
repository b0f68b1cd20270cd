"""The results tables of the README and docs, generated from the committed result files.

A document marks a table with the names of the result files behind it (``docs/results/<name>.json``)::

    <!-- results:gui_stall_study,gui_stall_study_tiny -->
    (generated: never edit by hand)
    <!-- /results -->

A name ending in ``?`` (``<!-- results:frontier? -->``) is optional: until its file is committed the block says
"not measured in a committed run", and the first ``python -m bench.tables`` after it is committed fills it in.

``python -m bench.tables`` rewrites every marked block of ``README.md`` and ``docs/*.md`` from the files;
``python -m bench.tables --check`` only says which blocks differ (exit 1), as the test does. Each bench kind
has a renderer that reads what its file holds (a new figure a bench starts writing shows up without a
change here where it follows the names of the others, e.g. ``speedup_<kind>`` beside ``speedup``, an
interval as ``<figure>_<kind>low`` / ``<figure>_<kind>high``); a kind without a renderer gets the generic one,
every scalar figure of the file. Every block ends with where each figure came from: the file, its date,
the exact command, the commit, CPU, threads and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.tasks import table as tasks_table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
MARKER = re.compile(r"(?P<open><!-- results:(?P<names>[^ >]+) -->\n)(?P<body>.*?)(?P<close><!-- /results -->)", re.S)
# Keys of a result file that describe the run, not a figure (the provenance footer shows them).
META = {"benchmark", "when", "machine", "provenance", "settings", "folder", "study_id"}
# Interval suffixes and how they are labelled; a new kind of interval shows under its own name.
INTERVAL_LABELS = {"": "IQR", "ci_": "95 % CI", "ci95_": "95 % CI"}


class ResultsError(Exception):
    """A marked block names a result file that is missing or unreadable."""


def documents(root: Path = ROOT) -> list[Path]:
    """The documents whose marked tables are generated: the README and every page of docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def load(name: str, results: Path = RESULTS) -> dict:
    path = results / f"{name}.json"
    if not path.is_file():
        raise ResultsError(f"no result file {path.relative_to(results.parent.parent)} behind the table "
                           f"'results:{name}': run its bench, or mark the figure 'not measured in a committed run'")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not JSON ({exc})") from exc


# ---------------------------------------------------------------- formatting


def num(value, digits: int = 2) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, list) and all(isinstance(v, (int, float, str)) for v in value):
        return ", ".join(num(v, digits) if not isinstance(v, str) else v for v in value)
    return str(value)


def intervals(fig: dict, key: str, fmt) -> str:
    """Every interval recorded for ``fig[key]``: ``key_low``/``key_high`` (IQR), ``key_ci_low``/``key_ci_high`` ..."""
    parts = []
    lows = [k for k in fig if k.startswith(key + "_") and k.endswith("low")]
    for low_key in sorted(lows, key=lambda k: (len(k), k)):  # key_low (the IQR) first, then key_ci_low ...
        infix = low_key[len(key) + 1:-len("low")]
        high_key = f"{key}_{infix}high"
        if high_key not in fig or fig[low_key] is None or fig[high_key] is None:
            continue
        if any(low_key.startswith(f"{other}_") for other in ratio_keys(fig) if other != key and other.startswith(key)):
            continue  # speedup_onnx_low belongs to speedup_onnx, not to speedup
        label = INTERVAL_LABELS.get(infix, infix.rstrip("_").replace("_", " "))
        if infix == "" and f"{key}_q1" in fig:  # core.metrics.timing: key_low/key_high the CI, key_q1/key_q3 the IQR
            level = fig.get(f"{key}_level")
            label = "95 % CI" if level is None or level >= 0.95 else f"{100 * level:.1f} % CI"
        parts.append(f"{label} {fmt(fig[low_key])}-{fmt(fig[high_key])}")
    if f"{key}_q1" in fig and f"{key}_q3" in fig and fig[f"{key}_q1"] is not None:
        parts.append(f"IQR {fmt(fig[f'{key}_q1'])}-{fmt(fig[f'{key}_q3'])}")
    return f" ({'; '.join(parts)})" if parts else ""


def ratio_keys(fig: dict, stem: str = "speedup") -> list[str]:
    """``speedup`` and every other ratio named after it (``speedup_vs_onnx_fp32``), intervals excluded."""
    return [k for k, v in fig.items() if k.startswith(stem) and isinstance(v, (int, float)) and not isinstance(v, bool)
            and not k.endswith(("low", "high", "_level", "_q1", "_q3"))]


def ratio(fig: dict | None, key: str = "speedup") -> str:
    if not fig:
        return ""
    if fig.get(key) is None:
        return fig.get("speed_note", "") if key == "speedup" else ""
    return f"{fig[key]:.2f}x" + intervals(fig, key, lambda v: f"{v:.2f}")


def percent(value, digits: int = 1) -> str:
    return "" if value is None else f"{value * 100:.{digits}f} %"


def megabytes(value) -> str:
    return "" if value is None else f"{value / 1e6:.2f} MB"


def cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines + ([""] + self.notes if self.notes else []))


# ---------------------------------------------------------------- one renderer per bench kind


def gui_stall(files: list[tuple[str, dict]]) -> Table:
    """bench.gui_stall (a run) and its --study mode: the event loop's gaps, idle and while working."""
    t = Table(["result file", "measured", "model", "what ran", "idle: longest gap", "longest gap", "p99 gap",
               "median gap", "gaps over the target", "target", "met"])
    for name, d in files:
        busy = d.get("during_study") or d.get("during_run") or {}
        idle = d.get("idle") or {}
        if "during_study" in d:
            what = f"{d.get('workers')} study workers, {len(d.get('trials') or [])} trials, {d.get('steps')} steps each"
        else:
            what = f"a run of {d.get('steps')} steps ({d.get('engine', 'process')} engine)"
        t.rows.append([f"{name}.json", d.get("when", "")[:10], d.get("model", ""), what,
                       f"{num(idle.get('longest_gap_ms'), 1)} ms", f"{num(busy.get('longest_gap_ms'), 1)} ms",
                       f"{num(busy.get('p99_gap_ms'), 1)} ms", f"{num(busy.get('median_gap_ms'), 1)} ms",
                       num(busy.get("gaps_over_target")), f"{num(d.get('target_ms'), 0)} ms",
                       num(d.get("meets_target"))])
    return t


def frontier(files: list[tuple[str, dict]]) -> Table:
    """bench.frontier: each artifact of each stack and seed against the teacher, every latency profile recorded."""
    profiles: list[str] = []
    ratio_names: dict[str, list[str]] = {}
    for _, d in files:
        for r in d.get("rows", []):
            for a in (r.get("artifacts") or {}).values():
                for p, fig in (a.get("profiles") or {}).items():
                    if p not in profiles:
                        profiles.append(p)
                    for k in ratio_keys(fig):
                        ratio_names.setdefault(p, [])
                        if k not in ratio_names[p]:
                            ratio_names[p].append(k)
    speed_cols = [(p, k) for p in profiles for k in ratio_names.get(p, ["speedup"])]
    t = Table(["stack", "seed", "artifact", "accuracy", "retained (95 % interval)", "weights", "smaller",
               *[p + ("" if k == "speedup" else f" ({k.replace('_', ' ')})") for p, k in speed_cols]])
    for name, d in files:
        teacher = d.get("teacher") or {}
        t.notes.append(f"Teacher ({name}.json): {percent(teacher.get('accuracy'), 2)} on {num(teacher.get('n'))} "
                       f"test sentences, {megabytes(teacher.get('weights_bytes'))} of weights. Target: "
                       + ", ".join(f"{k} >= {v}" for k, v in (d.get("target") or {}).items()) + ".")
        for r in d.get("rows", []):
            blank = [""] * (len(t.columns) - 3)
            if r.get("error"):
                t.rows.append([r["stack"], num(r["seed"]), f"failed: {r['error'][:80]}", *blank])
            for label, why in (r.get("export_errors") or {}).items():
                t.rows.append([r["stack"], num(r["seed"]), f"{label}: export failed ({why[:80]})", *blank])
            for label, a in (r.get("artifacts") or {}).items():
                p = a.get("profiles") or {}
                mark = " (deployable)" if label == r.get("deployable") else ""
                retained = percent(a.get("accuracy_retained")) + (
                    f" ({a['accuracy_retained_low'] * 100:.1f}-{a['accuracy_retained_high'] * 100:.1f})"
                    if a.get("accuracy_retained_low") is not None else "")
                t.rows.append([r["stack"], num(r["seed"]), label + mark, percent(a.get("accuracy"), 2), retained,
                               megabytes(a.get("weights_bytes")),
                               f"{a['size_ratio']:.1f}x" if a.get("size_ratio") else "",
                               *[ratio(p.get(prof), k) for prof, k in speed_cols]])
    return t


def methods(files: list[tuple[str, dict]]) -> Table:
    """bench.methods: each variant against the fine-tuned baseline measured in the same run."""
    t = Table(["variant", "test accuracy", "retained", "parameters", "size", "size ratio", "speedup", "time"])
    for name, d in files:
        b = d.get("baseline") or {}
        t.rows.append([f"fine-tuned baseline ({name}.json)", percent(b.get("accuracy"), 2), "100 %",
                       f"{b['parameters'] / 1e6:.1f} M" if b.get("parameters") else "", megabytes(b.get("size_bytes")),
                       "1.0x", "1.0x", ""])
        for r in d.get("variants", []):
            res = r.get("results") or {}
            if r.get("status") != "finished":
                t.rows.append([r["name"], "", "", "", "", "", "", f"{r.get('status')}: {(r.get('error') or '')[:60]}"])
                continue
            retained = percent(res.get("accuracy_retained")) + intervals(res, "accuracy_retained",
                                                                         lambda v: f"{v * 100:.1f}")
            t.rows.append([r["name"], percent(res.get("accuracy"), 2), retained,
                           f"{res['parameters'] / 1e6:.1f} M" if res.get("parameters") else "",
                           megabytes(res.get("size_bytes")),
                           f"{res['size_ratio']:.1f}x" if res.get("size_ratio") else "",
                           ratio(res), f"{r['seconds']:.0f} s" if r.get("seconds") is not None else ""])
        if d.get("meets_target") is not None:
            targets = ", ".join(f"{k} >= {v}" for k, v in (d.get("target") or {}).items())
            t.notes.append(f"Target ({name}.json): {targets}"
                           + "; met by: " + (", ".join(d["meets_target"]) or "none") + ".")
    return t


def flatten(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for k, v in d.items():
        if not prefix and k in META:
            continue
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out += flatten(v, key + ".")
        elif isinstance(v, (int, float, bool, str)) or v is None:
            if isinstance(v, str) and "\n" in v:
                continue  # a preformatted text (an interaction table): shown below the table
            out.append((key, v))
        elif isinstance(v, list) and all(isinstance(x, (int, float, str, bool)) for x in v) and len(v) <= 12:
            out.append((key, v))
    return out


def generic(files: list[tuple[str, dict]]) -> Table:
    """Any bench: every scalar figure of each file, by name (nested names joined with dots)."""
    t = Table(["figure", *[f"{name}.json" for name, _ in files]])
    keys: list[str] = []
    values: list[dict] = []
    for _, d in files:
        flat = dict(flatten(d))
        values.append(flat)
        keys += [k for k in flat if k not in keys]
    for k in keys:
        t.rows.append([k, *[num(v.get(k)) for v in values]])
    for name, d in files:
        for k, v in d.items():
            if isinstance(v, str) and "\n" in v:
                t.notes += ["", f"{k} ({name}.json):", "", "```", v.rstrip("\n"), "```"]
    return t


RENDERERS = {"gui_stall": gui_stall, "gui_stall_study": gui_stall, "frontier": frontier, "methods": methods,
             "tasks": tasks_table}


# ---------------------------------------------------------------- provenance and documents


def _load_average(averages: list | None) -> str:
    return "/".join(f"{x:.2f}" for x in averages[:3]) if averages else "not recorded"


def provenance(name: str, d: dict, doc: Path, results: Path = RESULTS) -> str:
    """Where a table's figures came from: the file (linked from ``doc``), date, command, commit, CPU, threads, load."""
    p = d.get("provenance") or {}
    m = d.get("machine") or {}
    link = Path(os.path.relpath(results / f"{name}.json", doc.parent)).as_posix()
    commit = (p.get("commit") or "not recorded")
    commit = commit[:10] + ("+dirty" if commit.endswith("+dirty") else "") if p.get("commit") else commit
    threads = p.get("torch_threads", m.get("threads"))
    return (f"[`{name}.json`]({link}): {d.get('when', 'date not recorded').replace('T', ' ')}, "
            f"`{p.get('command', 'command not recorded')}`, commit {commit}, {p.get('cpu_model', 'CPU not recorded')} "
            f"({num(p.get('cpu_count', m.get('cpu_count')))} CPUs), {num(threads)} torch threads, load average "
            f"(1/5/15 min) {_load_average(p.get('load_average_at_start'))} at the start, "
            f"{_load_average(p.get('load_average_at_end'))} at the end."
            + (f" Note: {p['note'].rstrip('.')}." if p.get("note") else ""))


def render(names: list[str], doc: Path, results: Path = RESULTS) -> str:
    """The generated block for the named result files, as it appears in ``doc`` (links relative to it).

    A name ending in ``?`` is optional: a missing file is left out, and a block whose files are all missing
    says that its bench is not measured in a committed run (the block fills in once a file is committed).
    """
    present = [n.rstrip("?") for n in names if not n.endswith("?") or (results / f"{n[:-1]}.json").is_file()]
    if not present:
        files = ", ".join(f"`{n.rstrip('?')}.json`" for n in names)
        return f"**Not measured in a committed run** (no result file {files} yet).\n"
    files = [(n, load(n, results)) for n in present]
    kinds = {d.get("benchmark", n) for n, d in files}
    if len(kinds) > 1:
        raise ResultsError(f"one table from results of different benches: {', '.join(sorted(kinds))}")
    renderer = RENDERERS.get(kinds.pop(), generic)
    table = renderer(files)
    lines = ["<!-- generated by `python -m bench.tables` from the result files below: do not edit by hand -->",
             table.markdown(), "", "Measured (result files and how they were made):", ""]
    lines += [f"- {provenance(n, d, doc, results)}" for n, d in files]
    return "\n".join(lines) + "\n"


@dataclass
class Block:
    doc: Path
    names: list[str]
    body: str
    expected: str | None
    error: str | None = None

    @property
    def stale(self) -> bool:
        return self.error is not None or self.body != self.expected


def blocks(doc: Path, results: Path = RESULTS) -> list[Block]:
    """Every marked block of ``doc`` with what it holds and what its result files generate."""
    out = []
    for m in MARKER.finditer(doc.read_text()):
        names = m.group("names").split(",")
        try:
            out.append(Block(doc, names, m.group("body"), render(names, doc, results)))
        except ResultsError as exc:
            out.append(Block(doc, names, m.group("body"), None, str(exc)))
    return out


def rewrite(doc: Path, results: Path = RESULTS) -> bool:
    """Regenerate the marked blocks of ``doc``; True if it changed. A block whose file is missing raises."""
    text = doc.read_text()

    def fill(m: re.Match) -> str:
        return m.group("open") + render(m.group("names").split(","), doc, results) + m.group("close")

    new = MARKER.sub(fill, text)
    if new != text:
        doc.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tables", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report the blocks that differ from their files")
    args = parser.parse_args(argv)
    bad = 0
    for doc in documents():
        if args.check:
            for b in blocks(doc):
                if b.stale:
                    bad += 1
                    print(f"{doc.relative_to(ROOT)}: results:{','.join(b.names)}: "
                          f"{b.error or 'differs from its result files (run python -m bench.tables)'}")
        else:
            try:
                if rewrite(doc):
                    print(f"rewrote the tables of {doc.relative_to(ROOT)}")
            except ResultsError as exc:
                print(f"{doc.relative_to(ROOT)}: {exc}", file=sys.stderr)
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
