"""A model's tensors as a flat safetensors dictionary, and back.

Shared parameters are stored once (under the first name of their group) and
dynamically quantized linears as plain tensors: the int8 weight, its scale(s)
and zero point(s), and the float bias, so no pickled packed parameters ever
reach the disk.
"""

from __future__ import annotations

import warnings

from typing import Any

import torch
import torch.nn as nn

from core.errors import ExportError
from core.models.manifest import dynamic_linear_type, set_module

INT8_SUFFIXES = ("weight_int8", "weight_scale", "weight_zero_point", "weight_fp16", "bias")


def _quantized_tensors(path: str, module: nn.Module, entry: dict[str, Any]) -> dict[str, torch.Tensor]:
    weight = module.weight()
    out: dict[str, torch.Tensor] = {}
    if entry["dtype"] == "float16":
        out[f"{path}.weight_fp16"] = weight.detach()
    else:
        out[f"{path}.weight_int8"] = weight.int_repr()
        if entry["qscheme"] == "per_channel":
            out[f"{path}.weight_scale"] = weight.q_per_channel_scales().to(torch.float64)
            out[f"{path}.weight_zero_point"] = weight.q_per_channel_zero_points().to(torch.int64)
        else:
            out[f"{path}.weight_scale"] = torch.tensor([weight.q_scale()], dtype=torch.float64)
            out[f"{path}.weight_zero_point"] = torch.tensor([weight.q_zero_point()], dtype=torch.int64)
    bias = module.bias()
    if bias is not None:
        out[f"{path}.bias"] = bias.detach().float()
    return out


def model_tensors(model: nn.Module, manifest: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Everything ``load_tensors`` needs, contiguous, on the CPU, no two sharing memory."""
    quant = {e["path"]: e for e in manifest["modules"] if e["kind"] == "dynamic_int8"}
    skip = {name for group in manifest["shared"] for name in group[1:]}
    skip_prefixes = tuple(p + "." for p in quant) + _copies(manifest)
    out: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        if key in skip or key.startswith(skip_prefixes):
            continue
        if not isinstance(value, torch.Tensor) or value.is_quantized:
            raise ExportError(f"cannot store {key}: it is a {type(value).__name__}, not a plain tensor")
        out[key] = value
    for path, entry in quant.items():
        out.update(_quantized_tensors(path, model.get_submodule(path), entry))
    seen: set[int] = set()
    for key, value in out.items():
        value = value.detach().to("cpu").contiguous()
        ptr = value.untyped_storage().data_ptr()
        if ptr in seen:  # views or tied buffers: safetensors refuses shared memory
            value = value.clone()
        seen.add(value.untyped_storage().data_ptr())
        out[key] = value
    return out


def _copies(manifest: dict[str, Any]) -> tuple[str, ...]:
    """Prefixes of the second and later paths of shared modules (their tensors are the first path's)."""
    return tuple(p + "." for group in manifest.get("shared_modules", []) for p in group[1:])


def _quantized_module(entry: dict[str, Any], tensors: dict[str, torch.Tensor]) -> nn.Module:
    path = entry["path"]

    def take(suffix: str) -> torch.Tensor:
        try:
            return tensors.pop(f"{path}.{suffix}")
        except KeyError:
            raise ExportError(f"the weights file lacks {path}.{suffix}") from None

    bias = take("bias") if entry["bias"] else None
    if entry.get("dtype") == "float16":
        module = dynamic_linear_type()(int(entry["in_features"]), int(entry["out_features"]), bias_=entry["bias"],
                                       dtype=torch.float16)
        module.set_weight_bias(take("weight_fp16").to(torch.float16), bias)
        return module
    ints, scale, zero = take("weight_int8"), take("weight_scale"), take("weight_zero_point")
    if ints.dtype != torch.int8 or tuple(ints.shape) != (int(entry["out_features"]), int(entry["in_features"])):
        raise ExportError(f"{path}: the stored int8 weight has shape {tuple(ints.shape)} and type {ints.dtype}")
    with warnings.catch_warnings():
        # torch deprecates quantized tensors in favour of torchao, whose int8 kernels are
        # slower on AVX2 CPUs (ENV.md); the dynamic int8 path stays until that changes
        warnings.simplefilter("ignore", UserWarning)
        if entry.get("qscheme") == "per_channel":
            weight = torch._make_per_channel_quantized_tensor(ints, scale.double(), zero.long(), int(entry.get("axis", 0)))
        else:
            weight = torch._make_per_tensor_quantized_tensor(ints, float(scale.reshape(-1)[0]), int(zero.reshape(-1)[0]))
    module = dynamic_linear_type()(int(entry["in_features"]), int(entry["out_features"]), bias_=entry["bias"],
                                   dtype=torch.qint8)
    module.set_weight_bias(weight, bias)
    return module


def load_tensors(model: nn.Module, manifest: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """Fill a rebuilt skeleton: quantized linears first, then every other tensor by name (dtypes kept)."""
    from core.models.manifest import share_modules, tie

    tensors = dict(tensors)
    quant = [e for e in manifest["modules"] if e["kind"] == "dynamic_int8"]
    # built before loading (they pop their tensors) but placed after: their own
    # _load_from_state_dict would demand activation scale entries we never store
    quantized = {e["path"]: _quantized_module(e, tensors) for e in quant}
    quant_prefixes = tuple(e["path"] + "." for e in quant) + _copies(manifest)
    shared = {name for group in manifest["shared"] for name in group[1:]}
    # assign=True keeps the stored dtypes (a half-precision layer stays half)
    try:
        result = model.load_state_dict(tensors, strict=False, assign=True)
    except RuntimeError as exc:  # shape mismatches
        raise ExportError(f"the weights do not match the recorded architecture: {exc}") from None
    missing = [k for k in result.missing_keys if k not in shared and not k.startswith(quant_prefixes)]
    if missing or result.unexpected_keys:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensor(s), e.g. {', '.join(missing[:3])}")
        if result.unexpected_keys:
            parts.append(f"{len(result.unexpected_keys)} tensor(s) the architecture has no place for, "
                         f"e.g. {', '.join(result.unexpected_keys[:3])}")
        raise ExportError("the weights do not match the recorded architecture: " + "; ".join(parts))
    for path, module in quantized.items():
        set_module(model, path, module)
    share_modules(model, manifest.get("shared_modules", []))
    tie(model, manifest["shared"])
