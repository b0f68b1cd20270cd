"""ALBERT: a few layers whose weights are used at every depth.

``albert.encoder.albert_layer_groups[g].albert_layers[j]`` holds the weights
(usually one group of one layer); ``config.num_hidden_layers`` says how many
times the input passes through them. A structural change (fewer heads, a
narrower FFN) therefore applies to the shared layer, so to every depth that
uses it; removing a depth saves no weights and is refused.
"""

from __future__ import annotations

from core.models.adapters.base import Adapter, AttentionLayout, FFNLayout, FamilyRefusal

SHARED_LAYERS = ("ALBERT uses one set of layer weights at every depth, so removing or skipping a layer saves no "
           "parameters and the layer list is not positional")


class AlbertAdapter(Adapter):
    family = "albert"
    title = "ALBERT"
    model_types = ("albert",)
    shares_layers = True
    attention = AttentionLayout(module="attention", query="attention.query", key="attention.key",
                                value="attention.value", output="attention.dense")
    ffn = FFNLayout(input="ffn", output="ffn_output")
    norms = ("attention.LayerNorm", "full_layer_layer_norm")

    def layers(self, model):
        groups = self.base(model).encoder.albert_layer_groups
        return [layer for group in groups for layer in group.albert_layers]

    def layer_names(self, model):
        prefix = ".".join(p for p in (self.base_prefix(model), "encoder.albert_layer_groups") if p)
        groups = self.base(model).encoder.albert_layer_groups
        return [f"{prefix}.{g}.albert_layers.{j}" for g, group in enumerate(groups) for j in range(len(group.albert_layers))]

    def module_list(self, model):
        raise FamilyRefusal(f"a {self.title} model has no positional layer list: {SHARED_LAYERS}")

    def layer_list_name(self, model):
        raise FamilyRefusal(f"a {self.title} model has no positional layer list: {SHARED_LAYERS}")

    def set_layers(self, model, layers):
        raise FamilyRefusal(f"cannot replace the layers of a {self.title} model: {SHARED_LAYERS}")

    def keep_layers(self, model, indices, masks=None):
        raise FamilyRefusal(f"cannot remove layers of a {self.title} model: {SHARED_LAYERS}")

    def depth(self, model):
        return int(model.config.num_hidden_layers)

    def sharing_note(self, model):
        n = len(self.layers(model))
        return (f"ALBERT shares weights: {'this layer is' if n == 1 else f'these {n} layers are'} used at all "
                f"{self.depth(model)} depths, so the change applies to the whole shared group")
