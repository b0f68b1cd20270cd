from core.models.architecture import count_parameters
from core.recipe import Step
from tests.conftest import tiny_recipe


def test_kbit_weights_still_count_as_parameters(engine):
    result = engine.run(tiny_recipe(Step("quant.kbit", {"bits": 4, "group_size": 16})))
    assert result.status == "finished", result.error
    res = result.results
    assert res["parameters"] == res["baseline_parameters"]  # same weights, fewer bits each
    assert res["size_bytes"] < res["baseline_size_bytes"]
    assert count_parameters(result.state.model, nonzero=True) <= res["parameters"]
