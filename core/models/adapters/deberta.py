"""DeBERTa-v2/v3 (relative-position, disentangled attention) and DeBERTa v1.

v2/v3: ``deberta.encoder.layer[i].attention.self.{query,key,value}_proj`` and,
unless ``share_att_key``, ``pos_key_proj`` / ``pos_query_proj`` that project
the relative-position embeddings per head: removing a head removes its rows
there too. The attention reshapes with ``self.num_attention_heads``, so that
attribute must follow the shapes (``set_heads``). No other attention
implementation is needed: DeBERTa computes its own (eager) attention.

v1 (``deberta``) fuses query/key/value per head in one ``in_proj`` with
separate ``q_bias`` / ``v_bias`` (and optional talking-head mixing across
heads): head removal is refused; the FFN and layers are BERT-shaped.
"""

from __future__ import annotations

from core.models.adapters.base import Adapter, AttentionLayout, out_features


class DebertaV2Adapter(Adapter):
    family = "deberta-v2"
    title = "DeBERTa-v2/v3"
    model_types = ("deberta-v2",)
    attention = AttentionLayout(module="attention.self", query="attention.self.query_proj",
                                key="attention.self.key_proj", value="attention.self.value_proj",
                                output="attention.output.dense",
                                extra=("attention.self.pos_key_proj", "attention.self.pos_query_proj"))


FUSED_HEADS = ("DeBERTa (v1) fuses query, key and value of each head in one in_proj with separate q_bias/v_bias "
             "and may mix heads (talking heads); removing heads is not implemented for it (DeBERTa-v2/v3 is)")


class DebertaAdapter(Adapter):
    family = "deberta"
    title = "DeBERTa (v1)"
    model_types = ("deberta",)
    attention = AttentionLayout(module="attention.self", output="attention.output.dense")

    def heads(self, layer):
        return out_features(layer.get_submodule("attention.self.in_proj")) // (3 * self.head_size(layer))

    def keep_heads(self, model, keep, masks=None):
        layers = self.layers(model)
        if any(len(set(h)) != self.heads(layers[i]) for i, h in keep.items()):
            self.refuse("prune.heads", FUSED_HEADS)
        return None if masks is None else dict(masks)

    def linear_paths(self, targets):
        attention = ("attention.self.in_proj", "attention.output.dense")
        ffn = (self.ffn.input, self.ffn.output)
        return (attention if targets in ("attention", "both") else ()) + (ffn if targets in ("ffn", "both") else ())
