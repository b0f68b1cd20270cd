"""A whole engine run stacking structured pruning, recovery and int8 quantization on the tiny model."""

from core.recipe import Step
from tests.conftest import tiny_recipe


def test_heads_then_ffn_then_finetune_then_int8(engine):
    recipe = tiny_recipe(
        Step("analyze.sensitivity", {"batches": 1, "batch_size": 16, "layers": False}),
        Step("prune.heads", {"amount": 0.25, "importance_source": "sensitivity"}),
        Step("prune.ffn", {"amount": 0.5, "batches": 1, "batch_size": 16}),
        Step("finetune", {"max_steps": 2, "batch_size": 16}),
        Step("quant.dynamic_int8"),
    )
    result = engine.run(recipe)
    assert result.status == "finished", result.error
    assert result.results["parameters"] < result.results["baseline_parameters"]
    # two of eight heads (a quarter) and half of each FFN went; sizes read back off the modules
    from core.models.architecture import layer_shapes

    shapes = layer_shapes(result.state.model)
    assert sum(s["heads"] for s in shapes) == 6 and [s["ffn"] for s in shapes] == [32, 32]
