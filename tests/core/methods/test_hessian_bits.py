"""Q-BERT's Hessian bit allocation for quant.kbit: power iteration, Hutchinson, the exact allocation, wiring."""

import itertools
import random
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

from core import events as ev
from core.engine import Engine
from core.export.api import export_model
from core.export import load_export
from core.methods.quantization import hessian
from core.methods.quantization.kbit import KBitSettings, kbit
from core.models.architecture import encoder_of, serialized_size
from core.recipe import Step
from core.registry import build_config
from tests.conftest import method_context, tiny_recipe
from tests.core.export.helpers import logits
from tests.core.methods.test_distillation_support import fixed_batch, tiny_bert

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST = {"hessian_batches": 2, "hessian_batch_size": 8, "hessian_iterations": 8, "group_size": 16}


def _symmetric(eigenvalues, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(eigenvalues), len(eigenvalues), generator=g, dtype=torch.float64))
    return q @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T


def _quadratic_grads(a):
    """Loss 0.5 x.Ax with x split over two tensors (a layer's several weights): its gradients with a graph."""
    n = a.shape[0]
    x1 = torch.randn(3, dtype=torch.float64, requires_grad=True)
    x2 = torch.randn(n - 3, dtype=torch.float64, requires_grad=True)
    x = torch.cat([x1, x2])
    loss = 0.5 * x @ a @ x + x.sum()  # a linear term does not change the Hessian
    return torch.autograd.grad(loss, [x1, x2], create_graph=True), [x1, x2]


@pytest.mark.parametrize("eigenvalues", [[9.0, 3.0, 2.0, 1.0, 0.5, 0.1, 0.0, 0.2],
                                         [-6.0, 2.0, 1.0, 0.5, 0.3, 3.0]])
def test_power_iteration_finds_the_top_eigenvalue(eigenvalues):
    a = _symmetric(eigenvalues)
    grads, params = _quadratic_grads(a)
    ev_ = torch.linalg.eigvalsh(a)
    expected = float(ev_[ev_.abs().argmax()])  # the eigenvalue of largest magnitude (negative in the 2nd case)
    found = hessian.top_eigenvalue(grads, params, 200, torch.Generator().manual_seed(1), tolerance=1e-10)
    assert found == pytest.approx(expected, rel=1e-6)


def test_hutchinson_estimates_the_trace():
    diagonal = torch.diag(torch.tensor([4.0, -1.0, 2.5, 0.5, 3.0], dtype=torch.float64))
    grads, params = _quadratic_grads(diagonal)
    # Rademacher vectors: v.Dv = trace(D) exactly for a diagonal D
    assert hessian.hutchinson_trace(grads, params, 3, torch.Generator().manual_seed(0)) == pytest.approx(9.0)
    a = _symmetric([5.0, 3.0, 2.0, 1.0, 1.0, 0.5], seed=3)
    grads, params = _quadratic_grads(a)
    estimate = hessian.hutchinson_trace(grads, params, 2000, torch.Generator().manual_seed(0))
    assert estimate == pytest.approx(12.5, rel=0.05)


def _brute_force(sens, errors, sizes, cands, budget):
    best = None
    for choice in itertools.product(sorted(cands), repeat=len(sens)):
        if sum(b * n for b, n in zip(choice, sizes)) > budget * sum(sizes) + 1e-9:
            continue
        obj = sum(s * e[b] for s, e, b in zip(sens, errors, choice))
        if best is None or obj < best[0] - 1e-12:
            best = (obj, choice)
    return best


def test_allocation_is_the_exact_optimum_within_the_budget():
    rng = random.Random(0)
    cands = [2, 3, 4, 8]
    for trial in range(60):
        n = rng.randint(1, 5)
        sens = [rng.uniform(0, 10) ** 2 for _ in range(n)]
        sizes = [rng.choice([96, 128, 640, 1000]) for _ in range(n)]
        errors = [{b: rng.uniform(0.5, 2.0) * size * 4.0 ** -b for b in cands} for size in sizes]
        budget = rng.uniform(2.0, 8.0)
        chosen = hessian.allocate_bits(sens, errors, sizes, cands, budget)
        assert hessian.average_bits(chosen, sizes) <= budget + 1e-12
        best_obj, _ = _brute_force(sens, errors, sizes, cands, budget)
        assert sum(s * e[b] for s, e, b in zip(sens, errors, chosen)) == pytest.approx(best_obj, rel=1e-9), trial
    # a budget met exactly, and the sensitive layer gets the bits
    errors = [{b: 4.0 ** -b for b in cands}] * 2
    assert hessian.allocate_bits([1.0, 100.0], errors, [64, 64], cands, 5.0) == [2, 8]
    assert hessian.allocate_bits([100.0, 1.0], errors, [64, 64], cands, 5.0) == [8, 2]
    assert hessian.allocate_bits([1.0, 1.0], errors, [64, 64], cands, 8.0) == [8, 8]
    with pytest.raises(ValueError, match="below the smallest candidate"):
        hessian.allocate_bits([1.0], errors[:1], [64], [3, 4], 2.5)


