import copy
import json

import pytest

from core.errors import DataLoadError
from core.tasks.qa_data import read_qa_jsonl, read_qa_source, read_squad

CONTEXT = "Anna was born in Oslo in 1980. She works at Globex."
SQUAD = {"version": "v2.0", "data": [{"title": "Anna", "paragraphs": [{"context": CONTEXT, "qas": [
    {"id": "a1", "question": "Where was Anna born?", "answers": [{"text": "Oslo", "answer_start": 17},
                                                                 {"text": "Oslo", "answer_start": 17}]},
    {"id": "a2", "question": "What colour does Anna like?", "answers": [], "is_impossible": True,
     "plausible_answers": [{"text": "Globex", "answer_start": 44}]},
]}]}]}


def write_json(tmp_path, doc, name="squad.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_squad_v2_reads_answers_and_unanswerable_questions(tmp_path):
    data = read_squad(write_json(tmp_path, SQUAD))
    ds = data.dataset
    assert data.unanswerable == 1 and data.version_2
    assert ds["id"] == ["a1", "a2"] and ds["title"] == ["Anna", "Anna"]
    assert ds[0]["answers"] == {"text": ["Oslo", "Oslo"], "answer_start": [17, 17]}
    assert ds[1]["answers"] == {"text": [], "answer_start": []}


def test_squad_v1_has_no_unanswerable_questions(tmp_path):
    doc = copy.deepcopy(SQUAD)
    del doc["data"][0]["paragraphs"][0]["qas"][1]
    assert not read_qa_source(write_json(tmp_path, doc)).version_2


def broken(mutate):
    doc = copy.deepcopy(SQUAD)
    mutate(doc["data"][0]["paragraphs"][0])
    return doc


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p["qas"][0]["answers"][1].update(answer_start=18),
     r"data\[0\]\.paragraphs\[0\]\.qas\[0\] \(id 'a1'\), field 'answers\[1\]\.answer_start': answer 'Oslo' is not at "
     r"answer_start 18 .*'slo '.* the text is at 17"),
    (lambda p: p["qas"][0]["answers"][0].update(text="Bergen"), r"'Bergen' .*not in the context at all"),
    (lambda p: p.update(context="  "), r"qas\[0\] \(id 'a1'\), field 'context': the context is empty"),
    (lambda p: p["qas"][0].update(question=""), r"field 'question': the question is empty"),
    (lambda p: p["qas"][1].update(id="a1"), r"qas\[1\] \(id 'a1'\), field 'id': id 'a1' is also the id of "
                                            r"data\[0\]\.paragraphs\[0\]\.qas\[0\]"),
    (lambda p: p["qas"][1].update(is_impossible=False), r"qas\[1\] .*field 'answers': the question has no answers "
                                                        r"and is not marked is_impossible"),
    (lambda p: p["qas"][0].update(is_impossible=True), r"marked is_impossible but has answers"),
    (lambda p: p["qas"][0]["answers"][0].update(answer_start="17"), r"field 'answers\[0\]\.answer_start': must be a "
                                                                    r"character offset"),
    (lambda p: p.update(qas={}), r"data\[0\]\.paragraphs\[0\], field 'qas': is a dict, not a JSON list"),
])
def test_hostile_squad_files_name_the_question_and_field(tmp_path, mutate, message):
    with pytest.raises(DataLoadError, match=r"squad\.json, .*" + message):
        read_squad(write_json(tmp_path, broken(mutate)))


def test_squad_file_level_errors(tmp_path):
    with pytest.raises(DataLoadError, match=r"squad.json: has no 'data' list"):
        read_squad(write_json(tmp_path, {"version": "1.1"}))
    (tmp_path / "cut.json").write_text('{"data": [\n{"title": ', encoding="utf-8")
    with pytest.raises(DataLoadError, match=r"cut.json, line 2: is not valid JSON"):
        read_squad(tmp_path / "cut.json")
    with pytest.raises(DataLoadError, match=r"squad.json holds no questions"):
        read_squad(write_json(tmp_path, {"data": []}))


def write_lines(tmp_path, records, name="qa.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def test_json_lines_with_hub_and_list_answers(tmp_path):
    path = write_lines(tmp_path, [
        {"question": "Where?", "context": CONTEXT, "answers": {"text": ["Oslo"], "answer_start": [17]}},
        {"id": "x", "question": "Who?", "context": CONTEXT, "answers": [{"text": "Globex", "answer_start": 44}]},
        {"question": "Why?", "context": CONTEXT, "answers": {"text": [], "answer_start": []}},
    ])
    data = read_qa_source(path)
    assert data.dataset["id"] == ["line-1", "x", "line-3"] and data.unanswerable == 1
    assert data.dataset[1]["answers"] == {"text": ["Globex"], "answer_start": [44]}


@pytest.mark.parametrize("record, message", [
    ({"question": "Q?", "context": CONTEXT, "answers": {"text": ["Oslo"], "answer_start": [3]}},
     r"line 2, field 'answers\[0\]\.answer_start': answer 'Oslo' is not at answer_start 3"),
    ({"question": "Q?", "context": "", "answers": []}, r"line 2, field 'context': the context is empty"),
    ({"question": "Q?", "answers": []}, r"line 2: has no 'context' field"),
    ({"question": "Q?", "context": CONTEXT, "answers": {"text": ["Oslo"], "answer_start": []}},
     r"line 2, field 'answers': must hold lists 'text' and 'answer_start' of the same length"),
])
def test_hostile_json_lines(tmp_path, record, message):
    good = {"question": "Where?", "context": CONTEXT, "answers": {"text": ["Oslo"], "answer_start": [17]}}
    with pytest.raises(DataLoadError, match=r"qa\.jsonl, " + message):
        read_qa_jsonl(write_lines(tmp_path, [good, record]))
