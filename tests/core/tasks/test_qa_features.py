import datasets
import numpy as np
import pytest

from core.errors import DataLoadError
from core.tasks.qa_features import prepare_qa_features
from core.tasks.qa_spans import best_answers

FILLER = " ".join(f"Sentence {i} says nothing about anyone." for i in range(12))
CONTEXT = f"Anna Novak was born in Oslo in 1980. {FILLER} Later she moved to Lima and opened a bakery."


def questions(rows):
    features = datasets.Features({"id": datasets.Value("string"), "question": datasets.Value("string"),
                                  "context": datasets.Value("string"), "row": datasets.Value("int64"),
                                  "answers": {"text": datasets.List(datasets.Value("string")),
                                              "answer_start": datasets.List(datasets.Value("int32"))}})
    return datasets.Dataset.from_dict({k: [r[k] for r in rows] for k in features}, features=features)


def answer(text, context=CONTEXT):
    return {"text": [text], "answer_start": [context.index(text)]}


ROWS = [
    {"id": "born", "question": "Where was Anna born?", "context": CONTEXT, "row": 1, "answers": answer("Oslo")},
    {"id": "moved", "question": "Where did she move?", "context": CONTEXT, "row": 2, "answers": answer("Lima")},
    {"id": "none", "question": "What is her dog called?", "context": CONTEXT, "row": 3,
     "answers": {"text": [], "answer_start": []}},
]


@pytest.fixture(scope="module")
def windows(minilm_tokenizer):
    return prepare_qa_features(questions(ROWS), minilm_tokenizer, max_length=64, doc_stride=16)


def test_long_contexts_become_overlapping_windows_with_offsets(windows, minilm_tokenizer):
    ids = windows["_example_id"]
    per_question = {q: ids.count(q) for q in ("born", "moved", "none")}
    assert per_question["born"] == per_question["moved"] == per_question["none"] > 2
    for f in range(len(windows)):
        assert len(windows[f]["input_ids"]) <= 64
        offsets = windows[f]["_offsets"]
        tokens = minilm_tokenizer.convert_ids_to_tokens(windows[f]["input_ids"])
        for token, (start, end) in zip(tokens, offsets):
            if start >= 0:  # a context token: its characters spell it (lower-cased, without ##)
                assert CONTEXT[start:end].lower() == token.removeprefix("##")
        assert tokens[windows[f]["_cls"]] == "[CLS]"
    # consecutive windows of a question overlap by doc_stride tokens of context
    first, second = (windows[f]["_offsets"] for f in range(2))
    first_context = [o for o in first if o[0] >= 0]
    second_context = [o for o in second if o[0] >= 0]
    assert first_context[-16:] == second_context[:16]


def test_answer_positions_in_their_window_and_cls_elsewhere(windows, minilm_tokenizer):
    found = {}
    for f in range(len(windows)):
        w = windows[f]
        start, end = w["start_positions"], w["end_positions"]
        if start != w["_cls"]:
            text = CONTEXT[w["_offsets"][start][0]:w["_offsets"][end][1]]
            found.setdefault(w["_example_id"], []).append((f, text))
        else:
            assert end == w["_cls"]
    assert [t for _, t in found["born"]] == ["Oslo"]
    assert [t for _, t in found["moved"]] == ["Lima"]
    assert "none" not in found  # unanswerable: [CLS] in every window
    born_window = found["born"][0][0]
    assert born_window == windows["_example_id"].index("born")  # Oslo is in the first window only
    moved_windows = [f for f, _ in found["moved"]]
    assert moved_windows[-1] == len(windows) - 1 - windows["_example_id"][::-1].index("moved")


def logits_for(windows, targets):
    """Start/end logits per window: high on each window's gold span, with a strong decoy span elsewhere."""
    n, width = len(windows), max(len(x) for x in windows["input_ids"])
    start, end = np.zeros((n, width)), np.zeros((n, width))
    for f in range(n):
        start[f, windows[f]["_cls"]] = end[f, windows[f]["_cls"]] = 1.0
        for (s, e), value in targets.get(f, {}).items():
            start[f, s] = max(start[f, s], value)
            end[f, e] = max(end[f, e], value)
    return start, end


def test_post_processing_picks_the_best_span_across_windows(windows):
    born = [f for f in range(len(windows)) if windows["_example_id"][f] == "born"]
    moved = [f for f in range(len(windows)) if windows["_example_id"][f] == "moved"]
    gold_born = (windows[born[0]]["start_positions"], windows[born[0]]["end_positions"])
    last = moved[-1]
    gold_moved = (windows[last]["start_positions"], windows[last]["end_positions"])
    decoy = next(k for k, o in enumerate(windows[moved[0]]["_offsets"]) if o[0] >= 0)
    targets = {born[0]: {gold_born: 6.0}, last: {gold_moved: 7.0}, moved[0]: {(decoy, decoy): 5.0}}
    start, end = logits_for(windows, targets)
    answers = best_answers(ROWS, windows, start, end, n_best=5, max_answer_length=10, null_threshold=0.0)
    assert answers["born"].text == "Oslo" and answers["moved"].text == "Lima"
    assert answers["none"].text == ""  # the best span there scores 0 + 0 < the null score 1 + 1
    assert answers["moved"].null_score_diff == pytest.approx(2.0 - 14.0)
    # SQuAD v1.1: no threshold, always the best span; a huge threshold also keeps every span
    v1 = best_answers(ROWS, windows, start, end, null_threshold=None)
    assert v1["none"].text != ""
    strict = best_answers(ROWS, windows, start, end, null_threshold=-13.0)
    assert strict["moved"].text == "" and strict["born"].text == ""


def test_max_answer_length_bounds_spans(windows):
    born = [f for f in range(len(windows)) if windows["_example_id"][f] == "born"]
    f = born[0]
    context = [k for k, o in enumerate(windows[f]["_offsets"]) if o[0] >= 0]
    targets = {f: {(context[0], context[6]): 9.0}}
    start, end = logits_for(windows, targets)
    wide = best_answers(ROWS[:1], windows, start, end, max_answer_length=7)["born"]
    assert wide.text == "Anna Novak was born in Oslo in"
    narrow = best_answers(ROWS[:1], windows, start, end, max_answer_length=6)["born"]
    assert narrow.text != wide.text and len(narrow.text.split()) <= 6


def test_questions_too_long_for_the_window_are_refused_with_the_row(minilm_tokenizer):
    long = dict(ROWS[0], question="Where " + "really " * 60 + "?")
    with pytest.raises(DataLoadError, match=r"row 1 \(id 'born'\), field 'question': the question takes 62 tokens"):
        prepare_qa_features(questions([long]), minilm_tokenizer, max_length=64, doc_stride=16)
    with pytest.raises(DataLoadError, match="doc_stride"):
        prepare_qa_features(questions(ROWS), minilm_tokenizer, max_length=64, doc_stride=64)
