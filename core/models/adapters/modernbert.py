"""ModernBERT: fused QKV, gated feed-forward, alternating local/global attention, rotary positions.

``model.layers[i]`` with ``attn.Wqkv`` (rows ``[query; key; value]``, each
heads x ``head_dim``), ``attn.Wo``, ``mlp.Wi`` (rows ``[input; gate]``, each
``intermediate_size``) and ``mlp.Wo``; ``attn_norm`` (an Identity in layer 0)
and ``mlp_norm``. The attention views the fused projection as ``(3, -1,
head_dim)``, so the head count follows the shapes, and rotary embeddings act
within a head, so removing whole heads leaves them valid. Each layer carries
its ``attention_type`` (sliding or full); ``config.layer_types`` is kept in
step when layers go. The eager and SDPA attention both infer the head count;
nothing else is needed for pruning.
"""

from __future__ import annotations

from core.models.adapters.base import BPE_VOCABULARY, Adapter, AttentionLayout, FFNLayout


class ModernBertAdapter(Adapter):
    family = "modernbert"
    title = "ModernBERT"
    model_types = ("modernbert",)
    layers_path = "layers"
    word_embeddings_attr = "tok_embeddings"
    attention = AttentionLayout(module="attn", qkv="attn.Wqkv", output="attn.Wo")
    ffn = FFNLayout(input="mlp.Wi", output="mlp.Wo", gated=True)
    norms = ("attn_norm", "mlp_norm")
    head_size_attr = "head_dim"
    heads_attrs = ()

    def config_for_depth(self, config, layers):
        super().config_for_depth(config, layers)
        every = int(getattr(config, "global_attn_every_n_layers", 3) or 3)
        config.layer_types = ["sliding_attention" if i % every else "full_attention" for i in range(int(layers))]

    def after_keep_layers(self, model, indices):
        super().after_keep_layers(model, indices)
        layers = self.layers(model)
        model.config.layer_types = [layer.attention_type for layer in layers]
