"""Movement pruning during fine-tuning (Sanh, Wolf & Rush 2020, "Movement Pruning: Adaptive Sparsity by Fine-Tuning").

Magnitude pruning keeps the weights that are large; movement pruning keeps
those that fine-tuning moves away from zero. Every backward pass adds
``-W * dL/dW`` to a score (:mod:`core.methods.pruning.movement_scores`), and
along the cubic schedule of :mod:`core.methods.pruning.gradual` the lowest
scores are masked, so the model adapts to what is gone while it trains.

``granularity: weights`` masks single weights of the encoder's linears
(unstructured: smaller compressed size, no dense speed-up). ``granularity:
blocks`` scores whole attention heads and FFN neurons (block movement, as in
HF ``nn_pruning``), masks the lowest during training, and removes them
physically at the end with the same surgery as ``prune.heads`` / ``prune.ffn``,
so the model really shrinks; layers may end with different sizes.

The scores read the gradients the training loop's ``after_backward`` hook
shows, averaged over processes, so every process masks the same units. Under
fp16 those gradients still carry the loss scale (constant for long stretches);
steps whose gradients overflow are left out, as the optimiser leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from core.engine.training import TrainSettings, train_model
from core.methods.family import report_cut
from core.methods.pruning.ffn import FFN_REFUSALS
from core.methods.pruning.gradual import cubic_sparsity
from core.methods.pruning.heads import HEADS_REFUSALS
from core.methods.pruning.masks import apply_masks, prunable_weights, sparsity
from core.methods.pruning.movement_scores import BlockScores, WeightScores, topk_masks
from core.methods.pruning.structured import update_extras
from core.models.adapters import FamilyRefusal
from core.models.architecture import count_parameters
from core.models.surgery import ffn_widths, head_counts, keep_ffn, keep_heads
from core.naming import pct
from core.registry import Refusal, register_method, setting

METHOD = "prune.movement"


@dataclass
class MovementSettings(TrainSettings):
    granularity: str = setting("blocks", "Score and remove whole attention heads and FFN neurons (blocks: real "
                               "speed-up), or single weights (weights: unstructured masks)",
                               choices=("blocks", "weights"))
    score: str = setting("movement", "Rank by accumulated movement -W x dL/dW (Sanh et al.), or by |W| "
                         "(magnitude, the baseline movement is compared with)", choices=("movement", "magnitude"))
    final_sparsity: float = setting(0.8, "weights: share of the encoder's linear weights zeroed at the end",
                                    min=0.0, max=0.99)
    heads_amount: float = setting(0.5, "blocks: share of all attention heads removed (each layer keeps one)",
                                  min=0.0, max=0.95)
    ffn_amount: float = setting(0.5, "blocks: share of all FFN neurons removed (each layer keeps one)",
                                min=0.0, max=0.95)
    scope: str = setting("global", "Rank across all layers together (per-layer counts may differ), or remove "
                         "the same share within each weight matrix (weights granularity only)",
                         choices=("global", "per_layer"))
    start_share: float = setting(0.1, "Share of the training steps that only accumulate scores before masking "
                                 "starts", min=0.0, max=0.9)
    end_share: float = setting(0.7, "Share of the training steps by which the final amount is masked (the rest "
                               "fine-tunes the pruned model)", min=0.01, max=1.0)
    prune_every: int = setting(10, "Update the masks every N steps", min=1, max=100000)

    def validate(self):
        problems = []
        if self.end_share <= self.start_share:
            problems.append(("end_share", f"must be greater than start_share ({self.start_share})"))
        if self.granularity == "blocks" and self.heads_amount == 0 and self.ffn_amount == 0:
            problems.append(("heads_amount", "granularity blocks needs heads_amount or ffn_amount above 0 "
                             "(nothing would be pruned)"))
        if self.granularity == "weights" and self.final_sparsity == 0:
            problems.append(("final_sparsity", "granularity weights needs final_sparsity above 0 "
                             "(nothing would be pruned)"))
        if self.granularity == "blocks" and self.scope == "per_layer":
            problems.append(("scope", "per_layer applies to granularity weights; blocks rank heads and "
                             "neurons across layers (use global)"))
        return problems


def schedule_share(step: int, total: int, cfg: MovementSettings) -> float:
    """How much of the final amount is masked at ``step`` (0..1), on the cubic schedule."""
    curve = SimpleNamespace(start_share=cfg.start_share, end_share=cfg.end_share, initial_sparsity=0.0,
                            final_sparsity=1.0)
    return cubic_sparsity(step, total, curve)


# Blocks are cut with prune.heads' and prune.ffn's surgery: refused before a run where they are, for the same reason.
_SURGERY = (("prune.heads", HEADS_REFUSALS), ("prune.ffn", FFN_REFUSALS))
BLOCKS_REFUSALS = tuple(Refusal(r.families, f"blocks are removed like {method} removes them, and {r.reason}",
                                "granularity", "blocks") for method, refusals in _SURGERY for r in refusals)


def _phrase(s) -> str:
    if s.granularity == "weights":
        return f"movement {pct(s.final_sparsity)}"
    return f"movement heads {pct(s.heads_amount)}, FFN {pct(s.ffn_amount)}"


def _refuse_blocks(adapter, cfg: MovementSettings) -> None:
    """At run time only the part that cuts something is refused: blocks with heads_amount 0 cut no head."""
    for method, amount in (("prune.heads", cfg.heads_amount), ("prune.ffn", cfg.ffn_amount)):
        refusals = dict(_SURGERY)[method]
        reason = next((r.reason for r in refusals if adapter.family in r.families), None)
        if amount > 0 and reason:
            part = "heads_amount" if method == "prune.heads" else "ffn_amount"
            raise FamilyRefusal(f"{METHOD} with granularity: blocks and {part} above 0 cannot apply to a "
                                f"{adapter.title} model ({adapter.family}): {reason}")


def _product(mask, old):
    return mask * old.to(mask.device, mask.dtype) if old is not None and old.shape == mask.shape else mask


class _Schedule:
    """The training hooks: accumulate scores after each backward pass, re-mask on schedule before a step."""

    def __init__(self, ctx, cfg: MovementSettings, scores, masks: dict, prior: dict):
        self.ctx, self.cfg, self.scores = ctx, cfg, scores
        self.masks, self.prior = masks, prior  # masks: the dict train_model re-applies; prior: state.masks
        self.current = 0.0

    def accumulate(self, model, step: int, total: int) -> None:
        self.scores.accumulate(model)

    def __call__(self, model, step: int, total: int) -> None:
        share = schedule_share(step, total, self.cfg)
        due = step % self.cfg.prune_every == 0 or share >= 1.0
        if share > self.current and due:
            self.update(model, share)

    def update(self, model, share: float) -> None:
        cfg = self.cfg
        if cfg.granularity == "weights":
            target = share * cfg.final_sparsity
            new = topk_masks(self.scores.current(model), target, cfg.scope, current=self.masks)
            merged = dict(self.prior)
            for name, mask in new.items():  # a zero stays zero, even where it is more than this target asks
                merged[name] = _product(mask, self.masks.get(name))
        else:
            if cfg.heads_amount > 0:
                self.scores.select(model, "heads", int(round(share * cfg.heads_amount * self.scores.total("heads"))))
            if cfg.ffn_amount > 0:
                self.scores.select(model, "ffn", int(round(share * cfg.ffn_amount * self.scores.total("ffn"))))
            merged = dict(self.prior)
            for name, mask in self.scores.masks(model).items():
                merged[name] = _product(mask, merged.get(name))
        self.masks.clear()
        self.masks.update(merged)  # same dict object: train_model applies it after every optimiser step
        apply_masks(model, self.masks)
        self.current = share
        self.ctx.metric("prune/target_share", share)
        if cfg.granularity == "weights":
            self.ctx.metric("model/sparsity", sparsity(model)["overall"])
        else:
            for kind in self.scores.kinds:
                self.ctx.metric(f"prune/masked_{kind}", self.scores.removed(kind))


@register_method(
    METHOD,
    family="pruning",
    title="Movement pruning",
    description="Fine-tune while pruning what training moves toward zero (Sanh et al. 2020): scores accumulate "
    "-W x gradient, and along a cubic schedule the lowest are masked so the model adapts. Blocks: whole attention "
    "heads and FFN neurons, removed physically at the end (real speed-up; layers may differ in size). Weights: "
    "single weights masked (shrinks compressed size, not dense latency).",
    config=MovementSettings,
    trains=True,
    refuses=BLOCKS_REFUSALS,
    structural=lambda cfg: cfg.granularity == "blocks",
    phrase=_phrase,
)
def prune_movement(state, cfg: MovementSettings, ctx):
    blocks = cfg.granularity == "blocks"
    if blocks:
        _refuse_blocks(ctx.adapter, cfg)
    model = state.model
    before = count_parameters(model)
    prior = dict(state.masks or {})
    if blocks:
        scores = BlockScores(model, heads=cfg.heads_amount > 0, ffn=cfg.ffn_amount > 0, score=cfg.score)
    else:
        scores = WeightScores(prunable_weights(model), cfg.score)
    masks: dict = dict(prior)
    schedule = _Schedule(ctx, cfg, scores, masks, prior)
    model = train_model(ctx, model, cfg, ctx.task, masks=masks, before_step=schedule,
                        after_backward=schedule.accumulate)
    if scores.skipped:
        ctx.log(f"movement pruning: {scores.skipped} backward passes had inf/nan gradients (fp16 overflow) and "
                "were left out of the scores", "warning")
    if schedule.current < 1.0:
        schedule.update(model, 1.0)  # a step cap (or end_share 1) cut the schedule short: no training after this
        ctx.log("movement pruning: the schedule did not finish within the training steps; the final amount was "
                "masked after the last step (lower end_share or add a finetune step to recover)", "warning")
    if not blocks:
        report = sparsity(model)
        ctx.log(f"movement pruning ({cfg.score}, weights): {report['overall']:.1%} of the encoder's linear weights "
                f"are zero")
        ctx.log("per-layer sparsity: " + ", ".join(f"{n.removesuffix('.weight')}: {v:.1%}"
                                                   for n, v in report.items() if n != "overall"))
        return state.replace(model=model, masks=masks)
    return _remove_blocks(state, model, scores, prior, before, ctx)


def _remove_blocks(state, model, scores: BlockScores, prior: dict, before: int, ctx):
    """Cut the masked heads and neurons out of the model; the earlier masks are sliced with the weights."""
    start_heads, start_ffn = head_counts(model), ffn_widths(model)
    new_masks = dict(prior) if state.masks is not None else None
    heads = None
    if "heads" in scores.kinds:
        heads = scores.kept("heads")
        new_masks = keep_heads(model, heads, new_masks)
        ctx.mask("heads", [[float(v) for v in k.tolist()] for k in scores.keep["heads"]])
    if "ffn" in scores.kinds:
        new_masks = keep_ffn(model, scores.kept("ffn"), new_masks)
        ctx.mask("ffn", [[float(v) for v in k.tolist()] for k in scores.keep["ffn"]])
    new = update_extras(state, model, new_masks, heads=heads, ctx=ctx)
    ctx.metric("model/heads", sum(head_counts(model)))
    report_cut(ctx, model, before, f"movement pruning ({scores.score}, blocks)",
               f"{scores.removed('heads')} of {sum(start_heads)} heads and {scores.removed('ffn')} of "
               f"{sum(start_ffn)} FFN neurons removed; heads per layer {start_heads} -> {head_counts(model)}, "
               f"FFN widths {start_ffn} -> {ffn_widths(model)}")
    return new
