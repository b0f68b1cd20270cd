"""ALBERT-style factorized word embeddings by truncated SVD."""

from __future__ import annotations

from dataclasses import dataclass

from core.methods.factorization.modules import FactorizedEmbedding
from core.methods.pruning.masks import MASKS_KEY
from core.models.architecture import count_parameters
from core.registry import register_method, setting


@dataclass
class EmbeddingFactorizeSettings:
    embedding_size: int = setting(128, "Inner size E: the vocab x hidden table becomes vocab x E and E x hidden",
                                  min=1, max=4096, label="Embedding size E")


def word_embeddings_owner(model):
    """The module that holds ``word_embeddings`` (``bert.embeddings``)."""
    base = getattr(model, getattr(model, "base_model_prefix", "bert"), model)
    owner = getattr(base, "embeddings", None)
    if owner is None or not hasattr(owner, "word_embeddings"):
        raise TypeError("this method needs BERT-style embeddings (model.bert.embeddings.word_embeddings)")
    return owner


@register_method(
    "factorize.embeddings",
    family="factorization",
    title="Factorized embeddings (ALBERT)",
    description="Replace the vocab x hidden word-embedding table by a vocab x E table and an E x hidden "
    "projection, initialised from a truncated SVD. Most of a small BERT's parameters are embeddings.",
    config=EmbeddingFactorizeSettings,
)
def factorize_embeddings(state, cfg: EmbeddingFactorizeSettings, ctx):
    owner = word_embeddings_owner(state.model)
    table = owner.word_embeddings
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
    owner.word_embeddings = FactorizedEmbedding.from_embedding(table, e)
    new = state.replace()
    masks = new.extras.get(MASKS_KEY)
    if masks:  # an unstructured mask of the old table cannot carry over to the factors
        name = next((n for n in masks if n.endswith("embeddings.word_embeddings.weight")), None)
        if name:
            new.extras[MASKS_KEY] = {k: v for k, v in masks.items() if k != name}
            ctx.log("dropped the pruning mask of the word embeddings (now factorized)", "warning")
    after = count_parameters(state.model)
    ctx.metric("model/parameters", after)
    ctx.log(f"factorized embeddings {vocab} x {hidden} -> {vocab} x {e} + {e} x {hidden}: "
            f"{before - after:,} parameters fewer")
    ctx.progress(1, 1, "embeddings factorized", force=True)
    return new
