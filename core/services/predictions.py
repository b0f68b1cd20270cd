"""A few validation examples with a model's prediction beside the gold answer, in each task's own terms.

What the studio's prediction preview shows after a run: for a handful of examples of the validation split,

- sequence classification: the sentence (pair), the gold class and the predicted class;
- token classification: the words, each with its gold tag and the tag predicted on its first word piece
  (:func:`core.tasks.token_features.word_predictions`, as the entity figures count them);
- question answering: the question, its context, the gold answers and the answer span found by the n-best span
  search (character offsets into the context, so the span can be highlighted), or no answer;
- regression: the text, the target and the predicted score, in the data's own units (any scaling inverted);
- multi-label: the text, the gold label set and the labels whose probability reaches the recipe's threshold.

The model's outputs come from :mod:`core.engine.task_metrics` (the evaluation's own code path), so the preview
shows what the figures counted. :func:`preview_run` previews a recorded run's final (compressed) model and its
teacher (the baseline its figures were measured against) on the same examples. Qt-free: the studio calls it from
a background thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from core.tasks.kinds import TaskKind

DEFAULT_COUNT = 5


@dataclass(frozen=True)
class Example:
    """One example: ``text`` (the sentence, or the question), the gold and predicted answer as short text, and
    the task's details (``words`` with their tags, a QA ``context`` with spans, label sets)."""

    kind: str  # the task's recipe spelling
    text: str
    gold: str
    predicted: str
    correct: bool
    text_pair: str = ""
    words: tuple[str, ...] = ()
    gold_tags: tuple[str, ...] = ()
    predicted_tags: tuple[str, ...] = ()
    context: str = ""
    span: tuple[int, int] | None = None  # the predicted answer's characters in ``context`` (None: no answer)
    gold_spans: tuple[tuple[int, int], ...] = ()
    score: float | None = None  # regression: the prediction, multi-label: unused
    target: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _label_set(names: Sequence[str], vector) -> tuple[str, ...]:
    return tuple(name for name, on in zip(names, vector) if on)


def _join(labels: Sequence[str]) -> str:
    return ", ".join(labels) if labels else "(none)"


def examples_of(model, task, settings, split: str = "validation", count: int = DEFAULT_COUNT,
                batch_size: int = 16, null_threshold: float | None = None) -> list[Example]:
    """The first ``count`` examples of ``task``'s ``split`` with ``model``'s predictions.

    ``task`` is a :class:`~core.data.task.TaskData` (with its raw splits); ``settings`` the recipe's
    :class:`~core.recipe.DataRef` (QA's span search, the multi-label threshold). ``null_threshold``: the
    no-answer threshold the run chose on its validation split (its ``null_threshold`` figure), else the recipe's.
    """
    import numpy as np

    from core.engine.task_metrics import _limited, _outputs

    kind = TaskKind.parse(task.kind)
    if task.raw is None or split not in task.raw:
        raise ValueError(f"the task data has no raw {split} split to preview")
    features, raw = _limited(task, split, count)
    outputs, _ = _outputs(model, task, features, batch_size)
    out: list[Example] = []
    if kind is TaskKind.SEQUENCE_CLASSIFICATION:
        names = task.label_names
        for row, logits in zip(raw, outputs):
            gold, predicted = names[int(row["label"])], names[int(np.argmax(logits))]
            out.append(Example(kind.value, row["text"], gold, predicted, gold == predicted,
                               text_pair=row.get("text_pair") or ""))
    elif kind is TaskKind.TOKEN_CLASSIFICATION:
        from core.tasks.token_features import word_predictions

        names = task.label_names
        for row, logits, ids, n in zip(raw, outputs, features["_word_ids"], features["_words"]):
            predicted = word_predictions(np.asarray(logits).argmax(-1), ids, n, names)
            gold = [names[t] for t in row["tags"]]
            words = list(row["tokens"])
            out.append(Example(kind.value, " ".join(words), " ".join(gold), " ".join(predicted), gold == predicted,
                               words=tuple(words), gold_tags=tuple(gold), predicted_tags=tuple(predicted)))
    elif kind is TaskKind.QUESTION_ANSWERING:
        from core.tasks.metrics.qa import exact_match
        from core.tasks.qa_spans import best_answers

        chosen = settings.null_threshold if null_threshold is None else null_threshold
        threshold = chosen if task.unanswerable else None
        answers = best_answers(list(raw), features, [o[0] for o in outputs], [o[1] for o in outputs],
                               n_best=settings.n_best, max_answer_length=settings.max_answer_length,
                               null_threshold=threshold)
        for row in raw:
            answer = answers[row["id"]]
            texts = list(row["answers"]["text"])
            spans = tuple((int(s), int(s) + len(t)) for s, t in zip(row["answers"]["answer_start"], texts))
            right = (max(exact_match(answer.text, t) for t in texts) == 1.0) if texts else answer.text == ""
            out.append(Example(kind.value, row["question"], " | ".join(texts) or "(no answer)",
                               answer.text or "(no answer)", bool(right), context=row["context"],
                               span=(answer.start, answer.end) if answer.text else None, gold_spans=spans))
    elif kind is TaskKind.REGRESSION:
        scores = [float(np.asarray(o).reshape(-1)[0]) for o in outputs]
        if task.scaling is not None:
            scores = list(task.scaling.invert(scores))
        for row, score in zip(raw, scores):
            target = float(row["label"])
            out.append(Example(kind.value, row["text"], f"{target:.3g}", f"{score:.3g}", abs(score - target) <= 0.5,
                               text_pair=row.get("text_pair") or "", score=float(score), target=target))
    elif kind is TaskKind.MULTI_LABEL:
        from core.tasks.metrics.multilabel import sigmoid

        names = task.label_names
        probabilities = sigmoid(np.stack(outputs)) if outputs else np.empty((0, len(names)))
        for row, p in zip(raw, probabilities):
            gold = _label_set(names, [v >= 0.5 for v in row["labels"]])
            predicted = _label_set(names, [v >= settings.label_threshold for v in p])
            out.append(Example(kind.value, row["text"], _join(gold), _join(predicted), gold == predicted,
                               extra={"probabilities": {n: float(v) for n, v in zip(names, p)}}))
    return out


