"""The survey-target stack's speedup under all four latency profiles, each with its interval, in one run.

The stack is the architecture of the README's best variant: a 3-layer student
of MiniLM, its FFN halved, every weight int8 (embeddings included). It is built
without training (accuracy is not what this measures: latency depends on the
shapes and kernels only) and goes through the engine like any recipe, so the
figures are the ones a user's run reports: the compressed model and the
original are timed in alternation in the same process under each profile
(``core.metrics.protocol``): batch 32 and batch 1, padded to the fixed maximum
length and at the data's real lengths, torch's threads pinned to ``--threads``
(2 by default) and recorded with each protocol. The speedup is the median of the
per-round ratios, in brackets its 95 % confidence interval (order statistics of
the rounds), with the rounds' interquartile range kept beside it in the JSON.
Both models run in PyTorch, so the speedup is the compression's alone (no change
of runtime in it).

Writes docs/results/figures.json and figures.md (a table ready for the README).
The machine's load average before and after is recorded: a busy machine widens
the intervals, which is what they are for.
"""

from __future__ import annotations

import argparse
import os
import time

from bench.common import RESULTS, setup, write_result

TARGET_SPEEDUP = 1.0  # every profile must be faster than the original, by its confidence interval's lower end


def recipe(rounds: int, test_samples: int):
    from core.metrics.protocol import PROFILES
    from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step

    data = DataRef(train_samples=64, validation_samples=64, test_samples=test_samples, max_length=64)
    steps = [Step("distill.student_init", {"mode": "layers", "num_layers": 3}),
             Step("prune.ffn", {"amount": 0.5, "importance": "magnitude"}),
             Step("quant.dynamic_int8", {"embedding_bits": 8})]
    evaluation = EvaluationSettings(max_samples=test_samples, latency_repeats=rounds, latency_profiles=list(PROFILES),
                                    measure_baseline=True)
    return Recipe(name="bench-figures", model=ModelRef("default"), data=data, device="cpu", steps=steps,
                  evaluation=evaluation)


def markdown(rows: list[dict], when: str, cpu: str) -> str:
    lines = [f"Measured {when} on {cpu}; median of per-round ratios, its 95 % confidence interval in brackets.", "",
             "| profile | original | compressed | speedup |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['profile']} ({r['shape']}) | {r['baseline_latency']} | {r['latency']} | "
                     f"{r['speedup_text']} |")  # describe() marks a wide interval
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=11, help="alternating rounds per profile")
    parser.add_argument("--test-samples", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="torch's intra-op threads (pinned and recorded)")
    args = parser.parse_args(argv)
    setup(args.threads)
    from core import events as ev
    from core.engine import Engine
    from core.metrics import figures as F
    from core.metrics.protocol import Protocol

    load_before = os.getloadavg()
    started = time.perf_counter()
    bus = ev.EventBus()
    t0 = time.perf_counter()
    bus.subscribe(ev.Progress, lambda e: print(f"  {time.perf_counter() - t0:6.0f} s  step {e.index}: {e.message} "
                                               f"({e.current}/{e.total})", flush=True))
    made = recipe(args.rounds, args.test_samples)
    made.evaluation.latency_threads = args.threads  # pinned: the protocol of every profile records it
    run = Engine(bus=bus).run(made)
    if run.status != "finished":
        raise SystemExit(run.error)
    results = run.results
    rows = []
    for profile, fig, how in F.profile_figures(results):
        protocol = Protocol.from_dict(results["timing"][profile]["protocol"])
        shape = (f"batch {protocol.batch_size}, " +
                 (f"real lengths, mean {protocol.mean_length:.0f} tokens" if protocol.lengths == "dynamic"
                  else f"{protocol.max_length} tokens"))
        rows.append({"profile": profile, "shape": shape, "protocol": how,
                     "speedup": fig.get("speedup"), "speedup_low": fig.get("speedup_low"),
                     "speedup_high": fig.get("speedup_high"), "speedup_level": fig.get("speedup_level"),
                     "speedup_q1": fig.get("speedup_q1"), "speedup_q3": fig.get("speedup_q3"),
                     "speed_note": fig.get("speed_note"),
                     "reliable": not F.unreliable(fig), "latency_ms": fig["latency_ms"],
                     "baseline_latency_ms": fig.get("baseline_latency_ms"),
                     "latency": F.describe(fig, "latency_ms"), "baseline_latency": F.describe(fig, "baseline_latency_ms"),
                     "speedup_text": F.describe(fig, "speedup")})
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cpu = Protocol.from_dict(next(iter(results["timing"].values()))["protocol"]).cpu or "this CPU"
    figures = {"stack": [s.method for s in recipe(1, 1).steps], "rounds": args.rounds, "profiles": rows,
               "size_ratio": results.get("size_ratio"), "parameter_ratio": results.get("parameter_ratio"),
               "load_average_before": load_before, "load_average_after": os.getloadavg(),
               "seconds": round(time.perf_counter() - started, 1), "timing": results["timing"]}
    write_result("figures", figures)
    (RESULTS / "figures.md").write_text(markdown(rows, when, cpu))
    print(markdown(rows, when, cpu))
    ok = all(r["speedup_low"] is not None and r["speedup_low"] > TARGET_SPEEDUP for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
