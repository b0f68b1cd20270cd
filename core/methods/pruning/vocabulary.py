"""Vocabulary pruning (TextPruner): keep the embedding rows of the tokens the task's data uses.

The word embeddings are about half of a small BERT's weights, and a task reads
a fraction of a 30k vocabulary. The step keeps the tokens of the chosen splits
(plus special tokens and an optional reserve), slices the embedding table,
rewrites the tokenizer to the kept tokens under new ids (see
:mod:`core.methods.pruning.vocab_remap`) and re-tokenizes the run's data with
it, so training, evaluation and the export all read the same ids. The step
declares the new data as a :class:`~core.engine.context.DataTransition`: the
engine hands it to later steps with a teacher sliced to the same vocabulary
(its vectors of kept tokens untouched), while the baseline keeps its own
vocabulary and data, so the run's figures still compare with it as it was.

The tokens are counted in whole examples, as the task reads them: sentences (and their pairs), the pre-split words
of a token-classification sentence, a question with its whole context (not only the windows a QA feature holds).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, replace as dc_replace
from typing import Iterable

from core.data.task import SPLITS
from core.engine.context import DataTransition
from core.methods.distillation.losses import TARGETS
from core.methods.factorization.embeddings import word_embeddings_owner
from core.methods.task_measure import evaluate, has_accuracy, task_kind
from core.methods.pruning.vocab_remap import (VocabularyMap, config_token_ids, counts, protected_ids, pruned_tokenizer,
                                              refusal, shrink_vocabulary, slice_mask_rows, tokenizer_model,
                                              vocabulary_tokens, word_embedding_table)
from core.models.adapters import FamilyRefusal
from core.models.adapters.base import BPE_VOCABULARY
from core.models.architecture import count_parameters, serialized_size
from core.registry import Refusal, register_method, setting
from core.tasks.kinds import TaskKind

VOCABULARY_KEY = "vocabulary"  # state.extras: the VocabularyMap of the pruning steps so far
_UNUSED = re.compile(r"^(\[unused\d+\]|<unused\d+>)$")  # BERT's and others' empty reserved slots


@dataclass
class VocabPruneSettings:
    splits: str = setting("train", "Keep the tokens of the training split, or of training and validation (the "
                          "validation unknown-token rate then says nothing)", choices=("train", "train+validation"))
    min_count: int = setting(1, "Keep a token only if it occurs at least this often in that data (1: every token "
                             "used; more removes rare tokens, which the data then reads otherwise)", min=1, max=1_000_000)
    reserve: int = setting(0, "Also keep this many tokens from the start of the vocabulary's order (WordPiece lists "
                           "frequent pieces early), special tokens and unused slots not counted", min=0, max=1_000_000)
    keep_characters: bool = setting(False, "Also keep every single-character piece, so most unseen words are spelt "
                                    "out in pieces instead of becoming the unknown token")
    measure_accuracy: bool = setting(True, "Measure validation accuracy (the task's loss for a task without one) "
                                     "before and after (one pass each)")


def _rows(ds) -> list[list[int]]:
    return list(ds["input_ids"])


def choose_kept(data: Iterable[list[int]], tokenizer, model, rows: int, cfg: VocabPruneSettings) -> list[int]:
    """Original ids to keep, ascending, given the token ids of the data the tokens are taken from."""
    used = counts(data, rows)
    keep = {i for i, c in enumerate(used) if c >= cfg.min_count}
    protected = protected_ids(tokenizer)
    keep |= protected | set(config_token_ids(model.config).values())
    tokens = vocabulary_tokens(tokenizer)
    if cfg.keep_characters:
        prefix = tokenizer_model(tokenizer)["model"].get("continuing_subword_prefix") or ""
        for i, token in enumerate(tokens):
            bare = token[len(prefix):] if prefix and token.startswith(prefix) else token.lstrip("\u2581")
            if len(bare) == 1:
                keep.add(i)
    left = cfg.reserve
    for i, token in enumerate(tokens):
        if left <= 0:
            break
        if i not in protected and token and not _UNUSED.match(token):
            keep.add(i)
            left -= 1
    return sorted(i for i in keep if 0 <= i < min(rows, len(tokens)))


def raw_splits(task) -> tuple[dict | None, str]:
    """``(parts, note)``: the task's untokenized splits, or ``None`` with why they cannot stand for its ids."""
    raw = task.raw
    if raw is None:
        return None, "the run's data holds no text to tokenize again"
    if any(len(raw[s]) != _examples(task.split(s)) for s in SPLITS):
        return None, "the run's text and ids differ in length"
    return raw, ""


