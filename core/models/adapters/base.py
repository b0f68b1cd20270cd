"""The adapter protocol: where one encoder family keeps its parts, and how to shrink them.

Methods never reach into ``model.bert.encoder.layer``; they ask the model's
adapter (:func:`core.models.adapters.adapter_for`) for the embeddings, the
layer list, each layer's attention projections (separate query/key/value or
one fused QKV), attention output, feed-forward input/output (plain or gated)
and norms, as attribute paths relative to a layer, and call its
``keep_heads`` / ``keep_ffn`` / ``keep_layers`` to rebuild layers with fewer
heads, a narrower feed-forward, or fewer layers. Every path is read off the
installed ``transformers`` 5 modeling code of the family.

Masks (``state.masks``, keyed by parameter name) are sliced with the
weights they belong to, so a pruned zero stays pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import torch
import torch.nn as nn

from core.errors import StudioError

Masks = dict[str, torch.Tensor]

# Why the families whose published tokenizers are byte-level BPE refuse vocabulary pruning (prune.vocabulary's spec).
BPE_VOCABULARY = ("its tokenizer is byte-level BPE, whose vocabulary is built by merge rules: dropping a token "
                  "breaks every merge that passes through it (vocabulary pruning rewrites WordPiece and Unigram "
                  "vocabularies)")


class FamilyRefusal(StudioError, TypeError):
    """A method that cannot apply to this encoder family (or model state); the message names both and why."""


@dataclass(frozen=True)
class AttentionLayout:
    """Attribute paths, relative to one encoder layer, of its self-attention parts."""

    module: str  # the module holding the head bookkeeping (attention_head_size, num_attention_heads...)
    query: str | None = None
    key: str | None = None
    value: str | None = None
    qkv: str | None = None  # one fused linear: rows are [query; key; value], each heads x head_size
    output: str = ""  # the projection after the heads are concatenated (its inputs are per-head)
    extra: tuple[str, ...] = ()  # more per-head row projections (DeBERTa's relative-position ones)

    def row_projections(self) -> tuple[str, ...]:
        return tuple(p for p in (self.query, self.key, self.value) if p) + self.extra


@dataclass(frozen=True)
class FFNLayout:
    """Attribute paths, relative to one encoder layer, of its feed-forward block."""

    input: str  # hidden -> intermediate (for a gated FFN: hidden -> [input; gate], twice the width)
    output: str  # intermediate -> hidden; its input is the activation, gate applied
    gated: bool = False


def out_features(linear: nn.Module) -> int:
    if hasattr(linear, "out_features"):
        return int(linear.out_features)
    weight = linear.weight() if callable(getattr(linear, "weight", None)) else linear.weight
    return int(weight.shape[0])


class Adapter:
    """Base adapter: a BERT-shaped encoder with a positional layer list. Families override what differs."""

    family = "bert"
    title = "BERT"
    model_types: tuple[str, ...] = ()
    layers_path = "encoder.layer"  # relative to the base model
    embeddings_path = "embeddings"
    word_embeddings_attr = "word_embeddings"
    attention = AttentionLayout(module="attention.self", query="attention.self.query", key="attention.self.key",
                                value="attention.self.value", output="attention.output.dense")
    ffn = FFNLayout(input="intermediate.dense", output="output.dense")
    norms: tuple[str, ...] = ("attention.output.LayerNorm", "output.LayerNorm")
    head_size_attr = "attention_head_size"
    heads_attrs: tuple[str, ...] = ("num_attention_heads",)
    ffn_config_attr = "intermediate_size"
    shares_layers = False  # ALBERT: one set of layer weights used at every depth

    # -- where things are -------------------------------------------------
    def base(self, model: nn.Module) -> nn.Module:
        prefix = getattr(model, "base_model_prefix", "")
        return getattr(model, prefix, model) if prefix else model

    def base_prefix(self, model: nn.Module) -> str:
        prefix = getattr(model, "base_model_prefix", "")
        return prefix if prefix and hasattr(model, prefix) else ""

    def embeddings(self, model: nn.Module) -> nn.Module:
        return self.base(model).get_submodule(self.embeddings_path)

    def layers(self, model: nn.Module) -> list[nn.Module]:
        """The layer modules that hold weights, one per position (ALBERT: one per shared layer)."""
        return list(self.module_list(model))

    def module_list(self, model: nn.Module) -> nn.ModuleList:
        """The positional ``nn.ModuleList`` of layers itself (item assignment shares a layer between positions)."""
        return self.base(model).get_submodule(self.layers_path)

    def config_for_depth(self, config, layers: int) -> None:
        """Make a (copied) config describe ``layers`` encoder layers, for a fresh smaller student."""
        config.num_hidden_layers = int(layers)

    def layer_names(self, model: nn.Module) -> list[str]:
        """Qualified name of each entry of :meth:`layers` (as parameters and masks are keyed)."""
        head = ".".join(p for p in (self.base_prefix(model), self.layers_path) if p)
        return [f"{head}.{i}" for i in range(len(self.layers(model)))]

    def layer_list_name(self, model: nn.Module) -> str:
        return ".".join(p for p in (self.base_prefix(model), self.layers_path) if p)

    def set_layers(self, model: nn.Module, layers: Iterable[nn.Module]) -> None:
        """Put ``layers`` in place of the layer list (LayerDrop swaps it for a step; pruning keeps it)."""
        owner_path, _, attr = self.layers_path.rpartition(".")
        owner = self.base(model).get_submodule(owner_path) if owner_path else self.base(model)
        setattr(owner, attr, nn.ModuleList(list(layers)))

    def depth(self, model: nn.Module) -> int:
        """Layers the input passes through (ALBERT: more than it has weights for)."""
        return len(self.layers(model))

    # -- attention ---------------------------------------------------------
    def attention_module(self, layer: nn.Module) -> nn.Module:
        return layer.get_submodule(self.attention.module)

    def head_size(self, layer: nn.Module) -> int:
        return int(getattr(self.attention_module(layer), self.head_size_attr))

    def heads(self, layer: nn.Module) -> int:
        att = self.attention
        if att.qkv:
            return out_features(layer.get_submodule(att.qkv)) // (3 * self.head_size(layer))
        return out_features(layer.get_submodule(att.query)) // self.head_size(layer)

    def set_heads(self, layer: nn.Module, heads: int, head_size: int | None = None) -> None:
        """Make the attention's own bookkeeping agree with ``heads`` (the forward reads some of it)."""
        module = self.attention_module(layer)
        size = int(head_size or self.head_size(layer))
        setattr(module, self.head_size_attr, size)
        for attr in self.heads_attrs:
            if hasattr(module, attr):
                setattr(module, attr, int(heads))
        if hasattr(module, "all_head_size"):
            module.all_head_size = int(heads) * size
        if hasattr(module, "scaling"):
            module.scaling = size ** -0.5

    def config_head_size(self, config) -> int:
        """The head size a plain config builds (to tell whether a model still matches its config)."""
        return int(config.hidden_size) // int(config.num_attention_heads)

    def attention_output(self, layer: nn.Module) -> nn.Module:
        return layer.get_submodule(self.attention.output)

    # -- feed-forward ------------------------------------------------------
    def ffn_input(self, layer: nn.Module) -> nn.Module:
        return layer.get_submodule(self.ffn.input)

    def ffn_output(self, layer: nn.Module) -> nn.Module:
        return layer.get_submodule(self.ffn.output)

    def ffn_width(self, layer: nn.Module) -> int:
        width = out_features(self.ffn_input(layer))
        return width // 2 if self.ffn.gated else width

    def linear_paths(self, targets: str) -> tuple[str, ...]:
        """Paths (relative to a layer) of the linears a method may replace: ``attention``, ``ffn`` or ``both``."""
        att = self.attention
        attention = (att.qkv,) if att.qkv else (att.query, att.key, att.value)
        attention = tuple(p for p in attention if p) + (att.output,)
        ffn = (self.ffn.input, self.ffn.output)
        return (attention if targets in ("attention", "both") else ()) + (ffn if targets in ("ffn", "both") else ())

    # -- refusals ----------------------------------------------------------
    def refuse(self, method: str, reason: str) -> None:
        """Raise the refusal a method's spec declares for this family, where the surgery itself meets it."""
        raise FamilyRefusal(f"{method} cannot apply to a {self.title} model ({self.family}): {reason}")

    def sharing_note(self, model: nn.Module) -> str:
        """Said in a step's log when a structural change applies to weights used at several depths."""
        return ""

    # -- surgery -----------------------------------------------------------
    def keep_heads(self, model: nn.Module, keep: Mapping[int, Iterable[int]], masks: Masks | None = None) -> Masks | None:
        from core.models.adapters.slicing import replace_linear

        masks = None if masks is None else dict(masks)
        layers, names = self.layers(model), self.layer_names(model)
        att = self.attention
        for i, heads in keep.items():
            layer = layers[i]
            size, total = self.head_size(layer), self.heads(layer)
            heads = sorted({int(h) for h in heads})
            if not heads:
                raise ValueError(f"layer {i}: at least one attention head must stay")
            if heads[0] < 0 or heads[-1] >= total:
                raise ValueError(f"layer {i} has {total} heads; cannot keep {heads}")
            if len(heads) == total:
                continue
            index = torch.cat([torch.arange(h * size, (h + 1) * size) for h in heads])
            if att.qkv:
                width = total * size
                replace_linear(layer, att.qkv, torch.cat([index, index + width, index + 2 * width]), 0, names[i], masks)
            for path in att.row_projections():
                if _has(layer, path):
                    replace_linear(layer, path, index, 0, names[i], masks)
            replace_linear(layer, att.output, index, 1, names[i], masks)
            self.set_heads(layer, len(heads), size)
        return masks

    def keep_ffn(self, model: nn.Module, keep: Mapping[int, Iterable[int]], masks: Masks | None = None) -> Masks | None:
        from core.models.adapters.slicing import replace_linear

        masks = None if masks is None else dict(masks)
        layers, names = self.layers(model), self.layer_names(model)
        for i, neurons in keep.items():
            layer = layers[i]
            width = self.ffn_width(layer)
            neurons = sorted({int(n) for n in neurons})
            if not neurons:
                raise ValueError(f"layer {i}: at least one FFN neuron must stay")
            if neurons[0] < 0 or neurons[-1] >= width:
                raise ValueError(f"layer {i} has {width} FFN neurons; cannot keep index {neurons[-1]}")
            if len(neurons) == width:
                continue
            index = torch.tensor(neurons, dtype=torch.long)
            rows = torch.cat([index, index + width]) if self.ffn.gated else index
            replace_linear(layer, self.ffn.input, rows, 0, names[i], masks)
            replace_linear(layer, self.ffn.output, index, 1, names[i], masks)
        widths = {self.ffn_width(layer) for layer in layers}
        config = getattr(model, "config", None)
        if config is not None and len(widths) == 1:
            setattr(config, self.ffn_config_attr, widths.pop())
        return masks

    def keep_layers(self, model: nn.Module, indices: Iterable[int], masks: Masks | None = None) -> Masks | None:
        """Keep the listed layers (in their original order); masks of kept layers follow them."""
        layers = self.layers(model)
        n = len(layers)
        indices = sorted({int(i) for i in indices})
        if not indices:
            raise ValueError("at least one layer must stay")
        if indices[0] < 0 or indices[-1] >= n:
            raise ValueError(f"the encoder has {n} layers (0..{n - 1}); cannot keep {indices}")
        new_masks = None if masks is None else rename_layer_masks(masks, self.layer_list_name(model), indices)
        self.set_layers(model, [layers[i] for i in indices])
        self.after_keep_layers(model, indices)
        return new_masks

    def after_keep_layers(self, model: nn.Module, indices: list[int]) -> None:
        """Renumber what the layers and config say of their position once ``indices`` stayed."""
        for new, layer in enumerate(self.layers(model)):
            for module in layer.modules():
                if hasattr(module, "layer_idx"):
                    module.layer_idx = new
        config = getattr(model, "config", None)
        if config is not None:
            config.num_hidden_layers = len(indices)

    def apply_layer_shapes(self, model: nn.Module, shapes: list[dict[str, int]]) -> None:
        """Shrink a freshly built model to recorded :func:`layer_shapes` so a pruned state dict loads into it."""
        layers = self.layers(model)
        if len(shapes) != len(layers):
            raise ValueError(f"{len(shapes)} recorded layer shapes for a {len(layers)}-layer model")
        self.keep_heads(model, {i: range(s["heads"]) for i, s in enumerate(shapes)})
        self.keep_ffn(model, {i: range(s["ffn"]) for i, s in enumerate(shapes)})

    def set_recorded_heads(self, model: nn.Module, shapes: list[dict[str, int]]) -> None:
        """After a reload whose linears already have their recorded shapes: set each attention's head bookkeeping."""
        layers = self.layers(model)
        if len(shapes) != len(layers):
            raise ValueError(f"the manifest describes {len(shapes)} layers but the configuration builds {len(layers)}")
        for layer, shape in zip(layers, shapes):
            self.set_heads(layer, int(shape["heads"]), int(shape["head_size"]))

    def layer_shapes(self, model: nn.Module) -> list[dict[str, int]]:
        return [{"heads": self.heads(layer), "head_size": self.head_size(layer), "ffn": self.ffn_width(layer)}
                for layer in self.layers(model)]


def _has(layer: nn.Module, path: str) -> bool:
    try:
        layer.get_submodule(path)
        return True
    except AttributeError:
        return False


def rename_layer_masks(masks: Masks, list_name: str, indices: list[int]) -> Masks:
    """Masks of layers ``indices`` renamed to their new positions; those of other layers dropped."""
    out: Masks = {}
    old_to_new = {old: new for new, old in enumerate(indices)}
    prefix = f"{list_name}."
    for name, mask in masks.items():
        if not name.startswith(prefix):
            out[name] = mask
            continue
        old, rest = name[len(prefix):].split(".", 1)
        if int(old) in old_to_new:
            out[f"{prefix}{old_to_new[int(old)]}.{rest}"] = mask
    return out
