from core.metrics.figures import format_figure


def test_figures_read_as_people_read_them():
    assert format_figure("accuracy", 0.8345) == "83.45 %"
    assert format_figure("accuracy_retained", 0.98) == "98.00 %"
    assert format_figure("size_bytes", 90_896_813) == "90.90 MB"
    assert format_figure("speedup", 2.345) == "2.35x"
    assert format_figure("baseline_latency_ms", 12.34) == "12.3 ms"
    assert format_figure("parameters", 22713986) == "22,713,986"
    assert format_figure("accuracy", float("nan")) == "n/a"
    assert format_figure("accuracy", None) == "-"
    assert format_figure("device", "cpu") == "cpu"
