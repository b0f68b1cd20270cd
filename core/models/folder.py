"""The model-folder format: what a folder must hold before anything in it is loaded.

One set of checks for a user's model folder (:mod:`core.models.loading`) and
for an exported or checkpointed one (:mod:`core.models.reload`): a
``config.json`` that is a JSON object naming a BERT-family ``model_type`` and no
remote code, weights in safetensors (pickles can run code when loaded, so they
are refused everywhere), and tokenizer files that define a vocabulary.
Nothing here imports torch or transformers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import ExportError, ModelLoadError, RecipeError

STUDIO_MANIFEST = "studio_model.json"  # written by core.export next to config.json
BERT_FAMILY = frozenset({"bert", "roberta", "distilbert", "albert", "electra", "xlm-roberta", "camembert", "deberta",
                         "deberta-v2", "mobilebert", "modernbert"})
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz")
# Files that define a vocabulary: WordPiece, byte-level BPE, SentencePiece, or the fast tokenizer's own file.
# tokenizer_config.json alone is not one: transformers then builds a 5-token tokenizer that reads every word as [UNK].
VOCABULARY_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                    "tokenizer.model", "spm.model")


class ModelFolderError(ModelLoadError, ExportError):
    """A model folder that cannot (or must not) be loaded; caught as either parent."""


def read_json_object(file: Path) -> dict[str, Any]:
    """The JSON object in ``file``; anything else (a list, bad JSON, not UTF-8) is a :class:`ModelFolderError`."""
    from core.recipe_text import load_document  # the studio's one guarded loader: bounded size, UTF-8, no key twice

    try:
        data = load_document(file, "model file", "json")
    except RecipeError as exc:
        message = "; ".join(str(p) for p in exc.problems)
        raise ModelFolderError(message if str(file) in message else f"{file}: {message}") from None
    if not isinstance(data, dict):
        raise ModelFolderError(f"{file} holds a JSON {type(data).__name__}; a model configuration is a JSON object "
                               "({\"model_type\": \"bert\", ...})")
    return data


def read_config(path: Path) -> dict[str, Any]:
    """``config.json`` of the folder ``path``, checked: an object, a BERT-family type, no remote code."""
    if not path.is_dir():
        raise ModelFolderError(f"{path} is not a folder")
    file = path / "config.json"
    if not file.is_file():
        raise ModelFolderError(f"{path} is not a model folder: it has no config.json")
    config = read_json_object(file)
    if config.get("auto_map"):
        raise ModelFolderError(f"{file} asks for custom model code (auto_map); the studio never runs code from a "
                               "model folder")
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or model_type not in BERT_FAMILY:
        raise ModelFolderError(f"{path} holds a {model_type!r} model; the studio works on BERT-family encoders "
                               f"({', '.join(sorted(BERT_FAMILY))})")
    return config


def pickle_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)


def refuse_pickles(path: Path) -> None:
    """Refuse a folder holding any pickle-based file (the studio's own folders never do)."""
    found = pickle_files(path)
    if found:
        raise ModelFolderError(
            f"{path} contains {', '.join(found)}: pickle-based files can run code when loaded, so the studio "
            "refuses them. Re-export the model with safetensors weights."
        )


def check_weights(path: Path) -> None:
    """Require safetensors weights; pickled weights alone are refused, never opened."""
    if any(path.glob("*.safetensors")):
        return
    found = pickle_files(path)
    if found:
        raise ModelFolderError(
            f"{path} holds its weights only as {', '.join(found)}: pickle-based files can run code when loaded, so "
            "the studio refuses them. Convert them to safetensors (model.save_pretrained(folder)) in a trusted "
            "environment first."
        )
    raise ModelFolderError(f"{path} has a config.json but no weights (*.safetensors)")


def has_vocabulary(path: Path) -> bool:
    return any((path / name).is_file() for name in VOCABULARY_FILES)


def check_tokenizer(path: Path) -> None:
    if not has_vocabulary(path):
        raise ModelFolderError(
            f"no tokenizer files in {path}: it needs one of {', '.join(VOCABULARY_FILES)} (save the tokenizer "
            "beside the model with tokenizer.save_pretrained(folder))"
        )


def check_model_folder(path: Path) -> dict[str, Any]:
    """Everything a user's model folder must satisfy before loading; returns its config."""
    config = read_config(path)
    check_weights(path)
    return config


def detect_folder(path: str | Path):
    """The task a model folder's head was made for (:func:`core.tasks.kinds.detect_task` on its ``config.json``,
    read with this module's checks)."""
    from core.tasks.kinds import detect_task

    return detect_task(read_config(Path(path).expanduser()))
