"""Every family of methods runs through the engine on each device this machine has (CPU; CUDA when present).

The same three stacks cover all the registered methods; on CUDA the model
stays on the GPU unless a real int8 conversion (CPU kernels) ends the stack.
"""

from __future__ import annotations

import pytest
import torch

from core.engine import Engine
from core.recipe import Step
from tests.conftest import tiny_recipe

SHORT = {"max_steps": 2, "batch_size": 16}
SCORING = {"batches": 2, "batch_size": 8}

STACKS = {
    "pruning, factorization, k-bit": [
        Step("finetune", SHORT), Step("analyze.sensitivity", SCORING),
        Step("prune.heads", {"amount": 0.5, **SCORING}), Step("prune.ffn", {"amount": 0.5, **SCORING}),
        Step("prune.magnitude", {"sparsity": 0.3}), Step("finetune", SHORT),
        Step("factorize.linear", {"targets": "ffn", "ratio": 0.5}), Step("factorize.embeddings", {"embedding_size": 16}),
        Step("quant.kbit", {"bits": 4}), Step("evaluate"),
    ],
    "distillation, sharing, QAT": [
        Step("finetune", SHORT), Step("distill.student_init", {"mode": "layers"}),
        Step("distill.train", {**SHORT, "hidden_weight": 1.0, "attention_weight": 1.0}),
        Step("share.layers", {"group_size": 2, **SHORT}), Step("quant.qat", SHORT),
    ],
    "layers, gradual, task-agnostic, int8": [
        Step("finetune", SHORT), Step("train.layerdrop", SHORT), Step("prune.layers", {"strategy": "every_other"}),
        Step("prune.gradual_magnitude", {"final_sparsity": 0.5, **SHORT}),
        Step("distill.task_agnostic", SHORT), Step("quant.dynamic_int8", {"embedding_bits": 8}),
    ],
}
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(STACKS))
def test_every_family_runs_on_the_device(tmp_path, tiny_task, device, name):
    recipe = tiny_recipe(*STACKS[name], train=64)
    recipe.device = device
    recipe.evaluation.measure_baseline = False
    result = Engine(workdir_root=tmp_path).run(recipe, task=tiny_task)
    assert result.status == "finished", result.error
    assert 0.0 <= result.results["accuracy"] <= 1.0
    model = result.state.model
    params = [p for p in model.parameters() if p.is_floating_point()]
    int8 = any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in model.modules())  # CPU kernels only
    assert int8 == (name != "pruning, factorization, k-bit")  # QAT and dynamic int8 end in real int8
    assert params and {p.device.type for p in params} == {"cpu" if int8 else device}
