"""Movement scores (Sanh, Wolf & Rush 2020) and the masks they select.

First-order movement: ``S += -W * dL/dW`` after every backward pass, so a weight
scores high when training pushes it away from zero and low when it moves toward
zero, whatever its size. :class:`WeightScores` keeps one score per weight (the
unstructured variant); :class:`BlockScores` sums the movement over whole
attention heads (their query/key/value rows, any per-head position rows, and
their attention-output columns) and FFN neurons (their input rows, gate rows
included, and output columns), as HF ``nn_pruning``'s block movement does.
The parts of each layer come from the family's adapter.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from core.errors import StudioError
from core.methods.pruning.structured import select_removals
from core.models.adapters import adapter_for

Masks = dict[str, torch.Tensor]


def finite_gradients(params: list[nn.Parameter]) -> bool:
    """Whether every gradient is finite (fp16 loss scaling overflows now and then; the optimiser skips
    that step, and so do the scores). One device sync for all of them."""
    flags = [torch.isfinite(p.grad).all() for p in params if p.grad is not None]
    return bool(torch.stack(flags).all()) if flags else True


# -- unstructured ------------------------------------------------------------
class WeightScores:
    """One movement score per entry of each prunable weight."""

    def __init__(self, weights: dict[str, nn.Parameter], score: str = "movement"):
        self.names, self.score = list(weights), score
        self.skipped = 0  # backward passes with inf/nan gradients (an fp16 overflow step), not counted
        self.scores = {n: torch.zeros_like(w, dtype=torch.float32) for n, w in weights.items()} \
            if score == "movement" else {}

    @torch.no_grad()
    def accumulate(self, model: nn.Module) -> None:
        if self.score != "movement":
            return
        params = dict(model.named_parameters())
        present = [(name, params[name]) for name in self.names if params[name].grad is not None]
        if not finite_gradients([w for _, w in present]):
            self.skipped += 1
            return
        for name, w in present:
            self.scores[name].sub_((w.detach() * w.grad).float())

    def current(self, model: nn.Module) -> dict[str, torch.Tensor]:
        if self.score == "magnitude":
            params = dict(model.named_parameters())
            return {n: params[n].detach().abs().float() for n in self.names}
        return self.scores


def topk_masks(scores: dict[str, torch.Tensor], sparsity: float, scope: str,
               current: Masks | None = None) -> Masks:
    """0/1 masks keeping the highest scores so that ``sparsity`` of the entries are zero.

    Entries already zero in ``current`` go first (the masks only grow), so a
    pruned weight never comes back and the share is exact.
    """
    current = current or {}

    def ranked(name: str) -> torch.Tensor:
        s = scores[name].detach().float().flatten().clone()
        old = current.get(name)
        if old is not None and old.shape == scores[name].shape:
            s[old.to(s.device).flatten() == 0] = float("-inf")
        return s

    out: Masks = {}
    if scope == "global":
        flat = {n: ranked(n) for n in scores}
        allv = torch.cat(list(flat.values())) if flat else torch.zeros(0)
        keep = allv.numel() - int(round(sparsity * allv.numel()))
        chosen = torch.zeros(allv.numel(), dtype=torch.bool, device=allv.device)
        if keep > 0:
            chosen[torch.topk(allv, keep, sorted=False).indices] = True
        offset = 0
        for n, s in flat.items():
            out[n] = chosen[offset:offset + s.numel()].view_as(scores[n]).to(scores[n].device, torch.float32)
            offset += s.numel()
        return out
    for n in scores:
        s = ranked(n)
        keep = s.numel() - int(round(sparsity * s.numel()))
        chosen = torch.zeros(s.numel(), dtype=torch.bool, device=s.device)
        if keep > 0:
            chosen[torch.topk(s, keep, sorted=False).indices] = True
        out[n] = chosen.view_as(scores[n]).float()
    return out


# -- blocks ------------------------------------------------------------------
@dataclass(frozen=True)
class _Part:
    """A weight that holds ``groups`` consecutive blocks of the layer's ``units`` along ``dim``."""

    name: str
    shape: tuple[int, ...]
    dim: int
    units: int
    groups: int = 1

    def per_unit(self, units: torch.Tensor) -> torch.Tensor:
        """``units`` (a tensor like the weight) summed within each unit: one value per unit."""
        t = units if self.dim == 0 else units.transpose(0, 1)
        return t.reshape(self.groups, self.units, -1).sum(dim=(0, 2))

    def mask(self, keep: torch.Tensor, device) -> torch.Tensor:
        """The weight's 0/1 mask zeroing every removed unit (``keep``: one 0/1 per unit)."""
        per = self.shape[self.dim] // (self.groups * self.units)
        vec = keep.float().repeat_interleave(per).repeat(self.groups).to(device)
        view = (-1, 1) if self.dim == 0 else (1, -1)
        return vec.view(view).expand(self.shape).contiguous()


def _part(name: str, layer: nn.Module, path: str, what: str, dim: int, units: int, groups: int = 1) -> _Part:
    weight = _linear(layer, path, what).weight
    return _Part(f"{name}.{path}.weight", tuple(weight.shape), dim, units, groups)


