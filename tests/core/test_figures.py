"""The one module of figure names: labels, groups, formatting with intervals, old runs, notes."""

import math

from core.cli.format import results_text
from core.metrics import figures
from core.metrics.figures import FIGURES, GROUPS, describe, format_figure, phrase, rows, summary


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


def test_every_figure_has_a_label_a_group_and_help_saying_how_it_is_measured():
    keys = [f.key for f in FIGURES]
    assert len(keys) == len(set(keys))
    for f in FIGURES:
        assert f.group in GROUPS and f.label and f.label != f.key
        assert len(f.help) > 20, f.key
    assert "Wilson" in figures.spec("accuracy").help
    assert "paired bootstrap" in figures.spec("accuracy_retained").help
    assert "interquartile" in figures.spec("speedup").help
    # one key, one meaning: total parameters and non-zero parameters are two figures
    assert "zeros included" in figures.spec("parameters").help
    assert "not zero" in figures.spec("nonzero_parameters").help


def test_ratios_in_words_say_same_instead_of_1_00x():
    assert phrase("parameter_ratio", 1.0) == "same parameters"
    assert phrase("parameter_ratio", 1.004) == "same parameters"
    assert phrase("parameter_ratio", 3.2) == "3.20x fewer parameters"
    assert phrase("size_ratio", 0.8) == "1.25x larger"
    assert phrase("speedup", 0.5) == "2.00x slower"
    assert describe({"parameter_ratio": 1.0}, "parameter_ratio") == "same parameters"


def test_intervals_are_shown_and_a_wide_speedup_is_marked_unreliable():
    tight = {"speedup": 5.1, "speedup_low": 4.8, "speedup_high": 5.3}
    wide = {"speedup": 1.6, "speedup_low": 0.9, "speedup_high": 2.4}
    assert describe(tight, "speedup") == "5.10x faster (4.80\u20135.30)"
    assert describe(wide, "speedup") == f"1.60x faster (0.90\u20132.40) {figures.UNRELIABLE}"
    assert not figures.unreliable(tight) and figures.unreliable(wide)
    acc = {"accuracy": 0.8, "accuracy_low": 0.7111, "accuracy_high": 0.8666}
    assert describe(acc, "accuracy") == "80.00 % (71.11\u201386.66)"


def test_a_model_too_small_to_time_reads_as_its_note_not_a_speedup():
    results = {"latency_ms": 0.3, "baseline_latency_ms": 0.4, "speed_note": "too small to time (baseline 0.40 ms)"}
    assert describe(results, "speedup") == "too small to time (baseline 0.40 ms)"
    speed_row = [r for r in rows(results) if r.key == "speedup"]
    assert speed_row and "x" not in speed_row[0].text.split("(")[0]
    assert "not claimed" in summary(results)


def test_an_old_run_without_intervals_or_timing_still_displays():
    old = {"accuracy": 0.81, "parameters": 4_000_000, "size_bytes": 16e6, "latency_ms": 9.0, "speedup": 1.9,
           "baseline_latency_ms": 17.1, "parameter_ratio": 1.0}
    shown = {r.key: r.text for r in rows(old)}
    assert shown["accuracy"] == "81.00 %" and shown["speedup"] == "1.90x faster"
    assert shown["parameter_ratio"] == "same parameters"
    text = results_text(old)
    assert "Speedup" in text and figures.NO_PROTOCOL in text
    assert figures.protocols(old) == [] and figures.profile_figures(old) == []


def test_rows_are_grouped_in_order_and_companions_are_not_rows():
    results = {"speedup": 2.0, "speedup_low": 1.9, "speedup_high": 2.1, "accuracy": 0.9, "size_bytes": 1e6,
               "timing": {}, "onnx_latency_ms": 3.0, "latency_ms_low": 1.0}
    keyed = [(r.group, r.key) for r in rows(results)]
    assert keyed == [("accuracy", "accuracy"), ("size", "size_bytes"), ("speed", "speedup"), ("other", "onnx_latency_ms")]
    assert not math.isnan(float(results["speedup"]))


def test_the_model_card_states_intervals_and_the_protocol(tmp_path):
    from core.export.card import write_card
    from core.export.verify import ExportReport
    from core.metrics.protocol import Protocol
    from core.metrics.timing import Timing

    protocol = Protocol(profile="custom", batch_size=8, lengths="fixed", max_length=32, threads=2, rounds=4)
    timing = Timing(protocol, {"export": [0.010, 0.011, 0.012, 0.010], "original": [0.030, 0.031, 0.029, 0.030]})
    report = ExportReport(format="hf", path=str(tmp_path), verified=True, tolerance="exact", max_abs_diff=0.0,
                          argmax_agreement=1.0, rows=8, size_bytes=1, weights_bytes=1, latency_ms=10.5,
                          original_latency_ms=30.0, speedup=2.8, speedup_low=2.6, speedup_high=3.0,
                          protocol=protocol.describe(), timing=timing.to_dict())
    run = {"accuracy": 0.8, "accuracy_low": 0.7, "accuracy_high": 0.9, "evaluated": 100,
           "timing": {"throughput-fixed": timing.to_dict()}}
    write_card(tmp_path, report, None, None, run, str(tmp_path))
    card = (tmp_path / "README.md").read_text()
    assert "| Accuracy | 80.00 % (70.00\u201390.00) |" in card and "timing" not in card.split("## Measured")[0].lower()
    # four rounds: the minimum and maximum, a confidence interval at 87.5 % only, which the card says
    assert ("| latency (validation batch) | 10.5 ms (10.0\u201312.0; 87.5 % CI) | 30.0 ms (29.0\u201331.0; 87.5 % CI) |"
            in card)
    assert "2.80x faster (2.60\u20133.00)" in card and "batch 8 x 32 tokens; 2 threads" in card
    assert "profile throughput-fixed: batch 8 x 32 tokens" in card


def test_a_data_change_is_listed_after_the_figures_not_as_one():
    results = {"accuracy": 0.8, "baseline_parameters": 999_138, "parameters": 65_698,
               "data_changes": [{"step": 1, "method": "prune.vocabulary", "reason": "vocabulary pruned",
                                 "vocabulary_before": 30522, "vocabulary_after": 1352, "parameters_before": 999_138,
                                 "parameters_after": 65_698, "size_bytes_before": 4.0e6, "size_bytes_after": 0.3e6,
                                 "validation_unknown_before": 0.0, "validation_unknown_after": 0.0125}]}
    assert "data_changes" not in {r.key for r in rows(results)}
    text = results_text(results)
    assert "step 2 (prune.vocabulary): vocabulary 30,522 -> 1,352; parameters 999,138 -> 65,698" in text
    assert "size bytes 4.00 MB -> 0.30 MB" in text and "validation unknown 0.00 % -> 1.25 %" in text
    assert "baseline as it was" in text
    assert "data changed" not in results_text({"accuracy": 0.8})
