"""ALBERT-style factorized word embeddings by truncated SVD."""

from __future__ import annotations

from dataclasses import dataclass

from core.methods.family import report_cut
from core.methods.factorization.modules import FactorizedEmbedding
from core.models.architecture import count_parameters
from core.registry import Refusal, register_method, setting


@dataclass
class EmbeddingFactorizeSettings:
    embedding_size: int = setting(128, "Inner size E: the vocab x hidden table becomes vocab x E and E x hidden",
                                  min=1, max=4096, label="Embedding size E")


def word_embeddings_owner(model):
    """``(module holding the word-embedding table, its attribute)``: ``bert.embeddings.word_embeddings``,
    ModernBERT's ``model.embeddings.tok_embeddings``..."""
    from core.models.adapters import adapter_for

    adapter = adapter_for(model)
    owner = adapter.embeddings(model)
    if not hasattr(owner, adapter.word_embeddings_attr):
        raise TypeError(f"the {adapter.title} embeddings hold no {adapter.word_embeddings_attr}")
    return owner, adapter.word_embeddings_attr


@register_method(
    "factorize.embeddings",
    family="factorization",
    title="Factorized embeddings (ALBERT)",
    description="Replace the vocab x hidden word-embedding table by a vocab x E table and an E x hidden "
    "projection, initialised from a truncated SVD. Most of a small BERT's parameters are embeddings.",
    config=EmbeddingFactorizeSettings,
    refuses=[Refusal("albert", "ALBERT's word embeddings are factorized already (embedding_size, then "
                               "embedding_hidden_mapping_in)"),
             Refusal("mobilebert", "MobileBERT's word embeddings are factorized already (embedding_size, then "
                                   "embedding_transformation)")],
    phrase=lambda s: f"embeddings {s.embedding_size}",
)
def factorize_embeddings(state, cfg: EmbeddingFactorizeSettings, ctx):
    owner, attr = word_embeddings_owner(state.model)
    table = getattr(owner, attr)
    if isinstance(table, FactorizedEmbedding):
        raise ValueError("the word embeddings are factorized already")
    vocab, hidden = table.weight.shape
    e = min(cfg.embedding_size, hidden)
    if e * (vocab + hidden) >= vocab * hidden:
        ctx.log(f"embedding size {cfg.embedding_size} saves nothing for a {vocab} x {hidden} table; unchanged",
                "warning")
        return state
    before = count_parameters(state.model)
    ctx.progress(0, 1, "truncated SVD of the embedding table", force=True)
    setattr(owner, attr, FactorizedEmbedding.from_embedding(table, e))
    new = state.replace()
    masks = new.masks
    if masks:  # an unstructured mask of the old table cannot carry over to the factors
        name = next((n for n in masks if n.endswith(f"embeddings.{attr}.weight")), None)
        if name:
            new.masks = {k: v for k, v in masks.items() if k != name}
            ctx.log("dropped the pruning mask of the word embeddings (now factorized)", "warning")
    report_cut(ctx, state.model, before, "factorized embeddings", f"{vocab} x {hidden} -> {vocab} x {e} + {e} x {hidden}")
    ctx.progress(1, 1, "embeddings factorized", force=True)
    return new