def _examples(ds) -> int:
    """Examples in a tokenized split: rows, or the questions whose windows the rows are (QA)."""
    return len(set(ds["_example_id"])) if "_example_id" in ds.column_names else len(ds)


def untruncated_ids(parts: dict, splits: tuple[str, ...], tokenizer,
                    kind: TaskKind | str = TaskKind.SEQUENCE_CLASSIFICATION) -> list[list[int]]:
    """Token ids of whole examples: a word cut by truncation must keep all its pieces, or it reads otherwise.

    Token classification tokenizes the sentence's words as split; question answering the question with its
    whole context (the windows the model reads are pieces of it).
    """
    kind = TaskKind.parse(kind)
    out: list[list[int]] = []
    for split in splits:
        ds = parts[split]
        if kind is TaskKind.TOKEN_CLASSIFICATION:
            enc = tokenizer(list(ds["tokens"]), is_split_into_words=True, truncation=False, verbose=False)
        elif kind is TaskKind.QUESTION_ANSWERING:
            enc = tokenizer([q.lstrip() for q in ds["question"]], list(ds["context"]), truncation=False,
                            verbose=False)
        else:
            pairs = list(ds["text_pair"]) if "text_pair" in ds.column_names else None
            enc = tokenizer(list(ds["text"]), pairs, truncation=False, verbose=False)
        out.extend(enc["input_ids"])
    return out


def unknown_share(ds, tokenizer) -> float:
    """Share of the non-special tokens of ``ds`` that are the unknown token."""
    unk = tokenizer.unk_token_id
    special = set(tokenizer.all_special_ids) - {unk}
    tokens = [t for ids in _rows(ds) for t in ids if t not in special]
    return sum(t == unk for t in tokens) / len(tokens) if tokens else 0.0


def _remapped(ds, lookup: list[int]):
    return ds.map(lambda b: {"input_ids": [[lookup[i] for i in ids] for ids in b["input_ids"]]}, batched=True)


def _agrees(old, new, lookup: list[int], kept: set[int]) -> bool:
    """Whether ``new`` (re-tokenized) is ``old`` remapped on every row whose tokens were all kept."""
    if len(old) != len(new):
        return False
    if any(list(old[c]) != list(new[c]) for c in TARGETS if c in old.column_names):
        return False
    return all(b == [lookup[i] for i in a] for a, b in zip(_rows(old), _rows(new)) if kept.issuperset(a))


def retokenized(ctx, task, raw: dict | None, tokenizer, lookup: list[int], kept: list[int]):
    """``(task, note)``: the run's data tokenized afresh with ``tokenizer``, as the exported folder reads it.

    Without the raw text (``raw`` None: a caller's own task), or should the fresh
    ids disagree with the old ones on a sentence whose tokens were all kept, the
    old ids are mapped instead (removed tokens become the unknown token), with a
    note saying so.
    """
    import inspect

    from core.data.task import tokenize_splits

    kind = task_kind(task)
    if raw is not None and kind is not TaskKind.SEQUENCE_CLASSIFICATION and \
            "kind" not in inspect.signature(tokenize_splits).parameters:
        raw = None  # this build tokenizes sentence classification only
    if raw is not None:
        if kind is TaskKind.SEQUENCE_CLASSIFICATION:
            fresh = tokenize_splits(raw, task.label_names, ctx.recipe.data, tokenizer)
        else:
            extra = task.extras() if hasattr(task, "extras") else {
                "scheme": getattr(task, "scheme", None), "scaling": getattr(task, "scaling", None),
                "unanswerable": getattr(task, "unanswerable", 0)}
            fresh = tokenize_splits(raw, task.label_names, ctx.recipe.data, tokenizer, kind=kind, extra=extra)
        keep = set(kept)
        if all(_agrees(task.split(s), fresh.split(s), lookup, keep) for s in SPLITS):
            return fresh, ""
    ids = {s: _remapped(task.split(s), lookup) for s in SPLITS}
    return dc_replace(task, train=ids["train"], validation=ids["validation"], test=ids["test"], tokenizer=tokenizer), (
        "removed tokens were mapped to the unknown token, which the saved tokenizer may split otherwise")


