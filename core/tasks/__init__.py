"""The five task kinds a BERT-family model is fine-tuned into: their data, tokenization and figures.

Qt-free and independent of the engine: :mod:`core.tasks.kinds` names and detects
a task, the ``*_data`` modules read each task's files into ``datasets.Dataset``
objects, :mod:`core.tasks.token_features` and :mod:`core.tasks.qa_features`
tokenize them, and :mod:`core.tasks.metrics` measures predictions with
bootstrap intervals.
"""
