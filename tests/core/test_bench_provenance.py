"""A bench's result file says how it was made: command, commit, CPU, threads and load."""

import json
import subprocess

from bench import common


def test_a_result_file_carries_its_provenance(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    import types

    monkeypatch.setattr(common.sys, "argv", ["/somewhere/bench/example.py", "--rounds", "3"])
    monkeypatch.setitem(common.sys.modules, "__main__", types.SimpleNamespace(__spec__=types.SimpleNamespace(name="bench.example")))
    path = common.write_result("example", {"rounds": [1.0, 2.0, 3.0]})
    data = json.loads(path.read_text())
    where = data["provenance"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert where["commit"].split("+")[0] == head
    assert where["command"].endswith(" -m bench.example --rounds 3")
    assert where["cpu_model"] and where["cpu_count"] >= 1 and where["torch_threads"] >= 1
    assert len(where["load_average_at_start"]) == 3 and len(where["load_average_at_end"]) == 3
    assert data["rounds"] == [1.0, 2.0, 3.0]


def test_results_are_written_where_git_keeps_them():
    assert common.RESULTS.parts[-2:] == ("docs", "results")
    ignored = subprocess.run(["git", "check-ignore", "-q", str(common.RESULTS / "x.json")])
    assert ignored.returncode == 1  # not ignored: a result file can be committed
