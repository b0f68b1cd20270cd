"""Question-answering data: SQuAD v1.1 / v2.0 JSON and JSON Lines, as a ``datasets.Dataset``.

The dataset has the columns of the Hub's ``squad_v2``: ``id``, ``title``, ``context``, ``question`` and
``answers`` (``{"text": [...], "answer_start": [...]}``, both empty for an unanswerable question), plus ``row``
(where the question is: its line in JSON Lines, its position in SQuAD JSON). Every answer must be found at its
``answer_start`` in its context, every context and question must hold text, and ids must be unique.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import DataLoadError
from core.tasks.files import fail, json_records, text_file


@dataclass(frozen=True)
class QAData:
    dataset: Any  # datasets.Dataset
    unanswerable: int  # questions without an answer (SQuAD v2's is_impossible)

    @property
    def version_2(self) -> bool:
        return self.unanswerable > 0


def _answers(path: Path, place: str, context: str, answers: Any, impossible: bool) -> dict[str, list]:
    if answers is None:
        answers = []
    if isinstance(answers, dict):  # the Hub's {"text": [...], "answer_start": [...]}
        texts, starts = answers.get("text"), answers.get("answer_start")
        if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
            raise fail(path, "must hold lists 'text' and 'answer_start' of the same length", place, "answers")
        answers = [{"text": t, "answer_start": s} for t, s in zip(texts, starts)]
    if not isinstance(answers, list):
        raise fail(path, f"is a {type(answers).__name__}, not a list of answers", place, "answers")
    if impossible and answers:
        raise fail(path, "the question is marked is_impossible but has answers", place, "answers")
    out = {"text": [], "answer_start": []}
    for i, answer in enumerate(answers):
        field = f"answers[{i}]"
        if not isinstance(answer, dict):
            raise fail(path, f"is a {type(answer).__name__}, not an object with 'text' and 'answer_start'", place, field)
        text, start = answer.get("text"), answer.get("answer_start")
        if not isinstance(text, str) or not text.strip():
            raise fail(path, f"has no answer text (got {text!r})", place, f"{field}.text")
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise fail(path, f"must be a character offset (a whole number from 0); got {start!r}", place,
                       f"{field}.answer_start")
        if context[start:start + len(text)] != text:
            found = context.find(text)
            hint = f"; the text is at {found}" if found >= 0 else "; the text is not in the context at all"
            raise fail(path, f"answer {text!r} is not at answer_start {start} of the context (there it reads "
                             f"{context[start:start + len(text)]!r}){hint}", place, f"{field}.answer_start")
        out["text"].append(text)
        out["answer_start"].append(start)
    return out


class _Collector:
    def __init__(self, path: Path):
        self.path = path
        self.rows: dict[str, list] = {k: [] for k in ("id", "title", "context", "question", "answers", "row")}
        self.seen: dict[str, str] = {}
        self.unanswerable = 0

    def add(self, place: str, row: int, qid: Any, title: str, context: Any, question: Any, answers: Any,
            impossible: Any, allow_empty: bool) -> None:
        path = self.path
        if not isinstance(context, str) or not context.strip():
            raise fail(path, f"the context is empty (got {context!r}); a question needs a text to answer from",
                       place, "context")
        if not isinstance(question, str) or not question.strip():
            raise fail(path, f"the question is empty (got {question!r})", place, "question")
        if impossible is not None and not isinstance(impossible, bool):
            raise fail(path, f"must be true or false; got {impossible!r}", place, "is_impossible")
        qid = str(qid)
        if qid in self.seen:
            raise fail(path, f"id {qid!r} is also the id of {self.seen[qid]}; ids must be unique", place, "id")
        self.seen[qid] = place
        parsed = _answers(path, place, context, answers, bool(impossible))
        if not parsed["text"]:
            if not (impossible or allow_empty):
                raise fail(path, "the question has no answers and is not marked is_impossible", place, "answers")
            self.unanswerable += 1
        for key, value in (("id", qid), ("title", title), ("context", context), ("question", question),
                           ("answers", parsed), ("row", row)):
            self.rows[key].append(value)

    def build(self) -> QAData:
        import datasets

        if not self.rows["id"]:
            raise DataLoadError(f"{self.path.name} holds no questions")
        features = datasets.Features({
            "id": datasets.Value("string"), "title": datasets.Value("string"), "context": datasets.Value("string"),
            "question": datasets.Value("string"),
            "answers": {"text": datasets.List(datasets.Value("string")),
                        "answer_start": datasets.List(datasets.Value("int32"))},
            "row": datasets.Value("int64")})
        return QAData(datasets.Dataset.from_dict(self.rows, features=features), self.unanswerable)


def _expect(path: Path, value: Any, kind: type, place: str | None, field: str) -> Any:
    if not isinstance(value, kind):
        raise fail(path, f"is a {type(value).__name__}, not a JSON {'list' if kind is list else 'object'}", place,
                   field)
    return value


def read_squad(source: str | Path) -> QAData:
    """A SQuAD v1.1 or v2.0 file: ``{"data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}``.

    A question's place is named by its path in the file (``data[3].paragraphs[0].qas[2]``) and its id.
    """
    path = text_file(source, (".json",), "SQuAD JSON")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise fail(path, f"is not valid JSON ({exc.msg} at column {exc.colno})", f"line {exc.lineno}") from None
    _expect(path, document, dict, None, "the top level")
    if "data" not in document:
        raise fail(path, f"has no 'data' list (SQuAD's articles); it has {sorted(document)}")
    out = _Collector(path)
    count = 0
    for a, article in enumerate(_expect(path, document["data"], list, None, "data")):
        _expect(path, article, dict, f"data[{a}]", "the article")
        title = str(article.get("title", ""))
        for p, paragraph in enumerate(_expect(path, article.get("paragraphs"), list, f"data[{a}]", "paragraphs")):
            ppath = f"data[{a}].paragraphs[{p}]"
            _expect(path, paragraph, dict, ppath, "the paragraph")
            for q, qa in enumerate(_expect(path, paragraph.get("qas"), list, ppath, "qas")):
                _expect(path, qa, dict, f"{ppath}.qas[{q}]", "the question")
                count += 1
                place = f"{ppath}.qas[{q}]" + (f" (id {qa['id']!r})" if "id" in qa else "")
                out.add(place, count, qa.get("id", f"{a}-{p}-{q}"), title, paragraph.get("context"),
                        qa.get("question"), qa.get("answers"), qa.get("is_impossible"), allow_empty=False)
    return out.build()


def read_qa_jsonl(source: str | Path) -> QAData:
    """JSON Lines with ``question``, ``context`` and ``answers`` (``{"text": [...], "answer_start": [...]}`` or a list
    of ``{"text", "answer_start"}``); empty answers mean the question has none. ``id`` and ``title`` are optional."""
    path = text_file(source, (".jsonl",), "JSON Lines")
    out = _Collector(path)
    for number, record in json_records(path, "question, context, answers"):
        place = f"line {number}"
        for field in ("question", "context"):
            if field not in record:
                raise fail(path, f"has no {field!r} field; it has {sorted(record)}", place)
        out.add(place, number, record.get("id", f"line-{number}"), str(record.get("title", "")), record["context"],
                record["question"], record.get("answers"), record.get("is_impossible"), allow_empty=True)
    return out.build()


def read_qa_disk(source: str | Path, split: str = "train") -> QAData:
    """A ``save_to_disk`` folder with the Hub's ``squad`` / ``squad_v2`` columns (``id``, ``title``, ``context``,
    ``question``, ``answers``); of a ``DatasetDict``, its ``split``. Empty answers mean the question has none."""
    import datasets

    from core.data.sources import read_source

    path = Path(source).expanduser()
    saved = read_source(str(path))
    if isinstance(saved, datasets.DatasetDict):
        if split not in saved:
            raise DataLoadError(f"{path.name}: the saved dataset has splits {list(saved)} but no {split!r} split")
        saved = saved[split]
    out = _Collector(path)
    for index, record in enumerate(saved):
        place = f"{split} row {index + 1}"
        for field in ("question", "context"):
            if field not in record:
                raise fail(path, f"has no {field!r} field; it has {sorted(record)}", place)
        out.add(place, index + 1, record.get("id", f"{split}-{index + 1}"), str(record.get("title") or ""),
                record["context"], record["question"], record.get("answers"), record.get("is_impossible"),
                allow_empty=True)
    return out.build()


def read_qa_source(source: str | Path, split: str = "train") -> QAData:
    """:func:`read_qa_disk` for a folder (its ``split``), :func:`read_qa_jsonl` for ``.jsonl``, :func:`read_squad`
    otherwise."""
    if Path(source).expanduser().is_dir():
        return read_qa_disk(source, split)
    return read_qa_jsonl(source) if Path(source).suffix.lower() == ".jsonl" else read_squad(source)
