"""Hessian-based bit allocation for ``quant.kbit`` (Q-BERT, Shen et al. 2020; HAWQ-V2/V3).

Sensitivity of an encoder layer: the curvature of the task loss with respect
to that layer's linear weights (the weights k-bit quantization changes),
measured on a few training batches by Hessian-vector products (double
backward, no Hessian is ever formed):

* ``eigenvalue`` (Q-BERT): the top eigenvalue of the layer's Hessian block,
  by power iteration; the estimate is the Rayleigh quotient ``v.Hv``.
* ``trace`` (HAWQ-V2): Hutchinson's estimate ``E[v.Hv]`` over Rademacher
  vectors, divided by the layer's weight count (the average eigenvalue, so
  both measures are in the same units).

Each batch gives one estimate, of which the magnitude is kept (on an
untrained model the dominant eigenvalue or the trace may be negative, and a
negative weight would reward error); the layer's sensitivity is the mean over
batches (Q-BERT ranks by mean + std over its samples: the std is returned and
logged too, but only the mean is used).

Allocation: per layer ``l`` choose ``b_l`` from the candidates minimising
``sum_l s_l * ||W_l - Q_{b_l}(W_l)||^2`` (the second-order loss increase bound
``0.5 * lambda * ||dW||^2``, with the error measured by the k-bit quantizer
itself) subject to the budget ``sum_l n_l b_l <= budget * sum_l n_l`` (code
bits per weight over the encoder linears; the float16 scales cost the same
for every bit width and are not counted). Solved exactly by dynamic
programming over layers, keeping the Pareto front of (bits spent, objective).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch
import torch.nn as nn

from core.methods.quantization.packing import dequantize_weight, quantize_weight

# Power iteration stops when the eigenvalue estimate changes by less than this (relative).
POWER_TOLERANCE = 1e-3


def _dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    return sum((x.double() * y.double()).sum() for x, y in zip(a, b))


def _normalised(vs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    norm = math.sqrt(float(_dot(vs, vs))) or 1.0
    return [v / norm for v in vs]


def hessian_vector_product(grads: Sequence[torch.Tensor], params: Sequence[torch.Tensor],
                           vs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``H v`` for the loss whose gradients ``grads`` (built with ``create_graph=True``) are w.r.t. ``params``."""
    live = [i for i, g in enumerate(grads) if g.requires_grad]  # a gradient with no graph: zero curvature
    out = [torch.zeros_like(p) for p in params]
    if not live:
        return out
    hv = torch.autograd.grad([grads[i] for i in live], params, grad_outputs=[vs[i] for i in live],
                             retain_graph=True, allow_unused=True)
    return [o if h is None else h.detach() for h, o in zip(hv, out)]


def top_eigenvalue(grads: Sequence[torch.Tensor], params: Sequence[torch.Tensor], iterations: int,
                   generator: torch.Generator, tolerance: float = POWER_TOLERANCE) -> float:
    """The Hessian block's eigenvalue of largest magnitude, by power iteration from a seeded random vector."""
    vs = _normalised([torch.randn(p.shape, generator=generator).to(p) for p in params])
    value = 0.0
    for i in range(iterations):
        hv = hessian_vector_product(grads, params, vs)
        new = float(_dot(vs, hv))  # Rayleigh quotient of the unit vector v
        if float(_dot(hv, hv)) == 0.0:
            return 0.0
        vs = _normalised(hv)
        if i > 0 and abs(new - value) <= tolerance * (abs(value) + 1e-12):
            return new
        value = new
    return value


def hutchinson_trace(grads: Sequence[torch.Tensor], params: Sequence[torch.Tensor], samples: int,
                     generator: torch.Generator) -> float:
    """Hutchinson's estimate of the Hessian block's trace: the mean of ``v.Hv`` over Rademacher ``v``."""
    total = 0.0
    for _ in range(samples):
        vs = [(torch.randint(0, 2, p.shape, generator=generator) * 2 - 1).to(p) for p in params]
        total += float(_dot(vs, hessian_vector_product(grads, params, vs)))
    return total / samples


def unique_layers(layers: Sequence[nn.Module]) -> tuple[list[nn.Module], list[int]]:
    """The distinct layer modules (ALBERT shares one across depths) and, per position, its index among them."""
    distinct: list[nn.Module] = []
    index: dict[int, int] = {}
    positions = []
    for layer in layers:
        if id(layer) not in index:
            index[id(layer)] = len(distinct)
            distinct.append(layer)
        positions.append(index[id(layer)])
    return distinct, positions


def linear_weights(layer: nn.Module) -> list[nn.Parameter]:
    """The weights of a layer's linear modules: what ``quant.kbit`` quantizes."""
    return [m.weight for m in layer.modules() if isinstance(m, nn.Linear)]


@contextlib.contextmanager
def _only_these_require_grad(model: nn.Module, params: Iterable[nn.Parameter]):
    keep = {id(p) for p in params}
    saved = [(p, p.requires_grad) for p in model.parameters()]
    was_training = model.training
    try:
        for p, _ in saved:
            p.requires_grad_(id(p) in keep)
        model.eval()  # no dropout: the same loss at every product
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)
        model.train(was_training)


