"""Every results table the README and docs quote is generated from a committed result file (bench.tables)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from bench import tables
from bench.tables import ROOT, blocks, documents, render, rewrite

FIGURE = re.compile(r"\d(\.\d+)?\s?(x\b|ms\b|%|MB\b|samples/s)")


def marked_blocks():
    return [b for doc in documents() for b in blocks(doc)]


def test_every_marked_table_in_the_readme_and_docs_matches_its_result_file():
    found = marked_blocks()
    assert any(b.doc.name == "README.md" for b in found), "the README's headline table is generated"
    stale = [f"{b.doc.relative_to(ROOT)} results:{','.join(b.names)}: {b.error or 'differs'}" for b in found if b.stale]
    assert not stale, "run `python -m bench.tables`:\n" + "\n".join(stale)


def test_every_committed_result_file_is_quoted_somewhere():
    quoted = {n.rstrip("?") for b in marked_blocks() for n in b.names}
    files = {p.stem for p in (ROOT / "docs" / "results").glob("*.json")}
    assert files <= quoted, f"result files no table shows: {sorted(files - quoted)}"


def test_no_measured_figure_sits_in_a_table_outside_a_generated_block():
    """A results table typed by hand (a speedup, a latency, a percentage, a size) is refused."""
    for doc in documents():
        text = tables.MARKER.sub("", doc.read_text())
        text = re.sub(r"```.*?```", "", text, flags=re.S)
        rows = [line for line in text.splitlines() if line.startswith("|") and FIGURE.search(line)]
        assert not rows, f"{doc.relative_to(ROOT)}: figures in a table not generated from a result file: {rows[:3]}"


def copy_docs(tmp_path):
    (tmp_path / "docs").mkdir()
    for doc in documents():
        shutil.copy(doc, tmp_path / doc.relative_to(ROOT))
    shutil.copytree(ROOT / "docs" / "results", tmp_path / "docs" / "results")
    return tmp_path


def test_a_figure_edited_by_hand_is_caught_and_rewriting_restores_it(tmp_path):
    root = copy_docs(tmp_path)
    readme = root / "README.md"
    results = root / "docs" / "results"
    text = readme.read_text()
    (block,) = [b for b in blocks(readme, results)][:1]
    assert not block.stale
    edited = re.sub(r"(\d+)\.(\d) ms", lambda m: f"{int(m.group(1)) - 1}.{m.group(2)} ms", block.body, count=1)
    assert edited != block.body
    readme.write_text(text.replace(block.body, edited))
    assert blocks(readme, results)[0].stale
    assert rewrite(readme, results) and readme.read_text() == text
    assert not rewrite(readme, results)


def test_a_table_whose_result_file_is_missing_fails_with_its_name(tmp_path):
    doc = tmp_path / "page.md"
    doc.write_text("x\n<!-- results:no_such_bench -->\n| a | 1.00x |\n<!-- /results -->\n")
    (b,) = blocks(doc, tmp_path)
    assert b.stale and "no_such_bench.json" in b.error and "not measured in a committed run" in b.error
    with pytest.raises(tables.ResultsError):
        rewrite(doc, tmp_path)


def test_an_optional_table_says_not_measured_until_its_file_is_committed_then_fills_in(tmp_path):
    doc = tmp_path / "page.md"
    doc.write_text("<!-- results:methods? -->\n<!-- /results -->\n")
    assert rewrite(doc, tmp_path)
    assert "**Not measured in a committed run** (no result file `methods.json` yet)." in doc.read_text()
    assert not blocks(doc, tmp_path)[0].stale
    write(tmp_path, "methods", {"baseline": {"accuracy": 0.8}, "variants": []})
    assert blocks(doc, tmp_path)[0].stale  # the committed file makes the block stale until it is regenerated
    assert rewrite(doc, tmp_path) and "| fine-tuned baseline (methods.json) | 80.00 % |" in doc.read_text()
    assert "Not measured" not in doc.read_text()


def test_a_changed_result_file_makes_its_table_stale(tmp_path):
    root = copy_docs(tmp_path)
    results = root / "docs" / "results"
    name = blocks(root / "README.md", results)[0].names[0]
    data = json.loads((results / f"{name}.json").read_text())
    data["when"] = "2030-01-01T00:00:00"
    (results / f"{name}.json").write_text(json.dumps(data))
    assert blocks(root / "README.md", results)[0].stale


def write(results, name, data):
    results.mkdir(exist_ok=True)
    (results / f"{name}.json").write_text(json.dumps({"benchmark": name.split("-")[0], "when": "2026-12-07T10:00:00",
                                                      "provenance": {"command": f"python -m bench.{name}",
                                                                     "commit": "0123456789abcdef", "cpu_model": "CPU X",
                                                                     "cpu_count": 2, "torch_threads": 2,
                                                                     "load_average_at_start": [0.5, 0.4, 0.3],
                                                                     "load_average_at_end": [1.0, 0.9, 0.8]},
                                                      **data}))


def test_frontier_table_shows_every_profile_every_ratio_and_every_interval_the_file_holds(tmp_path):
    """A new figure a bench starts writing (a speedup against ONNX Runtime fp32, a 95 % CI) shows up as is."""
    fig = {"speedup": 10.4, "speedup_low": 9.5, "speedup_high": 11.0, "speedup_ci_low": 9.0, "speedup_ci_high": 11.5,
           "speedup_vs_onnx_fp32": 8.5, "speedup_vs_onnx_fp32_ci_low": 6.7, "speedup_vs_onnx_fp32_ci_high": 8.9}
    artifact = {"accuracy": 0.823, "accuracy_retained": 0.984, "accuracy_retained_low": 0.967,
                "accuracy_retained_high": 1.003, "weights_bytes": 7_920_000, "size_ratio": 11.5,
                "profiles": {"throughput-fixed": fig, "single-fixed": {"speed_note": "too small to time"}}}
    write(tmp_path, "frontier", {"teacher": {"accuracy": 0.836, "n": 2000, "weights_bytes": 90_900_000},
                                 "target": {"speedup": 8.0},
                                 "rows": [{"stack": "frontier", "seed": 0, "deployable": "onnxruntime",
                                           "artifacts": {"onnxruntime": artifact}}]})
    out = render(["frontier"], tmp_path / "docs" / "page.md", tmp_path)
    assert "throughput-fixed (speedup vs onnx fp32)" in out and "single-fixed" in out
    assert "10.40x (IQR 9.50-11.00; 95 % CI 9.00-11.50)" in out
    assert "8.50x (95 % CI 6.70-8.90)" in out and "too small to time" in out
    assert "98.4 % (96.7-100.3)" in out and "onnxruntime (deployable)" in out and "83.60 %" in out
    assert "[`frontier.json`](../frontier.json)" in out and "`python -m bench.frontier`" in out
    assert "commit 0123456789" in out and "0.50/0.40/0.30 at the start" in out


def test_methods_and_any_other_bench_render_from_what_their_file_holds(tmp_path):
    write(tmp_path, "methods", {"baseline": {"accuracy": 0.805, "parameters": 22_700_000, "size_bytes": 90_900_000},
                                "target": {"speedup": 5.0}, "meets_target": [],
                                "variants": [{"name": "int8", "status": "finished", "seconds": 33.0,
                                              "results": {"accuracy": 0.787, "accuracy_retained": 0.978,
                                                          "parameters": 22_700_000, "size_bytes": 58_600_000,
                                                          "size_ratio": 1.55, "speedup": 2.35, "speedup_low": 2.1,
                                                          "speedup_high": 2.5}},
                                             {"name": "broken", "status": "failed", "error": "out of memory"}]})
    out = render(["methods"], tmp_path / "README.md", tmp_path)
    assert "| int8 | 78.70 % | 97.8 % | 22.7 M | 58.60 MB | 1.6x | 2.35x (IQR 2.10-2.50) | 33 s |" in out
    assert "failed: out of memory" in out and "met by: none" in out
    write(tmp_path, "study_cache", {"ratio": 3.94, "load_average_1min": {"start": 1.2}, "interaction": "a\nb\n"})
    out = render(["study_cache"], tmp_path / "README.md", tmp_path)
    assert "| ratio | 3.94 |" in out and "| load_average_1min.start | 1.20 |" in out and "```\na\nb\n```" in out
    with pytest.raises(tables.ResultsError, match="different benches"):
        render(["methods", "study_cache"], tmp_path / "README.md", tmp_path)
