"""Can a small model learn each example file? The embedded MiniLM fine-tuned briefly on each task's example data.

    python -m bench.task_examples [--tasks token-classification,regression] [--epochs 4]

Each file is split as the studio splits (a sixth for test, a tenth for validation, related examples kept
together by :mod:`core.tasks.splits`); a new task head on MiniLM-L6 is trained with AdamW and evaluated with the
task's figures (:mod:`core.tasks.metrics`), which print with their bootstrap intervals. This is the path from
file to figure that the engine will take, without the engine: readers, tokenization, post-processing, metrics.
The data are synthetic and easy (resources/examples/tasks/README.md): a high figure shows the pieces fit and the
files are learnable, nothing about accuracy on real data.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import setup, write_result

FOLDER = Path(__file__).resolve().parents[1] / "resources" / "examples" / "tasks"
TASKS = ("token-classification", "question-answering", "regression", "multi-label")


def _split(ds, group: str | None = None, seed: int = 0):
    """Train, validation and test; questions of one context and sentences of one document stay together."""
    from core.tasks.splits import grouped_split

    parts = grouped_split(ds, seed, group)
    return parts["train"], parts["validation"], parts["test"]


def _train(model, batches, epochs: int, lr: float):
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for batch in batches():
            loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    model.eval()


def _loader(ds, collate, batch_size: int, shuffle: bool):
    import torch
    from torch.utils.data import DataLoader

    keep = [c for c in ds.column_names if not c.startswith("_")]
    return lambda: DataLoader(ds.select_columns(keep), batch_size=batch_size, shuffle=shuffle, collate_fn=collate,
                              generator=torch.Generator().manual_seed(0))


def _outputs(model, loader):
    import torch

    with torch.no_grad():
        return [model(**{k: v for k, v in batch.items() if k not in ("labels", "start_positions", "end_positions")})
                for batch in loader()]


def token_classification(path, tokenizer, epochs):
    import numpy as np
    from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification

    from core.tasks.metrics.entities import score_entities
    from core.tasks.token_data import read_conll
    from core.tasks.token_features import predictions_from_logits, tokenize_token_data

    data = read_conll(FOLDER / "ner.conll")
    train, _, test = _split(data.dataset, "document")
    features = {n: tokenize_token_data(d, tokenizer, data.label_names, data.scheme) for n, d in
                (("train", train), ("test", test))}
    model = AutoModelForTokenClassification.from_pretrained(path, num_labels=len(data.label_names))
    collate = DataCollatorForTokenClassification(tokenizer)
    _train(model, _loader(features["train"], collate, 16, True), epochs, 5e-5 * 4)
    logits = [o.logits.numpy() for o in _outputs(model, _loader(features["test"], collate, 64, False))]
    width = max(x.shape[1] for x in logits)
    padded = np.concatenate([np.pad(x, ((0, 0), (0, width - x.shape[1]), (0, 0))) for x in logits])
    predicted = predictions_from_logits(padded, features["test"], data.label_names)
    gold = [[data.label_names[t] for t in s] for s in test["tags"]]
    return score_entities(gold, predicted, data.scheme)


def question_answering(path, tokenizer, epochs):
    import numpy as np
    from transformers import AutoModelForQuestionAnswering, DataCollatorWithPadding

    from core.tasks.metrics.qa import best_null_threshold, score_answers
    from core.tasks.qa_data import read_squad
    from core.tasks.qa_features import prepare_qa_features
    from core.tasks.qa_spans import best_answers

    data = read_squad(FOLDER / "qa_squad_v2.json")
    train, validation, test = _split(data.dataset, "context")
    windows = {n: prepare_qa_features(d, tokenizer, max_length=192, doc_stride=64) for n, d in
               (("train", train), ("validation", validation), ("test", test))}
    model = AutoModelForQuestionAnswering.from_pretrained(path)
    collate = DataCollatorWithPadding(tokenizer)
    _train(model, _loader(windows["train"], collate, 16, True), epochs, 2e-4)

    def logits(split):
        outputs = _outputs(model, _loader(windows[split], collate, 64, False))
        width = max(o.start_logits.shape[1] for o in outputs)

        def pad(x):
            return np.pad(x.numpy(), ((0, 0), (0, width - x.shape[1])), constant_values=-1e4)

        return (np.concatenate([pad(o.start_logits) for o in outputs]),
                np.concatenate([pad(o.end_logits) for o in outputs]))

    def answers(split, rows, threshold):
        examples = [{"id": r["id"], "context": r["context"]} for r in rows]
        return best_answers(examples, windows[split], *logits(split), null_threshold=threshold)

    # the no-answer threshold is chosen on the validation split, then applied to the test split
    threshold, _ = best_null_threshold(answers("validation", validation, None),
                                       {r["id"]: r["answers"]["text"] for r in validation})
    found = answers("test", test, threshold)
    gold = {r["id"]: r["answers"]["text"] for r in test}
    scored = score_answers({k: a.text for k, a in found.items()}, gold)
    scored.extra["null_threshold"] = threshold
    return scored


def _sequence(path, tokenizer, epochs, ds, num_labels, problem_type, label_column):
    import numpy as np
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

    train, _, test = _split(ds)

    def encode(batch):
        enc = tokenizer(batch["text"], truncation=True, max_length=64)
        enc["labels"] = batch[label_column]
        return enc

    tok = {n: d.map(encode, batched=True, remove_columns=d.column_names) for n, d in (("train", train), ("test", test))}
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=num_labels, problem_type=problem_type)
    collate = DataCollatorWithPadding(tokenizer)
    _train(model, _loader(tok["train"], collate, 16, True), epochs, 2e-4)
    logits = np.concatenate([o.logits.numpy() for o in _outputs(model, _loader(tok["test"], collate, 64, False))])
    return logits, test


def regression(path, tokenizer, epochs):
    from core.tasks.metrics.regression import score_regression
    from core.tasks.table_data import Scaling, read_regression

    ds = read_regression(FOLDER / "regression.csv", label_column="score")
    scaling = Scaling.fit("standard", _split(ds)[0]["label"])  # the training split's statistics only
    ds = ds.map(lambda r: {"label": scaling.apply([r["label"]])[0]})
    logits, test = _sequence(path, tokenizer, epochs, ds, 1, "regression", "label")
    return score_regression(scaling.invert(logits[:, 0]), scaling.invert(test["label"]))


def multi_label(path, tokenizer, epochs):
    from core.tasks.metrics.multilabel import score_multilabel, sigmoid
    from core.tasks.table_data import read_multilabel

    data = read_multilabel(FOLDER / "multilabel.csv", label_columns=["sports", "music", "food", "travel", "technology"])
    logits, test = _sequence(path, tokenizer, epochs, data.dataset, len(data.label_names),
                             "multi_label_classification", "labels")
    return score_multilabel(sigmoid(logits), test["labels"])


RUNNERS = {"token-classification": token_classification, "question-answering": question_answering,
           "regression": regression, "multi-label": multi_label}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--epochs", type=int, default=4)
    # one thread by default: on a shared machine two contending threads ran 10x slower than one
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    setup(args.threads)
    import torch
    from transformers import AutoTokenizer

    from core.models.loading import default_model_path
    from core.tasks.figures import headline

    torch.manual_seed(0)
    path = str(default_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    out = {}
    for task in args.tasks.split(","):
        began = time.perf_counter()
        scored = RUNNERS[task](path, tokenizer, args.epochs)
        key = headline(task).key
        out[task] = {"headline": key, **scored.results(), "seconds": round(time.perf_counter() - began, 1),
                     "epochs": args.epochs}
        s = scored.intervals[key]
        print(f"{task}: {key} {s.value:.4f} ({s.low:.4f}-{s.high:.4f}) in {out[task]['seconds']} s", flush=True)
    write_result("task_examples", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
