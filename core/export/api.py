"""Export a model (or a recorded run) and verify it before anyone sees "done".

Every export is written into a temporary folder beside the target, reloaded
from there the way a user would load it, compared with the in-memory model,
measured (size on disk, latency against the original, alternating), given a
model card, and only then moved into place.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn

from core.errors import ExportError, StudioError
from core.export import verify
from core.export.card import write_card
from core.export.onnx_export import options_for, write_onnx_folder
from core.export.onnx_int4 import INT4
from core.export.onnx_session import OnnxRunner
from core.models.heads import kind_of, output_names
from core.models.manifest import layer_description
from core.models.staging import staged_folder
from core.models.state import ModelState
from core.models.student_families import STUDENT_NOTE, student_family

FORMATS = ("hf", "onnx", "onnx-int8", "onnx-int4")
HEADLINE_EXAMPLES = 256  # validation examples the headline figure is measured on, for each model
Progress = Callable[[int, int, str], None]
_STEPS = 6

# Used when the caller has no validation batch: varied lengths so padding is exercised.
SAMPLE_SENTENCES = (
    "A gripping story told with real warmth.",
    "The plot drags and the jokes fall flat.",
    "An uneven but often charming film about growing up in a small coastal town.",
    "Dull.",
    "The performances are strong, though the script never quite trusts its audience.",
    "I have rarely been this bored in a cinema.",
    "A small miracle of a movie.",
    "Too long, too loud, and far too pleased with itself to notice either.",
)


def sample_batch(tokenizer, max_length: int = 32) -> dict[str, torch.Tensor]:
    if tokenizer is None:
        raise ExportError("the model has no tokenizer, so there is no batch to verify the export with; pass batch=")
    enc = tokenizer(list(SAMPLE_SENTENCES), padding="max_length", truncation=True, max_length=max_length,
                    return_tensors="pt")
    return {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}


@contextmanager
def _cpu_eval(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode on the CPU (a copy only when it lives elsewhere); training mode restored after."""
    param = next(model.parameters(), None)
    if param is not None and param.device.type != "cpu":
        yield copy.deepcopy(model).to("cpu").eval()
        return
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _tolerance(fmt: str, quantized: bool) -> verify.Tolerance:
    if fmt == "hf":
        return verify.EXACT  # the same tensors (int8 packed weights included) and kernels
    if fmt == "onnx" and not quantized:
        return verify.ONNX_FLOAT
    if fmt == "onnx-int4":
        return INT4
    return verify.QUANTIZED


def _tell(progress: Progress | None, step: int, message: str) -> None:
    if progress is not None:
        progress(step, _STEPS, message)


