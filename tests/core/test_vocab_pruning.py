"""Vocabulary pruning: rows kept, outputs unchanged on the data, the tokenizer rewritten, stacking, refusals."""

from __future__ import annotations

import copy

import pytest
import torch

from core import events as ev
from core.applicability import applicability
from core.models.adapters import FamilyRefusal
from core.models.architecture import count_parameters
from core.recipe import Step
from tests.conftest import apply_method, method_context, tiny_recipe

HIDDEN = 32


def _logits(model, task, split: str, n: int = 32) -> torch.Tensor:
    batch = next(iter(task.loader(split, n)))
    batch.pop("labels")
    with torch.no_grad():
        return model.eval()(**batch).logits


@pytest.fixture
def pruned(tiny_state, tiny_task, tmp_path):
    """(original state copy, pruned state, ctx) after prune.vocabulary with the default settings."""
    original = tiny_state.replace(model=copy.deepcopy(tiny_state.model))
    ctx = method_context(tmp_path, tiny_task, tiny_state, teacher=original)
    out = apply_method("prune.vocabulary", tiny_state, ctx, measure_accuracy=False)
    return original, out, ctx


def test_keeps_the_rows_the_training_text_uses_and_outputs_stay(pruned, tiny_task):
    original, out, ctx = pruned
    tok = tiny_task.tokenizer
    raw = tiny_task.raw["train"]
    used = {i for ids in tok(list(raw["text"]), truncation=False)["input_ids"] for i in ids}
    kept = sorted(used | set(tok.all_special_ids))
    assert out.extras["vocabulary"].kept == tuple(kept)
    assert out.model.config.vocab_size == len(kept) == len(out.tokenizer)
    assert count_parameters(original.model) - count_parameters(out.model) == (30522 - len(kept)) * HIDDEN
    assert ctx.seen["vocab/rows_kept"] == [len(kept)] and ctx.seen["vocab/rows_removed"] == [30522 - len(kept)]
    lookup = out.extras["vocabulary"].lookup()
    assert [[lookup[i] for i in ids] for ids in tiny_task.train["input_ids"]] == list(ctx.task.train["input_ids"])
    assert torch.allclose(_logits(original.model, tiny_task, "train"), _logits(out.model, ctx.task, "train"), atol=1e-5)
    # the teacher reads the new ids too, with the same vectors
    assert torch.allclose(_logits(ctx.teacher.model, ctx.task, "train"), _logits(original.model, tiny_task, "train"),
                          atol=1e-5)
    before, after = ctx.seen["vocab/validation_unknown_before"][0], ctx.seen["vocab/validation_unknown_after"][0]
    assert before == 0.0 < after < 0.5
    assert not any(getattr(e, "level", "") == "warning" for e in ctx.events)  # re-tokenized, not mapped


def test_a_token_outside_the_kept_set_becomes_unknown(pruned, tiny_task):
    _, out, _ = pruned
    tok, kept = tiny_task.tokenizer, set(out.extras["vocabulary"].kept)
    # a letter of another script: in the vocabulary, absent from the reviews
    char, old_id = next((t, i) for t, i in sorted(tok.get_vocab().items(), key=lambda x: x[1])
                        if len(t) == 1 and "\u0400" <= t <= "\u04ff" and i not in kept)
    assert tok(char)["input_ids"] == [tok.cls_token_id, old_id, tok.sep_token_id]
    assert out.tokenizer(char)["input_ids"][1] == out.tokenizer.unk_token_id
    assert out.tokenizer.convert_ids_to_tokens(out.tokenizer("the film")["input_ids"]) == ["[CLS]", "the", "film",
                                                                                           "[SEP]"]


