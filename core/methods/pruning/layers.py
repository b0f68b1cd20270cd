"""Layer pruning: keep a subset of the encoder layers."""

from __future__ import annotations

from dataclasses import dataclass

from core.methods.pruning.ablation import baseline, layer_ablation
from core.methods.pruning.importance import layer_gradient_importance, task_batches
from core.methods.pruning.structured import stored_sensitivity, update_extras
from core.methods.family import report_cut
from core.methods.selection import select_top
from core.methods.task_measure import has_accuracy, task_kind
from core.models.adapters.albert import SHARED_LAYERS
from core.models.architecture import count_parameters, layers_of
from core.models.surgery import keep_layers
from core.registry import Refusal, register_method, setting

STRATEGIES = ("every_other", "first_k", "list", "least_important")


@dataclass
class LayerPruneSettings:
    strategy: str = setting("every_other", "Which layers stay: every other one, the first k, an explicit list, "
                            "or the k whose removal would cost most", choices=STRATEGIES)
    keep: int = setting(3, "Layers to keep (first_k and least_important)", min=1, max=1000)
    layers: list[int] = setting([], "Layer indices to keep, counting from 0 (strategy list)")
    start: int = setting(0, "every_other keeps layers start, start+2, ... (0 or 1)", min=0, max=1)
    importance_source: str = setting(
        "validation", "least_important: measure the validation cost of skipping each layer (accuracy; the task's "
        "loss for a task without one), use gradients of a "
        "layer gate, or reuse an analyze.sensitivity step's scores", choices=("validation", "gradient", "sensitivity"))
    eval_samples: int | None = setting(256, "Validation sentences per measurement (empty: all)", min=1, optional=True)
    batches: int = setting(16, "Training batches for the gradient scores", min=1, max=10000)
    batch_size: int = setting(32, "Sentences per batch", min=1, max=4096)

    def __post_init__(self):
        # a GUI or CLI may hand the list over as text ("0, 2, 4")
        self.layers = [int(v) if isinstance(v, str) and v.strip().isdigit() else v for v in self.layers]

    def validate(self):
        problems = []
        if self.strategy == "list":
            if not self.layers:
                problems.append(("layers", "list the layer indices to keep (strategy list)"))
            elif any(not isinstance(i, int) or isinstance(i, bool) or i < 0 for i in self.layers):
                problems.append(("layers", f"must be whole numbers of at least 0; got {self.layers!r}"))
            elif len(set(self.layers)) != len(self.layers):
                problems.append(("layers", f"lists a layer twice: {self.layers!r}"))
        elif self.layers and any(not isinstance(i, int) for i in self.layers):
            problems.append(("layers", f"must be whole numbers; got {self.layers!r}"))
        return problems


def layer_scores(state, model, cfg: LayerPruneSettings, ctx) -> list[float]:
    """Importance per layer, higher = more needed."""
    n = len(layers_of(model))
    if cfg.importance_source == "sensitivity":
        sens = stored_sensitivity(state) or {}
        rows = sens.get("layers")
        if rows and len(rows) == n:
            return [float(v) for v in rows]
        ctx.log("no layer sensitivity matching this model in the stack; measuring on validation instead", "warning")
    elif cfg.importance_source == "gradient":
        return layer_gradient_importance(model, task_batches(ctx, model, "train", cfg.batch_size, cfg.batches))

    def make_loader():
        return ctx.task.loader("validation", max(64, cfg.batch_size), limit=cfg.eval_samples)

    kind = task_kind(ctx.task)
    base_score, base_loss = baseline(model, make_loader, ctx.check, kind)
    ablated = layer_ablation(model, make_loader, ctx.check, kind)
    if not has_accuracy(kind):  # the task's own loss: its increase when the layer is skipped
        return [loss - base_loss for _, loss in ablated]
    # accuracy drop first; the loss increase breaks ties (small validation sets give coarse accuracies)
    return [(base_score - acc) + 1e-3 * (loss - base_loss) for acc, loss in ablated]


def choose_layers(state, model, cfg: LayerPruneSettings, ctx) -> list[int]:
    n = len(layers_of(model))
    if cfg.strategy == "every_other":
        return list(range(min(cfg.start, n - 1), n, 2))
    if cfg.strategy == "list":
        bad = [i for i in cfg.layers if i >= n]
        if bad:
            raise ValueError(f"prune.layers: the model has {n} layers (0..{n - 1}); cannot keep {bad}")
        return sorted(cfg.layers)
    if cfg.keep > n:
        raise ValueError(f"prune.layers: cannot keep {cfg.keep} layers of a {n}-layer model")
    if cfg.strategy == "first_k":
        return list(range(cfg.keep))
    scores = layer_scores(state, model, cfg, ctx)
    ctx.log("layer importance: " + ", ".join(f"{i}: {s:.4g}" for i, s in enumerate(scores)))
    return select_top(scores, cfg.keep)


@register_method(
    "prune.layers",
    family="pruning",
    title="Layer pruning",
    description="Remove whole encoder layers: keep every other one, the first k, a list, or the k layers "
    "whose removal would cost most on validation (the accuracy, or the task's loss). Cheapest after train.layerdrop.",
    config=LayerPruneSettings,
    refuses=[Refusal("albert", SHARED_LAYERS)],
    structural=True,
    phrase=lambda s: f"layers {len(s.layers)} dropped" if s.layers else f"keep {s.keep} layers",
)
def prune_layers(state, cfg: LayerPruneSettings, ctx):
    model = state.model
    n = len(layers_of(model))
    ctx.progress(0, 1, "choosing layers", force=True)
    kept = choose_layers(state, model, cfg, ctx)
    before = count_parameters(model)
    masks = keep_layers(model, kept, state.masks)
    new = update_extras(state, model, masks, layers=kept, ctx=ctx)
    ctx.mask("layers", [[1.0 if i in kept else 0.0 for i in range(n)]])
    report_cut(ctx, model, before, "layer pruning", f"kept layers {kept} of {n}")
    ctx.progress(1, 1, "layers pruned", force=True)
    return new
