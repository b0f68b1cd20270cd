"""Do the studio's exports load outside the studio: in transformers 4.x as in 5.x, and in Optimum's ORTModel classes?

Two halves, so the second can run in another environment than the project's
(Optimum's ONNX Runtime classes need transformers < 4.58, the project 5.x):

- ``write DIR`` (the project's environment): tiny random models of each family
  and task head exported in each format into ``DIR``, with ``cases.json`` and,
  per case, the batch, its sentences and the in-memory model's outputs
  (``expected.npz``);
- ``check DIR`` (any environment with transformers, numpy and onnxruntime;
  Optimum where installed): each folder's tokenizer loaded with ``AutoTokenizer``
  (same input ids as the studio's), each ``hf`` folder with its
  ``AutoModelFor...`` class and each ONNX folder with Optimum's
  ``ORTModelFor...`` class (or, without Optimum, ONNX Runtime alone), outputs
  compared with the expected ones as :mod:`core.export.verify` states. Prints
  one line per case and exits non-zero when one fails. This half imports nothing
  from the project.

By hand, in a throwaway environment (torch pinned first)::

    python -m tests.core.export.portable_exports write /tmp/portable
    /tmp/optvenv/bin/python tests/core/export/portable_exports.py check /tmp/portable

``tests/core/export/test_portable_exports.py`` runs both halves on a few cases in the project's own environment.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

PER_TOKEN = ("token-classification", "question-answering")
FLOAT_FORMATS = {"hf": 1e-5, "onnx": 1e-4}  # atol; rtol is ten times it (core.export.verify)
MIN_AGREEMENT = 0.8
SENTENCES = ["A gripping story told with real warmth.", "Dull.",
             "The performances are strong, though the script never quite trusts its audience."]


def write(folder: Path, families, kinds, formats) -> list[dict]:
    """Export every family x kind x format into ``folder``; returns (and writes) the cases."""
    # the project is imported here, not at the top: the check half runs where it is not installed
    import torch

    from core.export.api import export_model, sample_batch
    from core.models.heads import auto_class, output_names
    from core.models.loading import load_tokenizer
    from tests.core.export.task_models import task_state
    from tests.core.methods.families import family_tokenizer

    tokenizer = load_tokenizer("tiny")
    cases = []
    for family in families:
        tok, source = _users_tokenizer(family, family_tokenizer(family, tokenizer), folder / f"user-{family}")
        batch = sample_batch(tok, max_length=24)
        for kind in kinds:
            state = task_state(family, kind, tokenizer, batch).replace(tokenizer=tok, source=source)
            names = output_names(kind)
            with torch.no_grad():
                out = state.model.eval()(**batch)
            expected = {n: getattr(out, n).double().numpy() for n in names}
            ids = tok(SENTENCES)["input_ids"]
            for fmt in formats:
                name = f"{family}-{kind}-{fmt}"
                report = export_model(state, folder / name, fmt, batch=batch, latency_repeats=1)
                np.savez(folder / name / "expected.npz", **{f"input.{k}": v.numpy() for k, v in batch.items()},
                         **{f"output.{k}": v for k, v in expected.items()})
                (folder / name / "sentences.json").write_text(json.dumps({"sentences": SENTENCES, "input_ids": ids}))
                cases.append({"name": name, "family": family, "kind": kind, "format": fmt, "outputs": list(names),
                              "auto": auto_class(kind).__name__, "standard": report.standard,
                              "studio_tokenizer": type(tok).__name__})
    (folder / "cases.json").write_text(json.dumps(cases, indent=1))
    return cases


# the tokenizer class a user's folder of the family names (the default vocabulary's BertTokenizer otherwise;
# ModernBERT folders on the hub name it too, which is the case transformers 5 loads as TokenizersBackend)
_FOLDER_CLASS = {"distilbert": "DistilBertTokenizer"}


def _users_tokenizer(family: str, tokenizer, folder: Path):
    """The tokenizer as the studio has it for a user's model folder of ``family`` (saved, then loaded with
    AutoTokenizer beside the family's config: transformers 5 gives ModernBERT's a TokenizersBackend)."""
    from transformers import AutoTokenizer

    from tests.core.methods.families import _config

    _config(family).save_pretrained(folder)
    tokenizer.save_pretrained(str(folder))
    if family in _FOLDER_CLASS:
        file = folder / "tokenizer_config.json"
        file.write_text(json.dumps({**json.loads(file.read_text()), "tokenizer_class": _FOLDER_CLASS[family]}))
    return AutoTokenizer.from_pretrained(str(folder)), str(folder)


def _agreement(kind: str, expected: dict, actual: dict, mask: np.ndarray) -> float:
    keep = mask.astype(bool)
    if kind == "question-answering":
        return float(np.mean([np.where(keep, expected[n], -np.inf).argmax(-1)
                              == np.where(keep, actual[n], -np.inf).argmax(-1) for n in expected]))
    e, a = expected["logits"], actual["logits"]
    if kind == "token-classification":
        return float(np.mean(e[keep].argmax(-1) == a[keep].argmax(-1)))
    if kind == "multi-label":
        return float(np.mean((e > 0) == (a > 0)))
    if kind == "regression":
        i, j = np.triu_indices(len(e), k=1)
        return float(np.mean(np.sign(e[i, 0] - e[j, 0]) == np.sign(a[i, 0] - a[j, 0]))) if len(i) else 1.0
    return float(np.mean(e.argmax(-1) == a.argmax(-1)))


def _load(case: dict, path: Path):
    """(the loaded model, what loaded it): transformers' Auto class, Optimum's ORT class, or ONNX Runtime alone."""
    import transformers

    if case["format"] == "hf":
        return getattr(transformers, case["auto"]).from_pretrained(str(path)).eval(), case["auto"]
    try:
        import optimum.onnxruntime as ort_models
    except ImportError:
        ort_models = None
    if ort_models is not None:
        cls = "ORT" + case["auto"].removeprefix("Auto")
        return getattr(ort_models, cls).from_pretrained(str(path)), f"optimum {cls}"
    import onnxruntime

    return onnxruntime.InferenceSession(str(path / "model.onnx"), providers=["CPUExecutionProvider"]), "onnxruntime"


def _run(model, inputs: dict[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    if hasattr(model, "get_outputs"):  # a bare ONNX Runtime session
        feed = {i.name: inputs[i.name].astype(np.int64) for i in model.get_inputs()}
        return dict(zip(names, (np.asarray(v, np.float64) for v in model.run(names, feed))))
    import torch

    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v) for k, v in inputs.items()})
    return {n: np.asarray(getattr(out, n).detach().cpu().numpy() if hasattr(getattr(out, n), "detach")
                          else getattr(out, n), np.float64) for n in names}


def check_case(case: dict, folder: Path) -> dict:
    """Load one export as a user of plain transformers / Optimum would and compare it; returns the figures."""
    from transformers import AutoTokenizer

    path = folder / case["name"]
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    said = json.loads((path / "sentences.json").read_text())
    encoded = tokenizer(said["sentences"])
    data = np.load(path / "expected.npz")
    inputs = {k.removeprefix("input."): data[k] for k in data.files if k.startswith("input.")}
    # the same ids, and the inputs the model takes (model(**tokenizer(text)) must run)
    same_ids = encoded["input_ids"] == said["input_ids"] and set(encoded) == set(inputs)
    expected = {n: data[f"output.{n}"] for n in case["outputs"]}
    model, loader = _load(case, path)
    actual = _run(model, inputs, case["outputs"])
    mask = inputs["attention_mask"].astype(bool)
    at = (lambda v: v[mask]) if case["kind"] in PER_TOKEN else (lambda v: v)
    diff = max(float(np.max(np.abs(at(expected[n]) - at(actual[n])))) for n in expected)
    agreement = _agreement(case["kind"], expected, actual, mask)
    atol = FLOAT_FORMATS.get(case["format"])
    close = all(np.allclose(at(actual[n]), at(expected[n]), atol=atol, rtol=10 * atol) for n in expected) \
        if atol is not None else agreement >= MIN_AGREEMENT
    return {**case, "loader": loader, "tokenizer": type(tokenizer).__name__, "same_ids": same_ids,
            "max_abs_diff": diff, "agreement": agreement, "ok": bool(close and same_ids)}


def check(folder: Path) -> list[dict]:
    cases = json.loads((folder / "cases.json").read_text())
    results = []
    for case in cases:
        try:
            results.append(check_case(case, folder))
        except Exception as exc:  # report every case, whatever fails in a foreign library
            results.append({**case, "ok": False, "error": f"{type(exc).__name__}: {exc}"})
    return results


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("write", "check"):
        print(__doc__)
        return 2
    folder = Path(argv[1])
    if argv[0] == "write":
        folder.mkdir(parents=True, exist_ok=True)
        kinds = ("sequence-classification", "token-classification", "question-answering", "regression", "multi-label")
        cases = write(folder, ("bert", "distilbert", "modernbert"), kinds, ("hf", "onnx", "onnx-int8"))
        print(f"{len(cases)} exports written to {folder}")
        return 0
    import transformers

    results = check(folder)
    print(f"transformers {transformers.__version__}")
    for r in results:
        figures = (f"max diff {r['max_abs_diff']:.2g}, agreement {r['agreement']:.0%}, tokenizer {r['tokenizer']} "
                   f"(the studio's: {r.get('studio_tokenizer')})"
                   f"{'' if r['same_ids'] else ' GIVES OTHER IDS OR INPUTS'}, loaded by {r['loader']}") if "error" not in r \
            else r["error"].splitlines()[0][:300]
        print(f"{'ok  ' if r['ok'] else 'FAIL'} {r['name']}: {figures}")
    failed = sum(not r["ok"] for r in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