def test_export_reloads_with_plain_transformers_and_its_own_tokenizer(pruned, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.export.api import export_model

    original, out, ctx = pruned
    report = export_model(out, tmp_path / "export", "hf", latency_repeats=1)
    assert report.standard
    model = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "export")).eval()
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "export"))
    texts = list(ctx.task.raw["validation"]["text"][:16])
    enc = tok(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    expected = ctx.task.validation.select(range(16))["input_ids"]
    assert [row[:len(e)] for row, e in zip(enc["input_ids"].tolist(), expected)] == [list(e) for e in expected]
    with torch.no_grad():
        got = model(**enc).logits
    assert torch.allclose(got, _logits(out.model, ctx.task, "validation", 16), atol=1e-5)


def test_a_following_finetune_still_trains(pruned):
    _, out, ctx = pruned
    before = out.model.bert.embeddings.word_embeddings.weight.detach().clone()
    trained = apply_method("finetune", out, ctx, max_steps=2, batch_size=8, eval_samples=8)
    after = trained.model.bert.embeddings.word_embeddings.weight
    assert after.shape == before.shape and not torch.equal(after, before)


def test_bpe_families_and_tokenizers_are_refused_before_touching_the_model(tiny_task, tiny_state, tmp_path):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    from tests.core.methods.families import family_state

    for family in ("roberta", "deberta"):
        why = applicability("prune.vocabulary", family)
        assert why and family in why and "BPE" in why
    assert applicability("prune.vocabulary", "bert") is None
    assert applicability("prune.vocabulary", "modernbert") is None  # decided by its tokenizer (below)
    roberta = family_state("roberta", tiny_task.tokenizer)
    with pytest.raises(FamilyRefusal, match="BPE"):
        apply_method("prune.vocabulary", roberta, method_context(tmp_path, tiny_task, roberta))
    bpe = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.BPE({"a": 0, "<unk>": 1}, [], unk_token="<unk>")),
                                  unk_token="<unk>")
    state = tiny_state.replace(tokenizer=bpe)
    with pytest.raises(FamilyRefusal, match=r"BERT model \(bert\): its tokenizer is BPE"):
        apply_method("prune.vocabulary", state, method_context(tmp_path, tiny_task, state))
    assert state.model.config.vocab_size == 30522


