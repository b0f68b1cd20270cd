"""Tiny random models of every encoder family, built in code (no download), for the family tests.

Each uses the default tokenizer's vocabulary (30522 words), hidden width 32,
4 heads of 8 and an FFN of 64, so one batch of the default data runs through
any of them in milliseconds.
"""

from __future__ import annotations

import dataclasses

VOCAB = 30522
COMMON = dict(vocab_size=VOCAB, hidden_size=32, num_attention_heads=4, intermediate_size=64, num_hidden_layers=2,
              max_position_embeddings=128, pad_token_id=0)
# families whose models take no token_type_ids
NO_TOKEN_TYPES = frozenset({"distilbert", "modernbert"})


def _config(family: str):
    import transformers as tf

    if family == "bert":
        return tf.BertConfig(**COMMON)
    if family in ("roberta", "xlm-roberta", "camembert"):
        cls = {"roberta": tf.RobertaConfig, "xlm-roberta": tf.XLMRobertaConfig, "camembert": tf.CamembertConfig}[family]
        return cls(**{**COMMON, "max_position_embeddings": 130, "type_vocab_size": 1})
    if family == "electra":
        return tf.ElectraConfig(**COMMON, embedding_size=16)
    if family == "distilbert":
        return tf.DistilBertConfig(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                                   max_position_embeddings=128, pad_token_id=0)
    if family == "albert":
        return tf.AlbertConfig(**{**COMMON, "num_hidden_layers": 3}, embedding_size=16, num_hidden_groups=1,
                               inner_group_num=1)
    if family == "deberta":
        return tf.DebertaConfig(**COMMON, relative_attention=True, pos_att_type=["c2p", "p2c"], max_relative_positions=16)
    if family == "deberta-v2":
        # share_att_key False: the relative-position key/query projections are separate per-head rows too
        return tf.DebertaV2Config(**COMMON, relative_attention=True, pos_att_type=["c2p", "p2c"], position_buckets=16,
                                  max_relative_positions=64, share_att_key=False, position_biased_input=False)
    if family == "modernbert":
        # 3 layers: global attention in layer 0, local (sliding window) in 1 and 2
        return tf.ModernBertConfig(**{**COMMON, "num_hidden_layers": 3}, global_attn_every_n_layers=3,
                                   local_attention=8, cls_token_id=101, sep_token_id=102, bos_token_id=101,
                                   eos_token_id=102)
    if family == "mobilebert":
        return tf.MobileBertConfig(**{**COMMON, "hidden_size": 32, "intermediate_size": 32}, embedding_size=16,
                                   intra_bottleneck_size=16, true_hidden_size=16, num_feedforward_networks=2)
    raise KeyError(family)


FAMILIES = ("bert", "roberta", "xlm-roberta", "camembert", "electra", "distilbert", "albert", "deberta", "deberta-v2",
            "modernbert", "mobilebert")


def family_model(family: str, num_labels: int = 2, seed: int = 0):
    """A random ``...ForSequenceClassification`` of ``family`` in eval mode."""
    import torch
    from transformers import AutoModelForSequenceClassification

    config = _config(family)
    config.num_labels = num_labels
    torch.manual_seed(seed)
    return AutoModelForSequenceClassification.from_config(config).eval()


def family_state(family: str, tokenizer, seed: int = 0):
    from core.models.state import ModelState

    return ModelState(model=family_model(family, seed=seed), tokenizer=family_tokenizer(family, tokenizer),
                      source=f"tiny-{family}")


def family_tokenizer(family: str, tokenizer):
    """The default tokenizer, without token type ids for the families that take none."""
    import copy

    if family not in NO_TOKEN_TYPES:
        return tokenizer
    tok = copy.deepcopy(tokenizer)
    tok.model_input_names = ["input_ids", "attention_mask"]
    return tok


def family_task(family: str, task):
    """``task`` with its token type ids dropped where the family takes none."""
    if family not in NO_TOKEN_TYPES:
        return task
    splits = {name: getattr(task, name).remove_columns(["token_type_ids"]) for name in ("train", "validation", "test")
              if "token_type_ids" in getattr(task, name).column_names}
    return dataclasses.replace(task, tokenizer=family_tokenizer(family, task.tokenizer), **splits)


def one_batch(task, n: int = 8) -> dict:
    return next(iter(task.loader("validation", n)))