def preview_model(source: str, recipe, count: int = DEFAULT_COUNT, split: str = "validation",
                  null_threshold: float | None = None) -> list[Example]:
    """Load the model folder ``source`` (a run's final checkpoint, or any model) and the recipe's data, and
    preview ``count`` examples of ``split``."""
    from core.data.task import prepare_task
    from core.models.reload import load_model_folder

    state = load_model_folder(source)
    task = prepare_task(recipe.data, state.tokenizer, recipe.task)
    return examples_of(state.model, task, recipe.data, split, count, null_threshold=null_threshold)


@dataclass(frozen=True)
class RunPreview:
    """A run's preview: its final (compressed) model's examples and, on the same examples, its teacher's.

    ``teacher`` is None when the teacher could not be loaded; ``teacher_note`` then says why, else which model
    the teacher is (the original as loaded, or the fine-tuned teacher kept in the step cache)."""

    name: str
    examples: list[Example]
    teacher: list[Example] | None = None
    teacher_note: str = ""


class TeacherUnavailable(Exception):
    """The run's teacher cannot be loaded; the message says why."""


def baseline_steps(recipe) -> int:
    """How many leading steps make the run's baseline, as the runner decides: the last training step before any
    step that compresses (0: the model as loaded is the baseline)."""
    from core.engine.runner import is_compressed

    out = 0
    for index, step in enumerate(recipe.steps):
        if is_compressed(recipe.steps[:index]):
            break
        if step.spec().family == "training":  # the runner's _BASELINE_FAMILIES
            out = index + 1
    return out


def load_teacher(recipe, device: str = "cpu", cache=None):
    """The run's teacher (its baseline) as ``(state, task, what)``; raises :class:`TeacherUnavailable`.

    With no training before the first compressing step the teacher is the recipe's model as loaded (same seed,
    so a new head is the run's own). Otherwise it is the fine-tuned model, which only the step cache keeps
    (``cache``: a :class:`~core.engine.cache.StepCache`, by default the one beside the studio's database);
    ``device`` is the device type the run's cache keys were made on."""
    from core.data.task import prepare_task
    from core.errors import StudioError
    from core.models.loading import load_model, load_tokenizer

    source, n = recipe.model.source, baseline_steps(recipe)
    try:
        tokenizer = load_tokenizer(source)
        task = prepare_task(recipe.data, tokenizer, recipe.task)
        if n == 0:
            state = load_model(source, task.num_labels, seed=recipe.seed, label_names=task.label_names,
                               task=recipe.task)
            return state, task, f"the original model ({source})"
    except (StudioError, OSError, ValueError) as exc:
        raise TeacherUnavailable(f"its model {source} cannot be loaded ({exc})") from None
    from core.engine.cache import StepCache

    cache = cache if cache is not None else StepCache.for_database()
    entry = cache.entry(cache.key_for(recipe, n, device))
    if entry is None:
        raise TeacherUnavailable(f"the fine-tuned teacher (the model after step {n}) is no longer in the step "
                                 f"cache ({cache.root})")
    try:
        state = entry.load_state(tokenizer, "cpu")
    except (StudioError, OSError, ValueError) as exc:
        raise TeacherUnavailable(f"the step cache's fine-tuned teacher cannot be read ({exc})") from None
    return state, task, f"the fine-tuned teacher (after step {n}, from the step cache)"


def _field(record, name: str, default=None):
    return record.get(name, default) if isinstance(record, dict) else getattr(record, name, default)


def preview_run(record, count: int = DEFAULT_COUNT, split: str = "validation", teacher: bool = True,
                cache=None) -> RunPreview:
    """The prediction preview of a recorded run: its final checkpoint on its recipe's data and, with
    ``teacher``, its teacher on the same examples (:func:`load_teacher`; when it cannot be loaded the preview
    keeps the final model's examples and says why)."""
    from core.export.api import final_checkpoint
    from core.recipe import Recipe

    recipe = Recipe.from_dict(_field(record, "recipe"))
    figures = _field(record, "results") or _field(record, "figures") or {}
    chosen = figures.get("null_threshold")  # the threshold the run's recorded figures used
    threshold = float(chosen) if isinstance(chosen, (int, float)) else None
    name = _field(record, "name", "") or str(_field(record, "id", ""))[:8]
    examples = preview_model(str(final_checkpoint(record)), recipe, count, split, null_threshold=threshold)
    if not teacher:
        return RunPreview(name, examples)
    device = str(_field(record, "device", "") or "cpu").split(":")[0]
    try:
        state, task, what = load_teacher(recipe, device, cache)
    except TeacherUnavailable as exc:
        return RunPreview(name, examples, None, f"the teacher is not shown: {exc}")
    taught = examples_of(state.model, task, recipe.data, split, count, null_threshold=threshold)
    return RunPreview(name, examples, taught, what)