def test_unigram_vocabulary_is_rewritten(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from core.methods.pruning.vocab_remap import pruned_tokenizer

    pieces = [("<unk>", 0.0), ("<pad>", 0.0), ("\u2581the", -1.0), ("\u2581", -2.0), ("t", -3.0), ("h", -3.0),
              ("e", -3.0), ("\u2581film", -1.5), ("\u2581fil", -2.5), ("m", -3.0), ("\u2581dull", -1.0)]
    backend = Tokenizer(models.Unigram(pieces, unk_id=0, byte_fallback=False))
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>")
    kept = [0, 1, 2, 3, 7, 8, 9]
    new = pruned_tokenizer(tok, kept, tmp_path / "uni")
    assert new.convert_ids_to_tokens(list(range(len(kept)))) == [pieces[i][0] for i in kept]
    lookup = {old: n for n, old in enumerate(kept)}
    assert new("the film")["input_ids"] == [lookup[i] for i in tok("the film")["input_ids"]]
    assert new("dull")["input_ids"] == [lookup[3], new.unk_token_id]  # the word's piece is gone


def test_stacks_with_head_pruning_and_int8_and_the_cache_keeps_no_prefix_after_it(tmp_path, tiny_task):
    from core.engine import Engine
    from core.engine.cache import StepCache
    from core.export.api import export_model

    cache = StepCache(tmp_path / "cache")
    recipe = tiny_recipe(Step("prune.vocabulary", {"measure_accuracy": False}),
                         Step("prune.heads", {"amount": 0.5, "batches": 1, "batch_size": 8}),
                         Step("quant.dynamic_int8", {}))
    result = Engine(workdir_root=tmp_path / "runs", cache=cache).run(recipe, task=tiny_task)
    assert result.status == "finished", result.error
    assert result.results["parameters"] < result.results["baseline_parameters"]
    assert result.state.model.config.vocab_size == len(result.state.tokenizer) < 30522
    assert cache.entries() == []  # every prefix ends after the vocabulary step, whose re-tokenized data is not kept
    report = export_model(result.state, tmp_path / "int8", "hf", latency_repeats=1)
    assert report.verified and report.max_abs_diff == 0.0


# -- the baseline and the data stay what they were (issue 26, part 3) ----------------------------------------------
TINY_PARAMETERS = 999_138  # the tiny BERT as loaded and as fine-tuned: vocabulary pruning must not redefine it

FINETUNE = Step("finetune", {"max_steps": 2, "batch_size": 16, "eval_samples": 8})


def test_a_stack_is_measured_against_the_untouched_baseline(tmp_path, tiny_task):
    """fine-tune -> prune.vocabulary compares the result with the fine-tuned model as it was, not a pruned copy.

    The stack takes its fine-tuning from the step cache, so the baseline it restores is checked too.
    """
    from core.engine import Engine
    from core.engine.cache import REUSED_KEY, StepCache
    from core.models.architecture import serialized_size

    engine = Engine(workdir_root=tmp_path / "runs", cache=StepCache(tmp_path / "cache"))
    alone = engine.run(tiny_recipe(FINETUNE), task=tiny_task)  # the baseline measured on its own
    assert alone.status == "finished", alone.error
    steps = []
    engine.bus.subscribe(ev.StepFinished, steps.append)
    stacked = engine.run(tiny_recipe(FINETUNE, Step("prune.vocabulary", {})), task=tiny_task)
    assert stacked.status == "finished", stacked.error
    assert steps[0].summary.get(REUSED_KEY) == alone.run_id  # the fine-tuned baseline came from the cache
    assert steps[1].summary["data_change"]["vocabulary_after"] == stacked.state.model.config.vocab_size
    res, base = stacked.results, alone.results
    assert res["baseline_parameters"] == TINY_PARAMETERS == base["parameters"]
    assert res["baseline_size_bytes"] == base["size_bytes"]
    assert res["baseline_accuracy"] == base["accuracy"]  # the baseline read its own tokenizer and data
    assert res["parameters"] == count_parameters(stacked.state.model) < TINY_PARAMETERS
    assert res["size_bytes"] == serialized_size(stacked.state.model)
    assert res["parameter_ratio"] == pytest.approx(TINY_PARAMETERS / res["parameters"])
    assert res["size_ratio"] == pytest.approx(base["size_bytes"] / res["size_bytes"])
    # what changed is recorded too: the step's own before and after
    rows = stacked.state.model.config.vocab_size
    (change,) = res["data_changes"]
    assert change["step"] == 1 and change["method"] == "prune.vocabulary"
    assert change["vocabulary_before"] == 30522 and change["vocabulary_after"] == rows
    assert change["parameters_before"] == TINY_PARAMETERS and change["parameters_after"] == res["parameters"]
    assert 0.0 <= change["validation_accuracy_before"] <= 1.0 and 0.0 <= change["validation_accuracy_after"] <= 1.0


@pytest.mark.parametrize("after", [Step("distill.train", {"max_steps": 2, "batch_size": 16, "eval_samples": 8}),
                                   Step("finetune", {"max_steps": 2, "batch_size": 16, "eval_samples": 8})],
                         ids=["distill", "finetune"])
def test_steps_after_vocabulary_pruning_train_on_the_new_ids_and_keep_the_baseline(tmp_path, tiny_task, after):
    from core.engine import Engine

    recipe = tiny_recipe(FINETUNE, Step("prune.vocabulary", {"measure_accuracy": False}), after)
    result = Engine(workdir_root=tmp_path / "runs").run(recipe, task=tiny_task)
    assert result.status == "finished", result.error
    res = result.results
    assert res["baseline_parameters"] == TINY_PARAMETERS
    assert res["parameters"] == count_parameters(result.state.model) < TINY_PARAMETERS
    assert res["data_changes"][0]["vocabulary_after"] == result.state.model.config.vocab_size


def test_the_step_leaves_baseline_and_original_alone_and_gives_a_teacher_for_the_new_data(pruned, tiny_task):
    original, out, ctx = pruned
    assert ctx.original.model.config.vocab_size == 30522  # the reference the run measures against, as it was
    assert ctx.baseline_task is tiny_task and ctx.task is not tiny_task
    assert ctx.teacher.model.config.vocab_size == out.model.config.vocab_size < 30522
    for name in ("baseline", "original", "task", "teacher"):  # read-only to handlers
        with pytest.raises(AttributeError):
            setattr(ctx, name, out)


def test_modernbert_is_refused_by_its_tokenizer_not_its_family(tiny_task, tmp_path):
    """A ModernBERT folder with a WordPiece tokenizer is pruned; one with a BPE tokenizer is refused, saying BPE."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    from tests.core.methods.families import family_state

    modern = family_state("modernbert", tiny_task.tokenizer)  # the default data's WordPiece tokenizer
    out = apply_method("prune.vocabulary", modern, method_context(tmp_path / "wp", tiny_task, modern))
    assert out.model.config.vocab_size < 30522
    bpe = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.BPE({"a": 0, "<unk>": 1}, [], unk_token="<unk>")),
                                  unk_token="<unk>")
    state = family_state("modernbert", tiny_task.tokenizer).replace(tokenizer=bpe)
    with pytest.raises(FamilyRefusal, match=r"\(modernbert\): its tokenizer is BPE"):
        apply_method("prune.vocabulary", state, method_context(tmp_path / "bpe", tiny_task, state))
