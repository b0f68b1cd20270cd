"""DistilBERT: ``distilbert.transformer.layer[i]`` with ``attention.{q,k,v,out}_lin`` and ``ffn.lin1/lin2``.

The attention reshapes with ``-1`` heads of ``attention_head_size``, so the
head count follows the projection shapes; ``n_heads`` is kept in step. The
FFN width is ``config.hidden_dim`` (no ``intermediate_size``).
"""

from __future__ import annotations

from core.models.adapters.base import Adapter, AttentionLayout, FFNLayout


class DistilBertAdapter(Adapter):
    family = "distilbert"
    title = "DistilBERT"
    model_types = ("distilbert",)
    layers_path = "transformer.layer"
    attention = AttentionLayout(module="attention", query="attention.q_lin", key="attention.k_lin",
                                value="attention.v_lin", output="attention.out_lin")
    ffn = FFNLayout(input="ffn.lin1", output="ffn.lin2")
    norms = ("sa_layer_norm", "output_layer_norm")
    heads_attrs = ("n_heads",)
    ffn_config_attr = "hidden_dim"

    def after_keep_layers(self, model, indices):
        super().after_keep_layers(model, indices)
        self.base(model).transformer.n_layers = len(indices)
