"""Exports load outside the studio: both halves of ``portable_exports`` (write, then check as a user would).

Here the check runs with the project's transformers 5.x (ONNX folders through
ONNX Runtime alone); the same check, run by hand with transformers 4.57 and
Optimum in a throwaway environment, is described in
:mod:`tests.core.export.portable_exports`.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from core.models.heads import MULTI_LABEL, QUESTION_ANSWERING, TOKEN
from tests.core.export.portable_exports import check, write

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_exports_load_in_plain_transformers(tmp_path):
    write(tmp_path, ("distilbert", "modernbert"), (TOKEN, QUESTION_ANSWERING), ("hf", "onnx"))
    results = check(tmp_path)
    assert [(r["name"], r.get("error")) for r in results if not r["ok"]] == []
    assert {r["loader"] for r in results} == {"AutoModelForTokenClassification", "AutoModelForQuestionAnswering",
                                              "onnxruntime"}
    modern = [r for r in results if r["family"] == "modernbert"]
    # the studio's ModernBERT tokenizer is 5.x's TokenizersBackend; the export names the folder's class instead
    assert {r["studio_tokenizer"] for r in modern} == {"TokenizersBackend"}
    for r in modern:
        written = json.loads((tmp_path / r["name"] / "tokenizer_config.json").read_text())
        assert written["tokenizer_class"] == "BertTokenizer"
        assert written["model_input_names"] == ["input_ids", "attention_mask"]  # as 5.x gives them


@pytest.mark.skipif(importlib.util.find_spec("optimum") is None,
                    reason="Optimum is not installed (optimum-onnx needs transformers < 4.58, the project 5.x); "
                           "check by hand with tests/core/export/portable_exports.py in a 4.x environment")
def test_onnx_exports_load_in_optimum(tmp_path):
    write(tmp_path, ("bert",), (TOKEN, QUESTION_ANSWERING, MULTI_LABEL), ("onnx", "onnx-int8"))
    results = check(tmp_path)
    assert [(r["name"], r.get("error")) for r in results if not r["ok"]] == []
    assert all(r["loader"].startswith("optimum ORTModelFor") for r in results)