def _validation_figure(model, task, ctx) -> float:
    """Validation accuracy, or the task's loss for a task kind without accuracy."""
    result = evaluate(model, task.loader("validation", 64), task_kind(task), ctx.check)
    return float(result["score"] if result["measure"] == "accuracy" else result["loss"])


def _shrunk_copy(ref, kept: list[int], rows: int, tokenizer):
    """A copy of ``ref`` (the teacher) with the same vocabulary; ``ref`` itself when its table differs."""
    model = copy.deepcopy(ref.model)
    owner, attr = word_embeddings_owner(model)
    if word_embedding_table(getattr(owner, attr)).num_embeddings != rows:
        return ref
    shrink_vocabulary(model, owner, attr, kept)
    return ref.replace(model=model, tokenizer=tokenizer)


@register_method(
    "prune.vocabulary",
    family="pruning",
    title="Vocabulary pruning",
    description="Keep only the word-embedding rows of the tokens the task's data uses (plus special tokens and an "
    "optional reserve), rewrite the tokenizer to those tokens and re-tokenize the data with it (TextPruner). "
    "Outputs on sentences whose tokens are all kept do not change; the step reports the unknown-token rate on "
    "the validation split before and after. WordPiece and Unigram tokenizers.",
    config=VocabPruneSettings,
    # RoBERTa and DeBERTa (v1) always ship byte-level BPE; ModernBERT is not refused by its family: a ModernBERT
    # folder may carry a WordPiece tokenizer, so the handler decides by the tokenizer the model has.
    refuses=[Refusal(("roberta", "deberta"), BPE_VOCABULARY)],
    phrase="vocabulary",
    cacheable=False,  # the run's data is re-tokenized, and the step cache keeps models, not data
)
def prune_vocabulary(state, cfg: VocabPruneSettings, ctx):
    adapter = ctx.adapter
    tokenizer, model, task = state.tokenizer, state.model, ctx.task
    why = refusal(tokenizer) if tokenizer is not None else "the model has no tokenizer"
    if why is None and tokenizer.unk_token_id is None:
        why = "its tokenizer has no unknown token to read removed tokens as"
    if why:
        raise FamilyRefusal(f"prune.vocabulary cannot apply to this {adapter.title} model ({adapter.family}): {why}")
    owner, attr = word_embeddings_owner(model)
    table = word_embedding_table(getattr(owner, attr))
    rows = table.num_embeddings
    if len(vocabulary_tokens(tokenizer)) > rows:
        raise ValueError(f"the tokenizer has {len(vocabulary_tokens(tokenizer)):,} tokens but the word embeddings "
                         f"only {rows:,} rows")
    ctx.progress(0, 4, "counting the tokens the data uses", force=True)
    raw, note = raw_splits(task)
    splits = ("train", "validation") if cfg.splits == "train+validation" else ("train",)
    data = untruncated_ids(raw, splits, tokenizer, task_kind(task)) if raw else \
        [ids for s in splits for ids in _rows(task.split(s))]
    kept = choose_kept(data, tokenizer, model, rows, cfg)
    if len(kept) == rows:
        ctx.log(f"vocabulary pruning: the data uses all {rows:,} tokens; nothing removed", "warning")
        return state
    pad = table.padding_idx
    position_pad = getattr(adapter.embeddings(model), "padding_idx", None)  # RoBERTa-style positions count from it
    if position_pad is not None and pad is not None and kept.index(pad) != position_pad:
        raise ValueError(f"the padding token would move from id {pad} to {kept.index(pad)}, and this model's "
                         "position ids are counted from it")
    ctx.progress(1, 4, "rewriting the tokenizer", force=True)
    new_tokenizer = pruned_tokenizer(tokenizer, kept, ctx.step_dir() / "tokenizer")
    vocab = VocabularyMap(tuple(kept), rows, kept.index(tokenizer.unk_token_id))
    lookup = vocab.lookup()
    ctx.progress(2, 4, "re-tokenizing the data", force=True)
    new_task, fallback = retokenized(ctx, task, raw, new_tokenizer, lookup, kept)
    note = f"{note or 'the re-tokenized data disagrees with the old ids'}: {fallback}" if fallback else ""
    unknown_before, unknown_after = unknown_share(task.validation, tokenizer), unknown_share(new_task.validation,
                                                                                               new_tokenizer)
    changed = sum(b != [lookup[i] for i in a] for a, b in zip(_rows(task.validation), _rows(new_task.validation)))
    figure = "accuracy" if has_accuracy(task_kind(task)) else "loss"
    accuracy_before = _validation_figure(model, task, ctx) if cfg.measure_accuracy else None
    ctx.progress(3, 4, "slicing the embeddings", force=True)
    before, size_before = count_parameters(model), serialized_size(model)
    shrink_vocabulary(model, owner, attr, kept)
    new = state.replace(tokenizer=new_tokenizer)
    if new.masks:
        new.masks = slice_mask_rows(new.masks, attr, kept, rows)
    earlier = new.extras.get(VOCABULARY_KEY)
    if isinstance(earlier, VocabularyMap):  # a second pruning: kept ids stay relative to the first vocabulary
        vocab = VocabularyMap(tuple(earlier.kept[i] for i in kept), earlier.original_size, vocab.unk_id)
    new.extras[VOCABULARY_KEY] = vocab
    after, size_after = count_parameters(model), serialized_size(model)
    figures = {"vocabulary_before": rows, "vocabulary_after": len(kept), "parameters_before": before,
               "parameters_after": after, "size_bytes_before": size_before, "size_bytes_after": size_after,
               "validation_unknown_before": unknown_before, "validation_unknown_after": unknown_after,
               "validation_sentences_changed": changed}
    if accuracy_before is not None:
        figures[f"validation_{figure}_before"] = accuracy_before
        figures[f"validation_{figure}_after"] = _validation_figure(model, new_task, ctx)
    # every later batch holds new ids: later steps read the new data, and distil from a teacher that reads it
    ctx.change_data(DataTransition(new_task, lambda teacher: _shrunk_copy(teacher, kept, rows, new_tokenizer),
                                   figures, f"vocabulary pruned to {len(kept):,} of {rows:,} tokens"))
    ctx.metric("vocab/rows_kept", len(kept))
    ctx.metric("vocab/rows_removed", rows - len(kept))
    ctx.metric("vocab/validation_unknown_before", unknown_before)
    ctx.metric("vocab/validation_unknown_after", unknown_after)
    if accuracy_before is not None:
        ctx.metric(f"vocab/validation_{figure}_before", accuracy_before)
        ctx.metric(f"vocab/validation_{figure}_after", figures[f"validation_{figure}_after"])
    ctx.metric("model/parameters", after)
    ctx.metric("model/size_bytes", size_after)
    if note:
        ctx.log(f"vocabulary pruning: {note}", "warning")
    ctx.log(f"vocabulary pruning: kept {len(kept):,} of {rows:,} embedding rows; {before - after:,} parameters and "
            f"{size_before - size_after:,} bytes fewer ({after:,} parameters left); unknown tokens on validation "
            f"{unknown_before:.2%} -> {unknown_after:.2%}, {changed} of {len(task.validation)} validation rows "
            "tokenize differently. Later steps read the re-tokenized data and distil from a teacher with the pruned "
            "vocabulary; the baseline keeps its own vocabulary and data. The step cache keeps no prefix that ends "
            "after this step (the data is re-tokenized)")
    ctx.progress(4, 4, "vocabulary pruned", force=True)
    return new
