"""Question answering: long contexts split into overlapping windows, answers as token positions.

A context longer than ``max_length`` (with its question) is cut into windows of at most ``max_length``
tokens, each starting ``doc_stride`` tokens of context before the previous one ended, with a fast tokenizer's
offset mapping. A window's ``start_positions`` / ``end_positions`` are the answer's first and last tokens, or
the ``[CLS]`` token when the question has no answer or the answer is not wholly inside the window. Each window
keeps ``_example_id``, ``_offsets`` (character spans of its context tokens, ``[-1, -1]`` for question and special
tokens) and ``_cls`` so that :mod:`core.tasks.qa_spans` can read answers back from logits.
"""

from __future__ import annotations

from core.errors import DataLoadError

NO_OFFSET = [-1, -1]


def _check(tokenizer, max_length: int, doc_stride: int) -> bool:
    if not getattr(tokenizer, "is_fast", False):
        raise DataLoadError("question answering needs a fast tokenizer (one with offset mapping); the model folder's "
                            "tokenizer is a slow one: add its tokenizer.json")
    if not 0 <= doc_stride < max_length:
        raise DataLoadError(f"doc_stride ({doc_stride}) must be at least 0 and below max_length ({max_length})")
    return tokenizer.padding_side == "right"  # the question comes first unless the model pads on the left


def prepare_qa_features(ds, tokenizer, max_length: int = 384, doc_stride: int = 128):
    """Windows of every question of ``ds`` (columns ``id``, ``question``, ``context``, ``answers``, ``row``)."""
    question_first = _check(tokenizer, max_length, doc_stride)
    specials = tokenizer.num_special_tokens_to_add(pair=True)

    def encode(batch):
        questions = [q.lstrip() for q in batch["question"]]
        lengths = [len(ids) for ids in tokenizer(questions, add_special_tokens=False)["input_ids"]]
        for i, n in enumerate(lengths):
            if max_length - n - specials <= doc_stride:
                raise DataLoadError(
                    f"row {batch['row'][i]} (id {batch['id'][i]!r}), field 'question': the question takes {n} tokens, "
                    f"leaving {max(0, max_length - n - specials)} of max_length {max_length} for the context, not "
                    f"more than doc_stride ({doc_stride}); raise max_length or lower doc_stride")
        first, second = (questions, batch["context"]) if question_first else (batch["context"], questions)
        enc = tokenizer(first, second, truncation="only_second" if question_first else "only_first",
                        max_length=max_length, stride=doc_stride, return_overflowing_tokens=True,
                        return_offsets_mapping=True)
        context_id = 1 if question_first else 0
        samples = enc.pop("overflow_to_sample_mapping")
        offsets_all = enc.pop("offset_mapping")
        starts, ends, ids, offsets, cls = [], [], [], [], []
        for f, sample in enumerate(samples):
            sequence = enc.sequence_ids(f)
            input_ids = enc["input_ids"][f]
            cls_index = input_ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in input_ids else 0
            window = [list(o) if sequence[k] == context_id else NO_OFFSET for k, o in enumerate(offsets_all[f])]
            answers = batch["answers"][sample]
            start = end = cls_index
            if answers["answer_start"]:
                a_start = answers["answer_start"][0]
                a_end = a_start + len(answers["text"][0])
                inside = [k for k, o in enumerate(window) if o != NO_OFFSET]
                if window[inside[0]][0] <= a_start and window[inside[-1]][1] >= a_end:
                    start = next(k for k in inside if window[k][1] > a_start)
                    end = next(k for k in reversed(inside) if window[k][0] < a_end)
            starts.append(start)
            ends.append(end)
            ids.append(batch["id"][sample])
            offsets.append(window)
            cls.append(cls_index)
        enc["start_positions"], enc["end_positions"] = starts, ends
        enc["_example_id"], enc["_offsets"], enc["_cls"] = ids, offsets, cls
        return dict(enc)

    return ds.map(encode, batched=True, remove_columns=ds.column_names)
