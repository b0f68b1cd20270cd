"""The pieces of vocabulary pruning: which tokenizers can be rewritten, the rewrite, the sliced tables.

A kept set of original ids, ascending, defines the new vocabulary: new id ``n``
is original id ``kept[n]``. The fast tokenizer's ``tokenizer.json`` is rewritten
so its model vocabulary holds only kept tokens under their new ids, and every
place that names a special token's id (added tokens, the post-processor, the
padding) follows. For WordPiece (greedy longest match) and Unigram (best
segmentation) a text whose original pieces are all kept is split exactly as
before, because every choice the tokenizer made is still there and every
longer or better one it could have made was never in the vocabulary; a word
that needed a removed piece is split with what is left, or becomes the unknown
token.
"""

from __future__ import annotations

import json
from itertools import chain
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import torch
import torch.nn as nn

# Tokenizer models whose vocabulary can lose entries without breaking the rest of the model file.
REWRITABLE = ("WordPiece", "Unigram")
WHY_NOT = {
    "BPE": "a BPE vocabulary is built by its merge rules, and dropping a token breaks every merge that passes "
           "through it",
    "WordLevel": "a word-level vocabulary is not supported",
}


@dataclass(frozen=True)
class VocabularyMap:
    """What a vocabulary pruning step did: ``kept[n]`` is the original id of new id ``n``.

    Held in ``state.extras`` as an object on purpose: the step cache keeps only
    plain extras, and a prefix ending after this step could not be resumed
    faithfully (the run's data would come back tokenized with the old vocabulary).
    """

    kept: tuple[int, ...]
    original_size: int
    unk_id: int  # the new id of the unknown token

    def lookup(self) -> list[int]:
        """New id for every original id; removed ones map to the unknown token."""
        table = [self.unk_id] * self.original_size
        for new, old in enumerate(self.kept):
            table[old] = new
        return table


def tokenizer_model(tokenizer) -> dict[str, Any] | None:
    """The fast tokenizer's JSON (``tokenizer.json``) as data, or None for a tokenizer without one."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    return json.loads(backend.to_str())


def tokenizer_kind(tokenizer) -> str:
    """``WordPiece``, ``Unigram``, ``BPE``...: the model type in the tokenizer's JSON, or a description."""
    data = tokenizer_model(tokenizer)
    if data is None:
        return f"a slow {type(tokenizer).__name__} without a tokenizer.json"
    return str(data.get("model", {}).get("type", "unknown"))


def refusal(tokenizer) -> str | None:
    """Why this tokenizer's vocabulary cannot be pruned (None when it can)."""
    kind = tokenizer_kind(tokenizer)
    if kind in REWRITABLE:
        data = tokenizer_model(tokenizer)
        if kind == "Unigram" and data["model"].get("byte_fallback"):
            return "a Unigram tokenizer with byte fallback is not supported"
        return None
    return f"its tokenizer is {kind}: " + WHY_NOT.get(kind, f"only {' and '.join(REWRITABLE)} vocabularies are "
                                                          "rewritten")


def vocabulary_tokens(tokenizer) -> list[str]:
    """The model vocabulary's tokens by id (added tokens beyond it included)."""
    data = tokenizer_model(tokenizer)
    model = data["model"]
    if model["type"] == "WordPiece":
        by_id = {i: t for t, i in model["vocab"].items()}
    else:  # Unigram: a list of [piece, score]
        by_id = {i: piece for i, (piece, _) in enumerate(model["vocab"])}
    for added in data.get("added_tokens", ()):
        by_id.setdefault(int(added["id"]), added["content"])
    return [by_id.get(i, "") for i in range(max(by_id) + 1)]


def protected_ids(tokenizer) -> set[int]:
    """Ids that every pruned vocabulary keeps: special and added tokens."""
    data = tokenizer_model(tokenizer) or {}
    ids = {int(a["id"]) for a in data.get("added_tokens", ())}
    ids |= {int(i) for i in getattr(tokenizer, "all_special_ids", ()) if i is not None}
    return ids


