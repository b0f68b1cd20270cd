"""``bert-studio export RUN --format hf|onnx|onnx-int8|onnx-int4 --out DIR``: export a recorded run, verified."""

from __future__ import annotations

import argparse
import sys

FORMAT_CHOICES = ("hf", "onnx", "onnx-int8", "onnx-int4")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export", help="export a run's final model (Hugging Face folder, ONNX or ONNX int8), verified",
        description="Export the final model of a recorded run. The export is reloaded, compared with the run's "
        "model and timed against the original before it is moved into place.",
    )
    p.add_argument("run", metavar="RUN", help="run id (or an unambiguous prefix)")
    p.add_argument("--format", choices=FORMAT_CHOICES, default="hf",
                   help="hf: config.json + model.safetensors + tokenizer; onnx: model.onnx for ONNX Runtime; "
                   "onnx-int8: the same quantized to int8 by ONNX Runtime; onnx-int4: 4-bit weights and embedding "
                   "rows (ONNX Runtime MatMulNBits; smaller, not faster on a CPU batch) (default: hf)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (must not exist unless --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.set_defaults(func=run)
    return p


def _printer(stream):
    def progress(current: int, total: int, message: str) -> None:
        print(f"  [{current}/{total}] {message}", file=stream, flush=True)

    return progress


def run(args) -> int:
    from core.cli.database import open_repository
    from core.export.api import export_run

    _, repo = open_repository(getattr(args, "db", None))
    report = export_run(repo, args.run, args.format, args.out, overwrite=args.overwrite, progress=_printer(sys.stderr))
    ratio = f", {report.size_ratio:.2f}x smaller" if report.size_ratio else ""
    speed = f"; against the original: {report.speed_text()}" if report.speed_text() else ""
    print(f"exported {args.format} to {report.path}")
    print(f"  verified: {report.tolerance} (largest difference {report.max_abs_diff:.3g}, "
          f"{report.agreement_measure}: {report.argmax_agreement:.1%}, on {report.rows} rows)")
    if report.headline_text():  # the task's own figure (entity F1, answer F1, Pearson r, ...), not accuracy
        print(f"  {report.headline_text()}")
    print(f"  weights {report.weights_bytes / 1e6:.2f} MB{ratio}; latency {report.latency_ms:.1f} ms{speed}")
    print(f"  latency measured: {report.protocol}")
    for note in report.notes:
        print(f"  note: {note}")
    return 0