def _linear(layer: nn.Module, path: str, what: str) -> nn.Linear:
    module = layer.get_submodule(path)
    if not isinstance(module, nn.Linear):
        raise StudioError(f"block movement pruning scores float nn.Linear weights; the {what} ({path}) is a "
                          f"{type(module).__name__} (run prune.movement before factorization or quantization)")
    return module


def _exists(layer: nn.Module, path: str) -> bool:
    try:
        layer.get_submodule(path)
        return True
    except AttributeError:
        return False


def head_parts(model: nn.Module) -> list[list[_Part]]:
    """Per layer, the weights whose slices belong to each attention head."""
    adapter = adapter_for(model)
    att = adapter.attention
    out = []
    for name, layer in zip(adapter.layer_names(model), adapter.layers(model)):
        parts, heads = [], adapter.heads(layer)
        if att.qkv:
            parts.append(_part(name, layer, att.qkv, "fused QKV", 0, heads, 3))
        for path in att.row_projections():
            if _exists(layer, path):
                parts.append(_part(name, layer, path, "head projection", 0, heads))
        parts.append(_part(name, layer, att.output, "attention output", 1, heads))
        out.append(parts)
    return out


def ffn_parts(model: nn.Module) -> list[list[_Part]]:
    """Per layer, the weights whose rows / columns belong to each intermediate neuron."""
    adapter = adapter_for(model)
    ffn = adapter.ffn
    out = []
    for name, layer in zip(adapter.layer_names(model), adapter.layers(model)):
        width = adapter.ffn_width(layer)
        out.append([_part(name, layer, ffn.input, "FFN input", 0, width, 2 if ffn.gated else 1),
                    _part(name, layer, ffn.output, "FFN output", 1, width)])
    return out


class BlockScores:
    """Movement summed over each head / neuron of every layer; which units are masked so far."""

    def __init__(self, model: nn.Module, heads: bool, ffn: bool, score: str = "movement"):
        from core.models.surgery import ffn_widths, head_counts

        self.score = score
        self.skipped = 0  # backward passes with inf/nan gradients (an fp16 overflow step), not counted
        self.kinds: dict[str, list[list[_Part]]] = {}
        sizes: dict[str, list[int]] = {}
        if heads:
            self.kinds["heads"], sizes["heads"] = head_parts(model), head_counts(model)
        if ffn:
            self.kinds["ffn"], sizes["ffn"] = ffn_parts(model), ffn_widths(model)
        self.scores = {k: [torch.zeros(n) for n in sizes[k]] for k in self.kinds}
        self.keep = {k: [torch.ones(n, dtype=torch.bool) for n in sizes[k]] for k in self.kinds}

    @torch.no_grad()
    def accumulate(self, model: nn.Module) -> None:
        if self.score != "movement":
            return
        params = dict(model.named_parameters())
        if not finite_gradients([params[p.name] for layers in self.kinds.values() for parts in layers for p in parts]):
            self.skipped += 1
            return
        for kind, layers in self.kinds.items():
            for i, parts in enumerate(layers):
                for part in parts:
                    w = params[part.name]
                    if w.grad is not None:
                        moved = part.per_unit((w.detach() * w.grad).float())
                        if self.scores[kind][i].device != moved.device:  # kept where the weights are: no sync
                            self.scores[kind][i] = self.scores[kind][i].to(moved.device)
                        self.scores[kind][i] -= moved

    @torch.no_grad()
    def current(self, model: nn.Module, kind: str) -> list[torch.Tensor]:
        if self.score == "magnitude":
            params = dict(model.named_parameters())
            return [sum(p.per_unit(params[p.name].detach().abs().float()).cpu() for p in parts)
                    for parts in self.kinds[kind]]
        return self.scores[kind]

    def select(self, model: nn.Module, kind: str, count: int) -> None:
        """Mask the ``count`` lowest-scoring units of ``kind`` overall (masked ones first; one stays per layer)."""
        rows = []
        for score, keep in zip(self.current(model, kind), self.keep[kind]):
            s = score.detach().float().cpu().clone()
            s[~keep] = float("-inf")
            rows.append(s.tolist())
        kept = select_removals(rows, count, min_keep=1)
        for i, keep in enumerate(self.keep[kind]):
            new = torch.zeros_like(keep)
            new[kept[i]] = True
            self.keep[kind][i] = new & keep

    def removed(self, kind: str) -> int:
        return sum(int((~k).sum()) for k in self.keep.get(kind, []))

    def total(self, kind: str) -> int:
        return sum(k.numel() for k in self.keep.get(kind, []))

    def masks(self, model: nn.Module) -> Masks:
        """Weight masks zeroing every masked head's and neuron's slices (exactly as removing them would)."""
        params = dict(model.named_parameters())
        out: Masks = {}
        for kind, layers in self.kinds.items():
            for parts, keep in zip(layers, self.keep[kind]):
                if bool(keep.all()):
                    continue
                for part in parts:
                    m = part.mask(keep, params[part.name].device)
                    out[part.name] = out[part.name] * m if part.name in out else m
        return out

    def kept(self, kind: str) -> dict[int, list[int]]:
        return {i: torch.nonzero(k).flatten().tolist() for i, k in enumerate(self.keep.get(kind, []))}
