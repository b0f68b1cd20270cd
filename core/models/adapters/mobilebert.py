"""MobileBERT: BERT-shaped attention inside bottlenecks, several stacked FFNs per layer.

``mobilebert.encoder.layer[i]`` has ``attention.self.{query,key,value}`` (on
the bottleneck width ``true_hidden_size``), ``attention.output.dense``, the
main ``intermediate.dense`` / ``output.dense`` plus ``ffn[k]`` (the other
``num_feedforward_networks - 1`` FFNs) and the input/output bottlenecks.
Heads and whole layers can go; narrowing the FFN stack or factorizing its
already-narrow linears is refused.
"""

from __future__ import annotations

from core.models.adapters.base import Adapter


class MobileBertAdapter(Adapter):
    family = "mobilebert"
    title = "MobileBERT"
    model_types = ("mobilebert",)
    norms = ("attention.output.LayerNorm", "output.LayerNorm")

    def config_head_size(self, config):
        return int(config.true_hidden_size) // int(config.num_attention_heads)  # heads live in the bottleneck