def _math_attention():
    """Double backward needs the composite (math) attention kernel; the fused ones have no second derivative."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:  # older torch: nothing to choose
        return contextlib.nullcontext()
    return sdpa_kernel([SDPBackend.MATH])


@dataclass
class Sensitivity:
    mean: list[float]
    std: list[float]
    samples: list[list[float]] = field(default_factory=list)  # per layer, one estimate per batch


def layer_sensitivity(model: nn.Module, layers: Sequence[nn.Module], batches: Iterable[dict], measure: str,
                      iterations: int, seed: int, check: Callable[[], None] = lambda: None,
                      progress: Callable[[int], None] = lambda done: None) -> Sensitivity:
    """Per layer (of ``layers``), the curvature of the loss w.r.t. its linear weights, averaged over ``batches``."""
    if measure not in ("eigenvalue", "trace"):
        raise ValueError(f"unknown sensitivity measure {measure!r}")
    generator = torch.Generator().manual_seed(seed)
    per_layer = [linear_weights(layer) for layer in layers]
    samples: list[list[float]] = [[] for _ in layers]
    with _only_these_require_grad(model, [p for ps in per_layer for p in ps]), _math_attention():
        for b, batch in enumerate(batches):
            with torch.enable_grad():
                loss = model(**batch).loss
                flat = [p for ps in per_layer for p in ps]
                grads = iter(torch.autograd.grad(loss, flat, create_graph=True))
                layer_grads = [[next(grads) for _ in ps] for ps in per_layer]
                for i, (params, g) in enumerate(zip(per_layer, layer_grads)):
                    check()
                    if measure == "eigenvalue":
                        value = top_eigenvalue(g, params, iterations, generator)
                    else:
                        value = hutchinson_trace(g, params, iterations, generator) / sum(p.numel() for p in params)
                    samples[i].append(abs(value))
            del loss, grads, layer_grads
            progress(b + 1)
    if not samples or not samples[0]:
        raise ValueError("no batches to measure the Hessian on")
    t = torch.tensor(samples, dtype=torch.float64)
    std = t.std(dim=1, unbiased=False) if t.shape[1] > 1 else torch.zeros(len(samples), dtype=torch.float64)
    return Sensitivity(t.mean(dim=1).tolist(), std.tolist(), samples)


@torch.no_grad()
def quantization_error(weight: torch.Tensor, bits: int, group_size: int, symmetric: bool) -> float:
    """``||W - Q_b(W)||^2`` with the same quantizer (grid, groups, float16 scales) ``quant.kbit`` stores."""
    q = quantize_weight(weight, bits, group_size, symmetric)
    back = dequantize_weight(q["codes"], q["scales"], q["offsets"], bits, tuple(weight.shape), q["group_size"],
                             q["padded"])
    return float(((weight.float() - back.to(weight.device)) ** 2).sum())


def layer_errors(layers: Sequence[nn.Module], candidates: Sequence[int], group_size: int,
                 symmetric: bool) -> list[dict[int, float]]:
    """Per layer, the squared quantization error of its linear weights at each candidate bit width."""
    return [{b: sum(quantization_error(w.detach(), b, group_size, symmetric) for w in linear_weights(layer))
             for b in candidates} for layer in layers]


def allocate_bits(sensitivity: Sequence[float], errors: Sequence[dict[int, float]], sizes: Sequence[int],
                  candidates: Sequence[int], budget_bits: float) -> list[int]:
    """Bits per layer minimising ``sum s_l * err_l(b_l)`` with ``sum n_l b_l <= budget_bits * sum n_l`` (exact).

    Dynamic programming over layers on the Pareto front of (bits spent, objective): a partial
    allocation is dropped only when another spends no more bits and has no larger objective, so the
    optimum is never lost. Ties go to fewer bits. Raises ``ValueError`` when no allocation fits.
    """
    if not (len(sensitivity) == len(errors) == len(sizes)):
        raise ValueError("one sensitivity, error table and size per layer")
    cands = sorted(set(int(b) for b in candidates))
    if not cands:
        raise ValueError("no candidate bit widths")
    unit = math.gcd(*[int(n) for n in sizes]) or 1
    units = [int(n) // unit for n in sizes]
    # The budget in integer units; a hair of slack so 4.0 * n is not lost to float rounding.
    limit = math.floor(budget_bits * sum(units) + 1e-9)
    if cands[0] * sum(units) > limit:
        raise ValueError(f"a budget of {budget_bits:g} bits per weight is below the smallest candidate "
                         f"({cands[0]} bits): no allocation fits")
    front: list[tuple[int, float, tuple[int, ...]]] = [(0, 0.0, ())]
    rest = [sum(units[i:]) for i in range(len(units) + 1)]
    for i, (s, err, n) in enumerate(zip(sensitivity, errors, units)):
        weight = abs(float(s))  # magnitudes already; a caller's signed value must not reward error
        expanded = [(cost + b * n, obj + weight * float(err[b]), choice + (b,))
                    for cost, obj, choice in front for b in cands
                    if cost + b * n + cands[0] * rest[i + 1] <= limit]  # the remaining layers must still fit
        expanded.sort(key=lambda t: (t[0], t[1]))
        front = []
        best = math.inf
        for item in expanded:
            if item[1] < best:
                front.append(item)
                best = item[1]
    _, _, choice = min(front, key=lambda t: (t[1], t[0]))
    return list(choice)


def average_bits(bits: Sequence[int], sizes: Sequence[int]) -> float:
    return sum(b * n for b, n in zip(bits, sizes)) / sum(sizes)
