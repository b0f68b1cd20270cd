"""The exact architecture of a compressed model, as a JSON manifest, and its rebuild.

A compressed model is described as the difference between itself and the
plain model its ``config.json`` builds: every module whose type or shape
differs is one entry (a registered custom module with its ``module_spec()``, a
resized ``nn.Linear``, a dynamically quantized linear, an allow-listed torch
built-in). Per-layer head counts and parameters shared between modules are
recorded beside them. Rebuilding replays the entries on a fresh skeleton, so
describing a model at save time is a dry run of the loader: what cannot be
described fails there, before anything is written.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import torch
import torch.nn as nn

from core.errors import ExportError
from core.models import custom

MANIFEST_FORMAT = "bert-studio-model"
MANIFEST_VERSION = 1
WEIGHTS_FILE = "model.safetensors"

# torch built-ins a method may put in place of a standard module, and how to
# describe/rebuild them; nothing outside this table and the custom registry is rebuilt.
_BUILTINS: dict[str, tuple[type[nn.Module], Callable[[nn.Module], dict], Callable[[dict], nn.Module]]] = {
    "Identity": (nn.Identity, lambda m: {}, lambda s: nn.Identity()),
    "Dropout": (nn.Dropout, lambda m: {"p": m.p}, lambda s: nn.Dropout(float(s["p"]))),
    "LayerNorm": (
        nn.LayerNorm,
        lambda m: {"shape": list(m.normalized_shape), "eps": m.eps, "affine": m.elementwise_affine,
                   "bias": m.bias is not None},
        lambda s: nn.LayerNorm(s["shape"], eps=float(s["eps"]), elementwise_affine=bool(s["affine"]),
                               bias=bool(s.get("bias", True))),
    ),
    "Embedding": (
        nn.Embedding,
        lambda m: {"num": m.num_embeddings, "dim": m.embedding_dim, "padding_idx": m.padding_idx},
        lambda s: nn.Embedding(int(s["num"]), int(s["dim"]), padding_idx=s.get("padding_idx")),
    ),
}
_LEAF_KINDS = ("linear", "dynamic_int8", "builtin", "none")


def dynamic_linear_type() -> type[nn.Module]:
    import torch.ao.nn.quantized.dynamic as nnqd

    return nnqd.Linear


def _linear_entry(m: nn.Linear) -> dict[str, Any]:
    return {"in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None}


def _quant_entry(m: nn.Module) -> dict[str, Any]:
    weight = m.weight()
    dtype = m._packed_params.dtype
    entry = {"kind": "dynamic_int8", "in_features": m.in_features, "out_features": m.out_features,
             "bias": m.bias() is not None}
    if dtype == torch.float16:
        return {**entry, "dtype": "float16"}
    if weight.qscheme() in (torch.per_channel_affine, torch.per_channel_affine_float_qparams):
        return {**entry, "dtype": "qint8", "qscheme": "per_channel", "axis": int(weight.q_per_channel_axis())}
    return {**entry, "dtype": "qint8", "qscheme": "per_tensor"}


def _entry_for(path: str, module: nn.Module, skel: nn.Module | None) -> dict[str, Any] | None:
    """The manifest entry that turns ``skel`` into ``module`` (None when they already agree)."""
    if custom.is_custom(module):
        spec = module.module_spec()
        if type(skel) is type(module) and skel.module_spec() == spec:
            return None
        return {"path": path, "kind": "custom", "class": type(module).__name__, "spec": spec}
    if isinstance(module, dynamic_linear_type()):
        return {"path": path, **_quant_entry(module)}
    if type(module) is nn.Linear:
        if type(skel) is nn.Linear and _linear_entry(skel) == _linear_entry(module):
            return None
        return {"path": path, "kind": "linear", **_linear_entry(module)}
    for name, (cls, describe, _) in _BUILTINS.items():
        if type(module) is cls:
            if type(skel) is cls and describe(skel) == describe(module):
                return None
            return {"path": path, "kind": "builtin", "class": name, "spec": describe(module)}
    if skel is not None and type(skel) is type(module):
        if isinstance(module, (nn.ModuleList, nn.Sequential)) and len(skel) != len(module):
            raise ExportError(f"{path} holds {len(module)} modules where the configuration builds {len(skel)}; "
                              "cannot record that change")
        return None
    where = f"the configuration builds a {type(skel).__name__}" if skel is not None else "the configuration builds nothing"
    raise ExportError(
        f"cannot export {path}: it is a {type(module).__name__} where {where}. Compressed layers must be "
        "registered with core.models.custom.register_module (module_spec/from_spec) to be exported without pickles."
    )


def build_entry(entry: dict[str, Any]) -> nn.Module | None:
    """A fresh module for one manifest entry (weights are filled in later)."""
    kind = entry.get("kind")
    if kind == "custom":
        try:
            cls = custom.module_class(str(entry["class"]))
        except KeyError as exc:
            raise ExportError(f"{entry.get('path')}: {exc.args[0]}; this export needs a newer studio or a plug-in "
                              "that registers it") from None
        return cls.from_spec(dict(entry.get("spec") or {}))
    if kind == "linear":
        return nn.Linear(int(entry["in_features"]), int(entry["out_features"]), bias=bool(entry["bias"]))
    if kind == "builtin":
        name = entry.get("class")
        if name not in _BUILTINS:
            raise ExportError(f"{entry.get('path')}: unknown built-in module type {name!r} (known: {', '.join(_BUILTINS)})")
        return _BUILTINS[name][2](entry.get("spec") or {})
    if kind == "none":
        return None
    raise ExportError(f"{entry.get('path')}: unknown module entry kind {kind!r}")


def _split(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition(".")
    return parent, name


def set_module(model: nn.Module, path: str, module: nn.Module | None) -> None:
    parent, name = _split(path)
    owner = model.get_submodule(parent) if parent else model
    if name not in owner._modules:
        raise ExportError(f"cannot place a module at {path}: {parent or 'the model'} has no child {name!r}")
    owner._modules[name] = module


def describe_modules(model: nn.Module, skeleton: nn.Module) -> list[dict[str, Any]]:
    """Entries that turn ``skeleton`` (the config's plain model, ideally on the meta device) into ``model``."""
    entries: list[dict[str, Any]] = []

    def walk(prefix: str, mod: nn.Module, skel: nn.Module | None) -> None:
        for name, child in mod._modules.items():
            path = f"{prefix}.{name}" if prefix else name
            skel_child = skel._modules.get(name) if skel is not None else None
            if child is None:
                if skel_child is not None:
                    entries.append({"path": path, "kind": "none"})
                continue
            entry = _entry_for(path, child, skel_child)
            if entry is not None:
                entries.append(entry)
                if entry["kind"] in _LEAF_KINDS:
                    continue
                skel_child = _build_for_comparison(entry)
            walk(path, child, skel_child)

    walk("", model, skeleton)
    return entries


def _build_for_comparison(entry: dict[str, Any]) -> nn.Module | None:
    try:
        with torch.device("meta"):
            return build_entry(entry)
    except ExportError:
        raise
    except Exception:  # a custom from_spec that cannot run on the meta device: build it for real
        return build_entry(entry)


def shared_groups(model: nn.Module) -> list[list[str]]:
    """Names of parameters that are one tensor used by several modules (first name is the stored one)."""
    by_id: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        by_id.setdefault(id(p), []).append(name)
    return [names for names in by_id.values() if len(names) > 1]


def shared_modules(model: nn.Module) -> list[list[str]]:
    """Paths that hold one module object (ALBERT-style layer sharing), outermost groups only."""
    by_id: dict[int, list[str]] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        if name:
            by_id.setdefault(id(module), []).append(name)
    groups: list[list[str]] = []
    for names in sorted((n for n in by_id.values() if len(n) > 1), key=lambda n: n[0].count(".")):
        covered = [q for g in groups for q in g[1:]]
        if all(any(p.startswith(q + ".") for q in covered) for p in names[1:]):
            continue  # a child of a module already shared
        groups.append(names)
    return groups


def share_modules(model: nn.Module, groups: list[list[str]]) -> None:
    """Put the first path's module object at every other path of its group."""
    for group in groups:
        first = model.get_submodule(group[0])
        for path in group[1:]:
            set_module(model, path, first)


def tie(model: nn.Module, groups: list[list[str]]) -> None:
    """Make every name of each group point at the first name's Parameter again."""
    for group in groups:
        first = model.get_parameter(group[0])
        for name in group[1:]:
            parent, attr = _split(name)
            owner = model.get_submodule(parent) if parent else model
            if attr not in owner._parameters:
                raise ExportError(f"shared parameter {name} does not exist in the rebuilt model")
            owner._parameters[attr] = first


def apply_layers(model: nn.Module, layers: list[dict[str, int]]) -> None:
    """Set each attention block's head bookkeeping (some families infer the count from shapes, others read it)."""
    if not layers:
        return
    from core.models.adapters import adapter_for

    try:
        adapter_for(model).set_recorded_heads(model, layers)
    except ValueError as exc:
        raise ExportError(str(exc)) from None


def layer_description(model: nn.Module) -> list[dict[str, int]]:
    from core.models.architecture import layer_shapes

    try:
        return layer_shapes(model)
    except (TypeError, AttributeError):  # not a BERT-style encoder: nothing per layer to record
        return []


def export_config(model: nn.Module):
    """A copy of ``model.config`` made true to the modules where a plain config can say it.

    ``architectures`` names the model's own class, so the folder says which head it holds (the config a model
    was built from may name another head, or none).
    """
    from core.models.adapters import adapter_for

    config = copy.deepcopy(model.config)
    config.architectures = [type(model).__name__]
    layers = layer_description(model)
    if layers:
        adapter = adapter_for(model)
        config.num_hidden_layers = adapter.depth(model)  # ALBERT: more depths than layers of weights
        widths = {layer["ffn"] for layer in layers}
        if len(widths) == 1:
            setattr(config, adapter.ffn_config_attr, widths.pop())
    for attr in ("auto_map", "_name_or_path"):
        if hasattr(config, attr):
            try:
                delattr(config, attr)
            except AttributeError:
                pass
    return config


def skeleton_from_config(config, meta: bool = False) -> nn.Module:
    """The plain model a config builds, with the task head its ``architectures`` name (``meta``: shapes only)."""
    from core.models.heads import auto_class, config_kind

    auto = auto_class(config_kind(config))
    config = copy.deepcopy(config)
    if meta:
        with torch.device("meta"):
            return auto.from_config(config)
    return auto.from_config(config)


def is_standard(manifest: dict[str, Any], config) -> bool:
    """Whether plain ``from_pretrained`` rebuilds the model exactly (no manifest needed)."""
    if manifest["modules"] or manifest["shared"] or manifest["shared_modules"] or manifest["quantized"]:
        return False
    from core.models.adapters import adapter_for_type

    heads = int(getattr(config, "num_attention_heads", 0) or 0)
    size = adapter_for_type(config.model_type).config_head_size(config) if heads else 0
    return all(layer["heads"] == heads and layer["head_size"] == size for layer in manifest["layers"])


def build_manifest(model: nn.Module, config, quantized: bool, source: str) -> dict[str, Any]:
    """Describe ``model`` against the plain model ``config`` builds; raises ExportError if it cannot."""
    skeleton = skeleton_from_config(config, meta=True)
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "model_type": config.model_type,
        "weights": WEIGHTS_FILE,
        "quantized": bool(quantized or any(isinstance(m, dynamic_linear_type()) for m in model.modules())),
        "source": source,
        "layers": layer_description(model),
        "modules": describe_modules(model, skeleton),
        "shared": shared_groups(model),
        "shared_modules": shared_modules(model),
    }
