"""Low-rank factorization of the encoder's linear layers by truncated SVD."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from core.methods.family import report_cut
from core.methods.factorization.modules import LowRankLinear, truncated_svd
from core.methods.pruning.structured import recover
from core.methods.selection import agreed
from core.models.adapters import adapter_for
from core.models.architecture import count_parameters
from core.registry import Refusal, register_method, setting


@dataclass
class LinearFactorizeSettings:
    targets: str = setting("ffn", "Which linear layers to factorize", choices=("attention", "ffn", "both"))
    rank_by: str = setting("ratio", "Choose each rank as a share of the full rank, or by the share of "
                           "squared singular values kept", choices=("ratio", "energy"))
    ratio: float = setting(0.25, "Rank as a share of the full rank (rank_by ratio)", min=0.01, max=1.0)
    energy: float = setting(0.9, "Share of the squared singular values to keep (rank_by energy)", min=0.01, max=1.0)
    scope: str = setting("per_layer", "Rank each matrix on its own, or rank singular values of all targets "
                         "together (each matrix normalised)", choices=("per_layer", "global"))
    recovery_epochs: float = setting(0.0, "Fine-tuning after factorizing (0: none)", min=0.0, max=100)
    recovery_learning_rate: float = setting(5e-5, "Learning rate of the recovery fine-tuning", min=1e-7, max=1.0)
    recovery_batch_size: int = setting(32, "Batch size of the recovery fine-tuning", min=1, max=4096)


def target_linears(model: nn.Module, targets: str) -> list[tuple[nn.Module, str, str]]:
    """``(parent, attribute, qualified name)`` of each plain ``nn.Linear`` selected by ``targets``."""
    adapter = adapter_for(model)
    out = []
    for layer, name in zip(adapter.layers(model), adapter.layer_names(model)):
        for full in adapter.linear_paths(targets):
            path, _, attr = full.rpartition(".")
            parent = layer.get_submodule(path) if path else layer
            if isinstance(getattr(parent, attr, None), nn.Linear):
                out.append((parent, attr, f"{name}.{full}"))
    return out


def choose_ranks(spectra: list[torch.Tensor], cfg: LinearFactorizeSettings) -> list[int]:
    """A rank per matrix from its singular values ``spectra[k]`` (descending)."""
    if cfg.scope == "per_layer":
        ranks = []
        for s in spectra:
            if cfg.rank_by == "ratio":
                ranks.append(int(round(cfg.ratio * s.numel())))
            else:
                share = (s ** 2).cumsum(0) / (s ** 2).sum().clamp_min(1e-30)
                ranks.append(int((share < cfg.energy - 1e-9).sum()) + 1)
        return agreed([max(1, min(r, s.numel())) for r, s in zip(ranks, spectra)])
    # global: pool every matrix's singular values on one scale and keep the largest overall
    if cfg.rank_by == "ratio":
        values = [s / s.norm().clamp_min(1e-30) for s in spectra]
        keep = int(round(cfg.ratio * sum(v.numel() for v in values)))
    else:
        values = [s ** 2 / (s ** 2).sum().clamp_min(1e-30) for s in spectra]
    pooled = torch.cat(values)
    owner = torch.cat([torch.full((v.numel(),), k) for k, v in enumerate(values)])
    order = pooled.argsort(descending=True)
    if cfg.rank_by == "energy":
        cum = pooled[order].cumsum(0)
        keep = int((cum < cfg.energy * len(values) - 1e-9).sum()) + 1
    counts = torch.bincount(owner[order[:keep]], minlength=len(values))
    return agreed([max(1, min(int(c), v.numel())) for c, v in zip(counts, values)])


@register_method(
    "factorize.linear",
    family="factorization",
    title="Low-rank linear layers (SVD)",
    description="Replace attention and/or FFN weight matrices by two thin factors from a truncated SVD, "
    "with the rank set by a share of the full rank or of the spectrum's energy. A layer is replaced only "
    "when the factors are smaller than the original.",
    config=LinearFactorizeSettings,
    refuses=[Refusal("mobilebert", "MobileBERT's linears are already narrow bottleneck projections; low-rank "
                                   "factorization is not supported for it")],
    structural=True,
    phrase=lambda s: f"low-rank {s.targets}",
)
def factorize_linear(state, cfg: LinearFactorizeSettings, ctx):
    model = state.model
    found = target_linears(model, cfg.targets)
    if not found:
        ctx.log("no plain linear layers to factorize among the targets", "warning")
        return state
    ctx.progress(0, len(found) + 1, "singular value decompositions", force=True)
    spectra = []
    for k, (parent, attr, _) in enumerate(found):
        ctx.check()
        spectra.append(truncated_svd(getattr(parent, attr).weight)[1])
        ctx.progress(k + 1, len(found) + 1, "singular value decompositions")
    ranks = choose_ranks(spectra, cfg)
    before = count_parameters(model)
    masks = dict(state.masks or {})
    replaced, dropped = [], 0
    for (parent, attr, name), rank in zip(found, ranks):
        linear = getattr(parent, attr)
        if rank * (linear.in_features + linear.out_features) >= linear.in_features * linear.out_features:
            continue  # the factors would not be smaller
        setattr(parent, attr, LowRankLinear.from_linear(linear, rank))
        replaced.append(f"{name.split('.layer.', 1)[-1]}: {rank}")
        dropped += masks.pop(f"{name}.weight", None) is not None  # the factors are dense again
    new = state.replace()
    if new.masks is not None:
        new.masks = masks
    if dropped:
        ctx.log(f"dropped {dropped} unstructured pruning masks of factorized layers", "warning")
    report_cut(ctx, model, before, "low-rank factorization", f"{len(replaced)} of {len(found)} layers replaced"
               + (f", ranks {', '.join(replaced)}" if replaced else ""))
    if replaced and cfg.recovery_epochs > 0:
        model = recover(ctx, model, cfg.recovery_epochs, cfg.recovery_learning_rate, cfg.recovery_batch_size,
                        new.masks)
        new = new.replace(model=model)
    ctx.progress(len(found) + 1, len(found) + 1, "factorized", force=True)
    return new
