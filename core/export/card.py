"""The model card (README.md) written into every export folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.export.verify import ExportReport
from core.models.heads import auto_class
from core.metrics import figures
from core.metrics.timing import speed_figures

_HOW_TO_LOAD = {
    "hf-standard": (
        "```python\nfrom transformers import {auto}, AutoTokenizer\n\n"
        "model = {auto}.from_pretrained(\"{path}\")\n"
        "tokenizer = AutoTokenizer.from_pretrained(\"{path}\")\n```"
    ),
    "hf-studio": (
        "The architecture differs from what `config.json` alone describes (it is recorded in `studio_model.json`), "
        "so load it with the studio:\n\n```python\nfrom core.export import load_export\n\n"
        "state = load_export(\"{path}\")  # state.model, state.tokenizer\n```"
    ),
    "onnx": (
        "```python\nimport onnxruntime as ort\nfrom transformers import AutoTokenizer\n\n"
        "session = ort.InferenceSession(\"{path}/model.onnx\", providers=[\"CPUExecutionProvider\"])\n"
        "tokenizer = AutoTokenizer.from_pretrained(\"{path}\")\n"
        "batch = tokenizer([\"a sentence\"], return_tensors=\"np\")\n"
        "names = [i.name for i in session.get_inputs()]\n"
        "{outputs} = session.run({names}, {{n: batch[n].astype(\"int64\") for n in names}})\n```\n\n"
        "With Optimum: `optimum.onnxruntime.ORT{auto_name}.from_pretrained(\"{path}\")`."
    ),
}


def _figure(value: Any, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value:,}{unit}"


def _latency(report: ExportReport, key: str) -> str:
    """A latency with the 95 % CI of its median, from the raw rounds the report keeps (the value alone without them)."""
    value = report.latency_ms if key == "latency_ms" else report.original_latency_ms
    if value is None:
        return "not measured"
    measured = speed_figures(report.timing, candidate="export", baseline="original") if report.timing else {}
    return figures.describe(measured, key) if key in measured else _figure(value, " ms")


def _mb(value: int | None) -> str:
    return "not measured" if value is None else f"{value / 1e6:.2f} MB"


def _layers_table(layers: list[dict[str, int]]) -> list[str]:
    if not layers:
        return []
    rows = ["| layer | attention heads | head size | FFN width |", "|---|---|---|---|"]
    rows += [f"| {i} | {layer['heads']} | {layer['head_size']} | {layer['ffn']} |" for i, layer in enumerate(layers)]
    return rows


def _recipe_lines(recipe: dict[str, Any] | None) -> list[str]:
    if not recipe:
        return ["No recipe was recorded for this model."]
    lines = [f"Model source: `{(recipe.get('model') or {}).get('source', '?')}`, "
             f"data: `{(recipe.get('data') or {}).get('source', '?')}`.", ""]
    steps = recipe.get("steps") or []
    lines += [f"{i + 1}. `{s.get('method', '?')}` {json.dumps(s.get('settings') or s.get('config') or {})}"
              for i, s in enumerate(steps)] or ["(no compression steps)"]
    lines += ["", "<details><summary>Full recipe</summary>", "", "```json", json.dumps(recipe, indent=2, default=str),
              "```", "</details>"]
    return lines


def write_card(folder: Path, report: ExportReport, manifest: dict[str, Any] | None, recipe: dict[str, Any] | None,
               results: dict[str, Any] | None, display_path: str) -> None:
    """Write ``README.md``: how to load, the recipe, results, measured size/latency, verification, versions."""
    name = (recipe or {}).get("name") or Path(display_path).name
    if report.format == "hf":
        how = _HOW_TO_LOAD["hf-standard" if report.standard else "hf-studio"]
    else:
        how = _HOW_TO_LOAD["onnx"]
    auto = auto_class(report.task).__name__
    how = how.format(path=display_path, auto=auto, auto_name=auto.removeprefix("Auto"),
                     outputs=", ".join(report.outputs) + ("," if len(report.outputs) == 1 else ""),
                     names=json.dumps(report.outputs))
    lines = [f"# {name}", "", f"A compressed BERT-family {report.task} model exported by BERT Compression Studio "
             f"(format `{report.format}`).", "", "## How to load", "", how, ""]
    layers = (manifest or {}).get("layers") or []
    if layers or report.parameters:
        lines += ["## Architecture", ""]
        if report.parameters:
            lines += [f"{report.parameters:,} parameters.", ""]
        lines += _layers_table(layers) + [""]
    lines += ["## Recipe", ""] + _recipe_lines(recipe) + [""]
    if results:
        # Labelled and formatted by core.metrics.figures: intervals beside their figures, a note instead of a
        # speedup for a model too small to time, raw timings left out (their protocol is stated below them).
        lines += ["## Results recorded by the run", "", "| figure | value |", "|---|---|"]
        lines += [f"| {row.label} | {row.text} |" for row in figures.rows(results)] + [""]
        how = figures.protocols(results)
        lines += [f"Latency recorded by the run, profile {name}: {text}." for name, text in how]
        lines += [""] if how else []
    lines += [
        "## Measured at export", "",
        "| | this export | original |", "|---|---|---|",
        f"| weights on disk | {_mb(report.weights_bytes)} | {_mb(report.original_size_bytes)} |",
        f"| latency ({report.latency_batch or 'validation batch'}) | {_latency(report, 'latency_ms')} "
        f"| {_latency(report, 'baseline_latency_ms')} |",
        "",
        f"Size ratio {_figure(report.size_ratio, 'x')}, speedup {report.speed_text() or 'not measured'} "
        "(median of per-round ratios, export and original timed back to back in one process on this machine, "
        "95 % confidence interval of the median in brackets, its level stated where the rounds are too few for "
        "95 %; ratios are what carries over).", "",
        f"Latency measured: {report.protocol or 'protocol not recorded'}.", "",
        "## Verification", "",
        f"The folder was reloaded as a user would and compared with the in-memory model on {report.rows} rows: "
        f"{report.tolerance}. Largest difference in {' and '.join(report.outputs)} {report.max_abs_diff:.3g}; "
        f"{report.agreement_measure}: {report.argmax_agreement:.1%}.", "",
    ]
    if report.headline_text():
        lines += [f"Measured on the reloaded export, the task's headline figure: {report.headline_text()}.", ""]
    if report.notes:
        lines += ["Notes:", ""] + [f"- {n}" for n in report.notes] + [""]
    lines += ["## Software", ""] + [f"- {k} {v}" for k, v in report.versions.items()] + [""]
    (folder / "README.md").write_text("\n".join(lines))
