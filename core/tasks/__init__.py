"""The five task kinds a BERT-family model is fine-tuned into: their data, tokenization and figures.

Qt-free and independent of the engine:

- :mod:`.kinds`: the task names, detected from a model folder's config, and the refusal of a contradicting task;
- :mod:`.token_data`, :mod:`.qa_data`, :mod:`.table_data`: each task's files read into ``datasets.Dataset``
  objects, bad input refused with file, row (line) and field (:mod:`.files`, :mod:`.tags`);
- :mod:`.splits`: train / validation / test with related examples kept together;
- :mod:`.token_features`, :mod:`.qa_features`: tokenization (tags on word pieces, QA windows), and
  :mod:`.qa_spans`: answers read back from start / end logits;
- :mod:`.metrics`: each task's figures with bootstrap intervals, and :mod:`.figures`: their names and headlines.
"""
