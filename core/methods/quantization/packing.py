"""k-bit integer codes: group-wise quantization of a weight matrix and bit-packing into bytes.

A weight (rows, cols) is split along ``cols`` into groups of ``group_size``
(the last group zero-padded); each group has a float16 scale (and, when
asymmetric, a float16 offset). Codes are unsigned k-bit integers packed
densely: 8 // k codes per byte when k divides 8, and across byte boundaries
otherwise, so k bits per weight is what is stored.
"""

from __future__ import annotations

import math

import torch


def pack_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Pack unsigned integer codes (< 2**bits) into a flat uint8 tensor, least significant bit first."""
    flat = codes.reshape(-1).to(torch.uint8)
    if bits == 8:
        return flat.clone()
    if 8 % bits == 0:  # whole codes per byte: a cheaper path with the same layout
        per = 8 // bits
        pad = (-flat.numel()) % per
        if pad:
            flat = torch.cat([flat, flat.new_zeros(pad)])
        shifts = torch.arange(0, 8, bits, device=flat.device, dtype=torch.int32)
        return (flat.reshape(-1, per).to(torch.int32) << shifts).sum(1).to(torch.uint8)
    shifts = torch.arange(bits, device=flat.device, dtype=torch.uint8)
    bit_stream = ((flat[:, None] >> shifts) & 1).reshape(-1)
    pad = (-bit_stream.numel()) % 8
    if pad:
        bit_stream = torch.cat([bit_stream, bit_stream.new_zeros(pad)])
    weights = (1 << torch.arange(8, device=flat.device, dtype=torch.int32))
    return (bit_stream.reshape(-1, 8).to(torch.int32) * weights).sum(1).to(torch.uint8)


def unpack_codes(packed: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    """Inverse of :func:`pack_codes`: the first ``count`` codes as int32."""
    if bits == 8:
        return packed[:count].to(torch.int32)
    if 8 % bits == 0:
        shifts = torch.arange(0, 8, bits, device=packed.device, dtype=torch.int32)
        return ((packed.to(torch.int32)[:, None] >> shifts) & (2**bits - 1)).reshape(-1)[:count]
    shifts = torch.arange(8, device=packed.device, dtype=torch.uint8)
    bit_stream = ((packed[:, None] >> shifts) & 1).reshape(-1)[: count * bits]
    weights = (1 << torch.arange(bits, device=packed.device, dtype=torch.int32))
    return (bit_stream.reshape(count, bits).to(torch.int32) * weights).sum(1)


def packed_length(count: int, bits: int) -> int:
    return math.ceil(count * bits / 8)


def grouped(weight: torch.Tensor, group_size: int) -> tuple[torch.Tensor, int]:
    """(rows, groups, group_size) view of ``weight`` with the last group zero-padded; also the padded width."""
    rows, cols = weight.shape
    padded = math.ceil(cols / group_size) * group_size
    w = weight.float()
    if padded != cols:
        w = torch.cat([w, w.new_zeros(rows, padded - cols)], dim=1)
    return w.reshape(rows, padded // group_size, group_size), padded


@torch.no_grad()
def quantize_weight(weight: torch.Tensor, bits: int, group_size: int, symmetric: bool) -> dict:
    """Codes (packed), scales and offsets (float16) for ``weight``; the grid uses the stored float16 values."""
    if not 2 <= bits <= 8:
        raise ValueError(f"bits must be between 2 and 8, got {bits}")
    group_size = min(group_size, weight.shape[1]) if group_size > 0 else weight.shape[1]
    w, padded = grouped(weight, group_size)
    if symmetric:
        qmax = 2 ** (bits - 1) - 1  # symmetric grid -qmax..qmax keeps zero exact
        scale = (w.abs().amax(-1, keepdim=True) / qmax).clamp_min(1e-7).half().float()
        codes = torch.clamp(torch.round(w / scale), -qmax, qmax) + qmax
        offset = None
    else:
        levels = 2 ** bits - 1
        lo, hi = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
        offset = lo.half().float()
        scale = ((hi - offset) / levels).clamp_min(1e-7).half().float()
        codes = torch.clamp(torch.round((w - offset) / scale), 0, levels)
    return {
        "codes": pack_codes(codes.to(torch.uint8), bits),
        "scales": scale.squeeze(-1).half(),
        "offsets": None if offset is None else offset.squeeze(-1).half(),
        "group_size": group_size,
        "padded": padded,
    }


def dequantize_weight(codes: torch.Tensor, scales: torch.Tensor, offsets: torch.Tensor | None, bits: int,
                      shape: tuple[int, int], group_size: int, padded: int, dtype=torch.float32) -> torch.Tensor:
    rows, cols = shape
    q = unpack_codes(codes, bits, rows * padded).reshape(rows, padded // group_size, group_size).float()
    if offsets is None:
        w = (q - (2 ** (bits - 1) - 1)) * scales.float()[..., None]
    else:
        w = q * scales.float()[..., None] + offsets.float()[..., None]
    return w.reshape(rows, padded)[:, :cols].to(dtype)