def export_model(state: ModelState, out_dir: str | Path, format: str = "hf", *, reference: ModelState | None = None,
                 batch: dict[str, torch.Tensor] | None = None, overwrite: bool = False,
                 recipe: dict[str, Any] | None = None, results: dict[str, Any] | None = None,
                 progress: Progress | None = None, latency_repeats: int = 5,
                 notes: list[str] | None = None, fusion: str | None = None, task: Any = None,
                 data: Any = None) -> verify.ExportReport:
    """Write ``state`` to ``out_dir`` as ``format``, verify it, and return what was measured.

    ``reference`` is the original (uncompressed) model, timed in alternation
    with the export; ``batch`` (a tokenized validation batch) is what outputs
    are compared and latency measured on; ``notes`` go into the report and
    the model card. ``fusion`` (``none``, ``fused`` or ``fastest``; ONNX formats
    only) replaces the format's own choice of ONNX Runtime's BERT fusion
    (:mod:`core.export.onnx_export`). ``task`` (a prepared
    :class:`~core.data.task.TaskData` of the model's task) and ``data`` (its
    recipe's data reference): the task's headline figure is measured on its
    validation split for the export, the model and the original, and
    reported beside the agreement. Raises :class:`ExportError` and
    leaves nothing behind when writing or verification fails.
    """
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    if format == "hf" and fusion is not None:
        raise ExportError("fusion is an option of the ONNX formats; the hf format writes the model's own tensors")
    onnx_options = options_for(format, fusion) if format != "hf" else None  # refuses an unknown fusion up front
    target = Path(out_dir).expanduser().resolve()
    _tell(progress, 0, "preparing")
    batch = {k: v.to("cpu") for k, v in (batch or sample_batch(state.tokenizer)).items()}
    tol = _tolerance(format, state.quantized)
    kind = kind_of(state.model)
    names = output_names(kind)
    with _cpu_eval(state.model) as model, staged_folder(target, overwrite) as tmp:
        cpu_state = state.replace(model=model)
        expected = verify.outputs_of(model, batch, names)
        _tell(progress, 1, f"writing the {format} export")
        what = f"{format} export of the {_family(model)} model"
        try:
            exported, manifest, notes_written, weights = _write(cpu_state, tmp, onnx_options, batch)
            _tell(progress, 2, "reloading the export to verify it")
            actual = verify.outputs_of(exported, batch, names)
        except ExportError as exc:  # say which family could not take this format, before the exporter's reason
            raise ExportError(f"{what}: {exc}") from exc
        diff, agreement = verify.compare(expected, actual, tol, f"{what} to {target}", kind,
                                         batch.get("attention_mask"))
        original = reference.model if reference is not None else None
        notes = list(notes or [])
        headline = _headlines(task, data, kind, names, model, exported, original, progress, notes)
        _tell(progress, 3, "measuring latency against the original")
        with (_cpu_eval(original) if original is not None else _none()) as original_cpu:
            speed = verify.measure_latency(exported, original_cpu, batch, latency_repeats)
        original_size = verify.tensor_bytes(original) if original is not None else None
        weights_bytes = (tmp / weights).stat().st_size
        from core.models.architecture import count_parameters

        report = verify.ExportReport(
            format=format, path=str(target), verified=True, tolerance=tol.describe(kind), max_abs_diff=diff,
            argmax_agreement=agreement, rows=int(batch["input_ids"].shape[0]), size_bytes=0,
            weights_bytes=weights_bytes, standard=manifest.get("standard") if manifest else None,
            parameters=count_parameters(model), original_size_bytes=original_size,
            size_ratio=(original_size / weights_bytes) if original_size else None, **speed,
            latency_batch=f"{batch['input_ids'].shape[0]} x {batch['input_ids'].shape[1]} tokens, CPU",
            notes=[*notes_written, *(notes or [])], versions=verify.software_versions(), task=kind,
            outputs=list(names), agreement_measure=verify.agreement_measure(kind), **headline,
        )
        del exported  # release the ONNX session / reloaded model before the folder moves
        _tell(progress, 4, "writing the model card")
        write_card(tmp, report, manifest, recipe, results, str(target))
        report.size_bytes = verify.folder_bytes(tmp)
        _tell(progress, 5, "moving the export into place")
    _tell(progress, 6, "done")
    return report


def _headlines(task: Any, data: Any, kind: str, names: tuple[str, ...], model: nn.Module, exported: Any,
               original: nn.Module | None, progress: Progress | None, notes: list[str]) -> dict[str, Any]:
    """The :class:`~core.export.verify.ExportReport` fields of the task's headline figure (none without data)."""
    if task is None or data is None:
        return {}
    from core.tasks.figures import HEADLINE

    if task.kind.value != kind:  # a run recorded before its task was: say so rather than measure the wrong thing
        notes.append(f"the run's data is for {task.kind.value}, the model has a {kind} head; no headline figure")
        return {}
    _tell(progress, 2, f"measuring {HEADLINE[task.kind]} on the validation split")
    export_value, examples = verify.headline_of(exported, names, task, data, HEADLINE_EXAMPLES)
    out = {"headline": HEADLINE[task.kind], "headline_export": export_value, "headline_examples": examples,
           "headline_model": verify.headline_of(model, names, task, data, HEADLINE_EXAMPLES)[0]}
    if original is not None and kind_of(original) == kind:
        with _cpu_eval(original) as original_cpu:
            out["headline_original"] = verify.headline_of(original_cpu, names, task, data, HEADLINE_EXAMPLES)[0]
    return out


def _family(model: nn.Module) -> str:
    """``DeBERTa (v1) (deberta)``: the family an export error names."""
    from core.models.adapters import FamilyRefusal, adapter_for

    try:
        adapter = adapter_for(model)
    except FamilyRefusal:
        return str(getattr(getattr(model, "config", None), "model_type", type(model).__name__))
    return f"{adapter.title} ({adapter.family})"


@contextmanager
def _none() -> Iterator[None]:
    yield None