class _TwoLayers(nn.Module):
    """Two one-linear 'layers'; the loss weighs layer 1's output 400 times more, so its curvature is 400x."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layers = nn.ModuleList([nn.Sequential(nn.Linear(16, 16)) for _ in range(2)])

    def forward(self, x, y):
        out0, out1 = self.layers[0](x), self.layers[1](x)
        return SimpleNamespace(loss=((out0 - y) ** 2).mean() + 400.0 * ((out1 - y) ** 2).mean())


@pytest.mark.parametrize("measure", ["eigenvalue", "trace"])
def test_the_more_sensitive_layer_gets_more_bits(measure):
    model = _TwoLayers()
    g = torch.Generator().manual_seed(0)
    batches = [{"x": torch.randn(32, 16, generator=g), "y": torch.randn(32, 16, generator=g)} for _ in range(2)]
    sens = hessian.layer_sensitivity(model, list(model.layers), batches, measure, 50, seed=0)
    # same inputs, the loss scaled by 400 (Hutchinson draws other random vectors per layer: a looser match)
    assert sens.mean[1] == pytest.approx(400 * sens.mean[0], rel=1e-3 if measure == "eigenvalue" else 0.05)
    assert len(sens.samples[0]) == 2 and all(v > 0 for v in sens.mean)
    assert all(p.requires_grad for p in model.parameters()) and model.training  # flags restored
    errors = hessian.layer_errors(list(model.layers), [2, 4, 8], 0, True)
    assert errors[0][2] > errors[0][4] > errors[0][8] > 0
    chosen = hessian.allocate_bits(sens.mean, errors, [256, 256], [2, 4, 8], 5.0)
    assert chosen == [2, 8]


def _quantize(tmp_path, task, budget, **extra):
    state = tiny_bert(layers=3)
    ctx = method_context(tmp_path, task, state)
    settings = {"bits_from": "hessian", "budget_bits": budget, **FAST, "hessian_batches": 1, **extra}
    cfg, errors = build_config(KBitSettings, settings)
    assert not errors, errors
    return kbit(state, cfg, ctx), ctx


def test_hessian_mode_quantizes_the_layers_with_the_chosen_bits(tmp_path, tiny_task):
    sizes, allocations, logs = {}, {}, {}
    for budget in (8.0, 5.0, 2.0):
        out, ctx = _quantize(tmp_path / str(budget), tiny_task, budget)
        alloc = out.extras["quantization"]["allocation"]
        layers = encoder_of(out.model).layer
        assert [layers[i].intermediate.dense.bits for i in range(3)] == alloc["layer_bits"] == alloc["bits"]
        assert alloc["average_bits"] <= budget and len(alloc["sensitivity"]) == 3
        assert [ctx.seen[f"quant/bits/layer_{i}"][-1] for i in range(3)] == alloc["bits"]
        assert ctx.seen["quant/bits/average"][-1] == pytest.approx(alloc["average_bits"])
        sizes[budget], allocations[budget], logs[budget] = serialized_size(out.model), alloc, ctx.events
    assert sizes[8.0] > sizes[5.0] > sizes[2.0]
    assert allocations[8.0]["bits"] == [8, 8, 8] and allocations[2.0]["bits"] == [2, 2, 2]
    # 5 bits over three equal layers: the layers get different widths, or the log says why not
    if len(set(allocations[5.0]["bits"])) == 1:
        assert any("every layer got" in e.message for e in logs[5.0] if isinstance(e, ev.LogMessage))
    # the same seed and batches: the same sensitivity on every run
    assert allocations[5.0]["sensitivity"] == allocations[2.0]["sensitivity"]
    sens, bits = allocations[5.0]["sensitivity"], allocations[5.0]["bits"]
    assert bits[sens.index(max(sens))] == max(bits)  # the most sensitive layer keeps the most bits


def test_trace_sensitivity_runs_too(tmp_path, tiny_task):
    out, ctx = _quantize(tmp_path, tiny_task, 4.0, sensitivity="trace")
    alloc = out.extras["quantization"]["allocation"]
    assert alloc["sensitivity_measure"] == "trace" and all(v > 0 for v in alloc["sensitivity"])
    table = [e.message for e in ctx.events if isinstance(e, ev.LogMessage) and "Hessian bit allocation" in e.message]
    assert len(table) == 1 and "trace" in table[0] and table[0].count("\n") == 4  # header line, column titles, 3 rows


@pytest.mark.parametrize("settings, field, message", [
    ({"bits_from": "hessian", "layer_bits": [4, 8]}, "layer_bits", "leave layer_bits empty"),
    ({"bits_from": "hessian", "budget_bits": 2.5, "candidate_bits": [3, 4]}, "budget_bits",
     "below the smallest candidate (3 bits)"),
    ({"candidate_bits": [2, 9]}, "candidate_bits", "between 2 and 8, got 9"),
    ({"candidate_bits": ["x"]}, "candidate_bits", "cannot read candidate bits"),
    ({"candidate_bits": []}, "candidate_bits", "at least one candidate"),
    ({"budget_bits": 9.0}, "budget_bits", "at most 8"),
    ({"bits_from": "auto"}, "bits_from", "must be one of manual, hessian"),
    ({"sensitivity": "diagonal"}, "sensitivity", "must be one of eigenvalue, trace"),
])
def test_invalid_settings_are_refused(settings, field, message):
    cfg, errors = build_config(KBitSettings, settings)
    assert cfg is None and any(f == field and message in m for f, m in errors), errors


def test_manual_mode_is_unchanged_by_the_new_settings():
    cfg, errors = build_config(KBitSettings, {"layer_bits": [8, 2], "budget_bits": 2.0})
    assert not errors and cfg.bits_from == "manual"  # budget ignored in manual mode
    problems = tiny_recipe(Step("quant.kbit", {"bits_from": "hessian", "layer_bits": [4, 4]})).problems()
    assert any(p.field == "layer_bits" for p in problems)


def test_engine_run_records_the_allocation_and_exports(tmp_path, tiny_task):
    engine = Engine(workdir_root=tmp_path / "runs")
    seen = {}
    engine.bus.subscribe(ev.Metric, lambda e: seen.setdefault(e.key, []).append(e.value))
    recipe = tiny_recipe(Step("quant.kbit", {"bits_from": "hessian", "budget_bits": 5.0, **FAST}))
    result = engine.run(recipe, task=tiny_task, use_cache=False)
    assert result.status == "finished", result.error
    alloc = result.state.extras["quantization"]["allocation"]
    assert alloc["average_bits"] <= 5.0 and set(alloc["bits"]) <= {2, 3, 4, 8}
    assert [seen[f"quant/bits/layer_{i}"][-1] for i in range(len(alloc["bits"]))] == alloc["bits"]
    assert result.results["size_bytes"] < result.results["baseline_size_bytes"]
    batch = {k: v for k, v in fixed_batch(tiny_task).items() if k != "labels"}
    report = export_model(result.state, tmp_path / "hf", "hf", latency_repeats=1)
    assert report.verified
    reloaded = load_export(tmp_path / "hf")
    bits = [layer.output.dense.bits for layer in encoder_of(reloaded.model).layer]
    assert bits == alloc["layer_bits"]
    torch.testing.assert_close(logits(reloaded.model, batch), logits(result.state.model, batch))


@pytest.mark.parametrize("family", ["distilbert", "albert", "deberta-v2", "modernbert"])
def test_hessian_mode_on_other_families(family, tiny_task, tmp_path):
    """Double backward through each family's attention; ALBERT's shared layer is measured and quantized once."""
    from core.models.adapters import adapter_for
    from tests.conftest import apply_method
    from tests.core.methods.families import family_state, family_task

    state = family_state(family, tiny_task.tokenizer)
    task = family_task(family, tiny_task)
    out = apply_method("quant.kbit", state, method_context(tmp_path, task, state), bits_from="hessian",
                       budget_bits=3.0, **{**FAST, "hessian_batches": 1, "hessian_iterations": 4})
    alloc = out.extras["quantization"]["allocation"]
    layers = adapter_for(out.model).layers(out.model)
    assert len(alloc["layer_bits"]) == len(layers) and alloc["average_bits"] <= 3.0
    assert all(v > 0 for v in alloc["sensitivity"])
    for layer, bits in zip(layers, alloc["layer_bits"]):
        assert {m.bits for m in layer.modules() if hasattr(m, "codes")} == {bits}