def _remap_ids(node: Any, new: dict[int, int]) -> Any:
    """Rewrite special-token ids in a post-processor (TemplateProcessing, BertProcessing, RobertaProcessing, Sequence)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "ids" and isinstance(value, list):
                out[key] = [new[int(i)] for i in value]
            elif key in ("sep", "cls") and isinstance(value, list) and len(value) == 2 and isinstance(value[1], int):
                out[key] = [value[0], new[value[1]]]
            else:
                out[key] = _remap_ids(value, new)
        return out
    if isinstance(node, list):
        return [_remap_ids(v, new) for v in node]
    return node


def rewrite_tokenizer_json(data: dict[str, Any], kept: list[int]) -> dict[str, Any]:
    """``tokenizer.json`` data whose vocabulary is ``kept`` (original ids, ascending) under new ids 0..n-1."""
    new = {old: n for n, old in enumerate(kept)}
    data = json.loads(json.dumps(data))
    model = data["model"]
    if model["type"] == "WordPiece":
        by_id = {i: t for t, i in model["vocab"].items()}
        model["vocab"] = {by_id[old]: n for n, old in enumerate(kept) if old in by_id}
        if len(model["vocab"]) != len(kept):
            raise ValueError("some kept ids are not in the WordPiece vocabulary")
    elif model["type"] == "Unigram":
        pieces = model["vocab"]
        model["vocab"] = [pieces[old] for old in kept]
        if model.get("unk_id") is not None:
            model["unk_id"] = new[int(model["unk_id"])]
    else:
        raise ValueError(f"cannot rewrite a {model['type']} vocabulary")
    for added in data.get("added_tokens", ()):
        added["id"] = new[int(added["id"])]
    if data.get("post_processor"):
        data["post_processor"] = _remap_ids(data["post_processor"], new)
    if data.get("padding") and data["padding"].get("pad_id") is not None:
        data["padding"]["pad_id"] = new[int(data["padding"]["pad_id"])]
    return data


def pruned_tokenizer(tokenizer, kept: list[int], folder: Path):
    """A tokenizer like ``tokenizer`` whose vocabulary is ``kept``, saved in ``folder`` and loaded back from it.

    Loading it the way an exported folder is loaded (``AutoTokenizer``) proves the
    files stand on their own; the vocabulary read back is checked token by token.
    """
    from transformers import AutoTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(folder))
    for stale in ("vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model"):
        (folder / stale).unlink(missing_ok=True)  # the rewritten tokenizer.json is the only vocabulary
    data = rewrite_tokenizer_json(tokenizer_model(tokenizer), kept)
    (folder / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    loaded = AutoTokenizer.from_pretrained(str(folder))
    loaded.model_input_names = list(tokenizer.model_input_names)  # families without token types drop them
    before, after = vocabulary_tokens(tokenizer), vocabulary_tokens(loaded)
    if len(loaded) != len(kept) or after != [before[i] for i in kept]:
        raise ValueError(f"the pruned tokenizer reloaded with {len(loaded)} tokens, not the {len(kept)} kept")
    return loaded


# -- the model's side ------------------------------------------------------------------

def word_embedding_table(module: nn.Module) -> nn.Embedding:
    """The ``vocab x d`` lookup of a word-embedding module (plain, or factorized with ``.embed``)."""
    if isinstance(module, nn.Embedding):
        return module
    inner = getattr(module, "embed", None)
    if isinstance(inner, nn.Embedding) and hasattr(module, "project"):
        return inner
    raise TypeError(f"the word embeddings are a {type(module).__name__}, which vocabulary pruning cannot slice "
                    "(prune the vocabulary before quantizing the embeddings)")


def sliced_embedding(table: nn.Embedding, kept: torch.Tensor, pad_new: int | None) -> nn.Embedding:
    out = nn.Embedding(len(kept), table.embedding_dim, padding_idx=pad_new, device=table.weight.device,
                       dtype=table.weight.dtype)
    with torch.no_grad():
        out.weight.copy_(table.weight[kept.to(table.weight.device)])
    out.weight.requires_grad_(table.weight.requires_grad)
    out.train(table.training)
    return out


CONFIG_TOKEN_IDS = ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id",
                    "mask_token_id", "unk_token_id")


def config_token_ids(config) -> dict[str, int]:
    out = {}
    for name in CONFIG_TOKEN_IDS:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            out[name] = value
    return out


def shrink_vocabulary(model: nn.Module, owner: nn.Module, attr: str, kept: list[int]) -> None:
    """Keep only rows ``kept`` of the word embeddings (and of a tied or untied LM head), in place; config follows."""
    new = {old: n for n, old in enumerate(kept)}
    index = torch.tensor(kept, dtype=torch.long)
    module = getattr(owner, attr)
    table = word_embedding_table(module)
    pad = table.padding_idx
    pad_new = new.get(pad) if pad is not None else None
    replacement = sliced_embedding(table, index, pad_new)
    if module is table:
        setattr(owner, attr, replacement)
    else:
        module.embed = replacement
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is not None and getattr(head, "weight", None) is not None and head.weight.shape[0] != len(kept):
        linear = nn.Linear(head.in_features, len(kept), bias=head.bias is not None, device=head.weight.device,
                           dtype=head.weight.dtype)
        with torch.no_grad():
            linear.weight.copy_(head.weight[index.to(head.weight.device)])
            if head.bias is not None:
                linear.bias.copy_(head.bias[index.to(head.bias.device)])
        model.set_output_embeddings(linear)
        if getattr(model.config, "tie_word_embeddings", False) and module is table:
            model.tie_weights()
    config = model.config
    config.vocab_size = len(kept)
    for name, value in config_token_ids(config).items():
        if value in new:
            setattr(config, name, new[value])


def slice_mask_rows(masks: dict | None, attr: str, kept: list[int], rows: int) -> dict | None:
    """Unstructured masks of the ``rows``-row word-embedding table (``...<attr>...weight``) cut to the kept rows."""
    if not masks:
        return masks
    index = torch.tensor(kept, dtype=torch.long)
    return {k: v[index.to(v.device)] if f".{attr}." in f".{k}" and v.dim() == 2 and v.shape[0] == rows else v
            for k, v in masks.items()}


def counts(rows: Iterable[list[int]], size: int) -> list[int]:
    """How often each id below ``size`` occurs in ``rows``."""
    flat = torch.tensor(list(chain.from_iterable(rows)), dtype=torch.long)
    return torch.bincount(flat[flat < size], minlength=size).tolist()