def _write(state: ModelState, tmp: Path, onnx_options, batch) -> tuple[Any, dict | None, list[str], str]:
    """Write the files and reload them as a user would: (runnable export, manifest, notes, weights file name).

    ``onnx_options`` (:class:`core.export.onnx_export.OnnxOptions`) is None for the ``hf`` format.
    """
    if onnx_options is None:
        from core.models.checkpoint import write_model_folder
        from core.models.reload import load_model_folder, load_plain

        manifest = write_model_folder(state, tmp)
        notes = [] if manifest["standard"] else [STUDENT_NOTE if student_family(state.model) else
                                                 "architecture recorded in studio_model.json; plain transformers cannot rebuild it"]
        # the promise of a standard folder is that plain transformers loads it: check exactly that
        reloaded = load_plain(tmp) if manifest["standard"] else load_model_folder(tmp)
        return reloaded.model, manifest, notes, manifest["weights"]
    info = write_onnx_folder(state, tmp, batch, onnx_options)
    return OnnxRunner(tmp / info["file"]), {"layers": layer_description(state.model)}, info["notes"], info["file"]


# -- exporting a recorded run ------------------------------------------------

def _field(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def final_checkpoint(record: Any) -> Path:
    """The folder of the run's newest ``final`` artifact (written by ``save_checkpoint``)."""
    finals = [a for a in (_field(record, "artifacts") or ()) if _field(a, "kind") == "final"]
    run = _field(record, "id", "?")
    if not finals:
        raise ExportError(f"run {str(run)[:8]} has no final checkpoint to export (it did not finish, or it was "
                          "recorded before the studio kept checkpoints); run the recipe again")
    path = Path(str(_field(finals[-1], "path"))).expanduser()
    if not path.is_dir():
        raise ExportError(f"the checkpoint of run {str(run)[:8]} is gone: {path} does not exist")
    return path


def _run_inputs(recipe: dict[str, Any], state: ModelState, notes: list[str]) -> tuple[dict | None, ModelState | None,
                                                                                    Any, Any]:
    """The run's validation batch, its original model, its prepared data and the recipe's data reference, or None
    each (with a note) when unavailable."""
    from core.recipe import Recipe

    try:
        parsed = Recipe.from_dict(recipe)
    except StudioError as exc:
        notes.append(f"recipe unreadable ({exc}); verified on built-in sentences, no original timed")
        return None, None, None, None
    batch = reference = task = None
    try:
        from core.data.task import prepare_task
        from core.metrics.latency import fixed_batch

        task = prepare_task(parsed.data, state.tokenizer, parsed.task)
        name_labels(state.model.config, task.label_names)
        batch = fixed_batch(task, "validation", parsed.evaluation.latency_batch_size, parsed.data.max_length)
        batch = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    except (StudioError, OSError) as exc:
        notes.append(f"validation data unavailable ({exc}); verified on built-in sentences")
    try:
        from core.models.loading import load_model

        reference = load_model(parsed.model.source, int(state.model.config.num_labels), seed=parsed.seed,
                               task=parsed.task)
    except (StudioError, OSError) as exc:
        notes.append(f"original model unavailable ({exc}); latency not compared")
    return batch, reference, task, (parsed.data if task is not None else None)


def name_labels(config: Any, names: list[str]) -> None:
    """Give a checkpoint written before runs kept the data's label names (LABEL_0, LABEL_1...) those names."""
    generic = [f"LABEL_{i}" for i in range(config.num_labels)]
    if len(names) == config.num_labels and [config.id2label.get(i) for i in range(config.num_labels)] == generic:
        config.id2label = dict(enumerate(names))
        config.label2id = {name: i for i, name in enumerate(names)}


def export_run(repo: Any, run_id: str, format: str, out_dir: str | Path, overwrite: bool = False,
               progress: Progress | None = None, latency_repeats: int = 5) -> verify.ExportReport:
    """Export a recorded run's final checkpoint, verify it, and record the export as an artifact."""
    from core.models.reload import load_model_folder
    from core.models.staging import check_target

    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    check_target(Path(out_dir).expanduser().resolve(), overwrite)  # before the slow part: fail fast
    record = repo.get_run(run_id)
    state = load_model_folder(final_checkpoint(record))
    recipe = dict(_field(record, "recipe") or {})
    notes: list[str] = []
    batch, reference, task, data = _run_inputs(recipe, state, notes) if recipe else (None, None, None, None)
    report = export_model(state, out_dir, format, reference=reference, batch=batch, overwrite=overwrite,
                          recipe=recipe, results=dict(_field(record, "results") or {}), progress=progress,
                          latency_repeats=latency_repeats, notes=notes, task=task, data=data)
    repo.add_artifact(_field(record, "id", run_id), "export", report.path, report.to_dict())
    return report
