"""Hostile study files through the command line (``study run FILE``), as a user meets them.

Each is refused before anything is recorded: exit code 2, one ``error:`` line with what is wrong and where,
no traceback, and the database (which already holds a study) byte-identical afterwards. Then the study's
own fields: trial names that always fit, a search space's size said before the first trial, and a study
whose every trial was skipped ending ``failed``, never ``finished``. Every test that touches a database
runs on a SQLite file and on PostgreSQL (the server of tests/pg.py; CI sets STUDIO_REQUIRE_POSTGRES=1,
so there they fail rather than skip when no server starts).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from core.recipe import NAME_LENGTH, Step
from tests.conftest import tiny_recipe
from tests.core.test_cli import ROOT

TEMPLATE = tiny_recipe(Step("finetune", {"max_steps": 2}), Step("prune.heads", {"amount": 0.5}),
                       Step("prune.ffn", {"amount": 0.5}), Step("quant.dynamic_int8")).to_dict()


def study(**fields) -> dict:
    return {"format": "bert-studio-study", "version": 1, "name": "faults", "kind": "order", "recipe": TEMPLATE,
            "order": {"steps": [2, 3]}, **fields}


def cli(*args, db):
    env = {**os.environ, "BERT_STUDIO_DB": db, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)
    done.seconds = time.monotonic() - began
    return done


@pytest.fixture(params=["sqlite", "postgresql"])
def recorded(request, tmp_path):
    """A database that already holds a study, on a SQLite file and on PostgreSQL (tests/pg.py's server).

    ``(url, fingerprint)``: fingerprint() is the SQLite file's bytes' hash, or every row of every table of the
    PostgreSQL database, so "nothing was written" means the same on both.
    """
    from core.study.runner import create_study
    from core.study.spec import StudySpec

    path = tmp_path / "studio.db"
    url = f"sqlite:///{path}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    create_study(StudySpec.from_dict(study(name="already here")), url)

    def fingerprint():
        if request.param == "postgresql":
            return _contents(url)
        files = sorted(p for p in tmp_path.iterdir() if p.name.startswith("studio.db"))
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    return url, fingerprint


def _contents(url: str) -> dict:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: sorted(repr(tuple(r)) for r in conn.execute(sa.text(f'SELECT * FROM "{t}"')))
                    for t in sorted(sa.inspect(conn).get_table_names())}
    finally:
        engine.dispose()


def _rows(url):
    from core.db import open_database

    import sqlalchemy as sa

    with open_database(url, for_reading=True) as db, db.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar()
                for t in ("runs", "studies", "study_trials")}


def refused(done, *expected: str) -> None:
    """Exit 2, one ``error:`` line, each expected text in the message, no traceback."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] == \
        [done.stderr.splitlines()[0]], done.stderr
    for text in expected:
        assert text in done.stderr, (text, done.stderr)
    assert done.stdout == ""  # nothing said as if the study had started


def bomb(depth: int = 7) -> str:
    """YAML anchors ``a`` .. ``g``: each a list of nine of the one before, 9^depth strings in all."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, depth):
        name, prev = chr(97 + i), chr(96 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


CASES = {
    "constraint typo": (study(constraints=["acuracy_retained >= 0.5"]),
                        ["constraints[1]: unknown figure 'acuracy_retained'; did you mean 'accuracy_retained'?"]),
    "objective escape": (study(objective=["speedup", "__import__"]), ["objective[2]: unknown figure '__import__'"]),
    "objective typo": (study(objective=[{"figure": "sped", "direction": "maximize"}, "speedup"]),
                       ["objective[1]: unknown figure 'sped'; did you mean 'speedup'?"]),
    "geomean weights 1e308": (study(objective={"kind": "geomean", "weights": {"accuracy_retained": 1e308,
                                                                              "speedup": 1e308}}),
                              ["weights: the weight of 'accuracy_retained' must be 0 or a number from 0.001 to 1000"]),
    "name of 256 characters": (study(name="n" * 256), ["name: must be at most 200 characters; got 256"]),
    "seed below 0": (study(seed=-3), ["seed: must be at least 0; got -3"]),
    "budget of 1e15 seconds": (study(budget={"seconds": 1e15}), ["budget.seconds: must be at most 31622400"]),
    "budget of 1e9 trials": (study(budget={"trials": 10**9}), ["budget.trials: must be at most 10000"]),
    "90,000 choices": (study(kind="search", order=None, budget={"trials": 2},
                             search={"params": [{"step": 2, "setting": "amount",
                                                 "choices": [round(0.1 + i * 1e-6, 7) for i in range(90_000)]}]}),
                       ["search.params[1].choices: at most 1000 choices for one setting; got 90,000"]),
    "every trial refused": (study(recipe={**TEMPLATE, "steps": [TEMPLATE["steps"][0], TEMPLATE["steps"][3],
                                                                TEMPLATE["steps"][1], TEMPLATE["steps"][2]]},
                                  order={"steps": [3, 4]}),
                            ["none of the 4 trials can run", "cannot run after"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_study_field_is_refused_before_anything_is_recorded(tmp_path, recorded, case):
    url, fingerprint = recorded
    data, expected = CASES[case]
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / "study.json"
    path.write_text(json.dumps(data))
    before, rows = fingerprint(), _rows(url)
    refused(cli("study", "run", str(path), "--db", url, db=url), *expected)
    assert fingerprint() == before and _rows(url) == rows == {"runs": 0, "studies": 1, "study_trials": 0}


@pytest.mark.parametrize("text, expected", [
    ("budget: {seconds: .nan}", "budget.seconds: expected a finite number, got nan"),
    ("budget: {seconds: .inf}", "budget.seconds: expected a finite number, got inf"),
    ("budget: {seconds: -.inf}", "budget.seconds: expected a finite number, got -inf"),
    ("budget: {seconds: 1.0e+15}", "budget.seconds: must be at most 31622400"),
    ("budget: {seconds: 1e15}", "budget.seconds: must be at most 31622400; got 1000000000000000.0"),  # YAML 1.1 reads text
    ("budget: {trials: twenty}", "budget.trials: expected a whole number, got 'twenty'"),
    ("seed: 1e400", "seed: expected a whole number, got '1e400'"),
    ("seed: 1.0e+400", "seed: expected a whole number, got inf"),
    ("name: [1, 2]", "name: expected text, got [1, 2]"),
    ("kind: order\nkind: grid", "kind: given twice (again on line"),
    (bomb() + "name: *g", "the study file's YAML aliases expand to more than 1,048,576 characters"),
    (bomb() + "seed: *g", "the study file's YAML aliases expand to more than 1,048,576 characters"),
    ("a: &a [*a]\nname: *a", "the study file refers to itself through a YAML alias"),
])
def test_hostile_yaml_study_files_are_refused_quickly_with_a_message(tmp_path, recorded, text, expected):
    url, fingerprint = recorded
    base = yaml.safe_dump({k: v for k, v in study().items() if k not in ("name", "seed", "budget", "kind")})
    path = tmp_path / "study.yaml"
    path.write_text(("kind: order\n" if "kind:" not in text else "") + base + text + "\n")
    before = fingerprint()
    done = cli("study", "run", str(path), "--db", url, db=url)
    refused(done, expected)
    assert done.seconds < 60  # a 9^7 alias bomb once ran 41 s at 1.2 GB and wrote 113 MB; now it is never built
    assert fingerprint() == before


def test_a_study_file_that_is_not_utf8_or_too_large_is_refused(tmp_path, recorded):
    url, fingerprint = recorded
    before = fingerprint()
    path = tmp_path / "latin1.yaml"
    path.write_bytes(yaml.safe_dump(study(name="caf\u00e9"), allow_unicode=True).encode("latin-1"))
    refused(cli("study", "run", str(path), "--db", url, db=url), "is not UTF-8 text", "save it as UTF-8")
    path = tmp_path / "huge.yaml"
    path.write_text("name: x\n" + "# padding\n" * 200_000)
    refused(cli("study", "run", str(path), "--db", url, db=url), "is larger than 1024 KiB")
    refused(cli("study", "run", str(tmp_path / "missing.yaml"), "--db", url, db=url), "no study file at")
    assert fingerprint() == before


def test_runs_sort_checks_figure_names_as_scores_do(tmp_path, recorded):
    url, fingerprint = recorded
    before = fingerprint()
    refused(cli("runs", "--sort", "acuracy_retained", "--db", url, db=url),
            "--sort: unknown figure 'acuracy_retained'; did you mean 'accuracy_retained'?")
    refused(cli("runs", "--score", "acuracy_retained * speedup", "--db", url, db=url),
            "unknown name 'acuracy_retained'; did you mean 'accuracy_retained'?")
    missing = tmp_path / "nowhere" / "x.db"
    refused(cli("runs", "--sort", "__import__", "--db", f"sqlite:///{missing}", db=url), "unknown figure '__import__'")
    assert not missing.parent.exists() and fingerprint() == before
    done = cli("runs", "--sort", "latency_ms", "--db", url, db=url)
    assert done.returncode == 0 and "Traceback" not in done.stderr


# -- the study's own fields, beyond refusals ----------------------------------------------------------------
def test_trial_names_always_fit_a_run_name_however_long_the_study_name():
    from core.study.plan import plan, trial_name
    from core.study.spec import StudySpec

    for length in (1, 125, 198, 200):
        spec = StudySpec.from_dict(study(name="s" * length, order={"steps": [2, 3, 4]}))
        trials = plan(spec)
        assert len(trials) == 15 and all(len(t.recipe.name) <= NAME_LENGTH for t in trials)
        # the two valid three-step orders are not skipped for their names (they were, at 125 characters)
        assert not any("name" in p for t in trials for p in t.problems)
        assert sum(not t.problems and len(t.params["order"]) == 3 for t in trials) == 2
    assert trial_name("s" * 125, "heads -> ffn -> int8").endswith(": heads -> ffn -> int8")
    assert len(trial_name("s" * 200, "x" * 300)) == NAME_LENGTH


def test_search_names_fit_and_the_space_size_is_said_before_the_first_trial(tmp_path, monkeypatch, capsys):
    from core.cli import main
    from core.cli import study_cmd
    from core.study.spec import StudySpec

    choices = [round(0.1 + i / 1000, 3) for i in range(300)]
    data = study(kind="search", name="s" * 200, budget={"trials": 2},
                 search={"params": [{"step": 2, "setting": "amount", "choices": choices},
                                    {"step": 3, "setting": "amount", "choices": choices}]})
    del data["order"]
    spec = StudySpec.from_dict(data)
    assert spec.space_size() == 90_000
    assert spec.describe_space() == "search space: 90,000 combination(s) (2 setting(s), 600 choice(s))"
    path = tmp_path / "search.json"
    path.write_text(json.dumps(spec.to_dict()))
    monkeypatch.setattr(study_cmd, "_work", lambda args, study_id, resume: 0)  # what follows is the runner's
    url = f"sqlite:///{tmp_path / 'studio.db'}"
    assert main(["study", "run", str(path), "--quiet", "--db", url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "  search space: 90,000 combination(s) (2 setting(s), 600 choice(s))"

    from core.db import StudyRepository, open_database
    from core.study.search import SearchTrials

    with open_database(url) as db:
        full = StudyRepository(db).resolve_id(out[0].split()[1])
    trials = SearchTrials(spec, url, full)
    try:
        prepared = trials.prepare(0)
        assert len(prepared.recipe.name) <= NAME_LENGTH and prepared.recipe.name.endswith(": trial 1")
        assert not prepared.problems
    finally:
        trials.close()


def test_a_study_whose_every_trial_is_skipped_ends_failed_not_finished(tmp_path, any_db_url):
    from core.study.runner import StudyRunner, create_study, study_report
    from core.study.spec import StudySpec

    url = any_db_url
    # int8 before both pruning steps: every order of them is refused by the stack's rules
    template = {**TEMPLATE, "steps": [TEMPLATE["steps"][0], TEMPLATE["steps"][3], TEMPLATE["steps"][1],
                                      TEMPLATE["steps"][2]]}
    study_id = create_study(StudySpec.from_dict(study(recipe=template, order={"steps": [3, 4]})), url)
    outcome = StudyRunner(url, study_id, cache=None, workdir_root=tmp_path / "runs", task=object(), poll_s=0.1).run()
    report = study_report(url, study_id)
    assert outcome.status == "failed" and report.study.status == "failed"
    assert report.trials and {t.status for t in report.trials} == {"skipped"}
    assert all("cannot run after" in t.note for t in report.trials)


def test_a_study_name_with_a_nul_is_refused_as_a_run_name_is():
    from core.errors import RecipeError
    from core.recipe import Recipe
    from core.study.spec import StudyError, StudySpec

    with pytest.raises(StudyError, match=r"name: must not contain a NUL character"):
        StudySpec.from_dict(study(name="a\x00b"))
    with pytest.raises(RecipeError, match=r"name.*must not contain a NUL character"):
        Recipe.from_dict({**TEMPLATE, "name": "a\x00b"})
