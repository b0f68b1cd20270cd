"""Tiny random models with each task head, built in code, for the export tests and the portability check."""

from __future__ import annotations

from core.models.heads import MULTI_LABEL, QUESTION_ANSWERING, REGRESSION, SEQUENCE, TOKEN

# kind -> (transformers Auto class, config changes)
HEADS = {
    SEQUENCE: ("AutoModelForSequenceClassification", {"num_labels": 3}),
    TOKEN: ("AutoModelForTokenClassification", {"num_labels": 5}),
    QUESTION_ANSWERING: ("AutoModelForQuestionAnswering", {}),
    REGRESSION: ("AutoModelForSequenceClassification", {"num_labels": 1, "problem_type": "regression"}),
    MULTI_LABEL: ("AutoModelForSequenceClassification", {"num_labels": 4, "problem_type": "multi_label_classification"}),
}
NEW_KINDS = (TOKEN, QUESTION_ANSWERING, REGRESSION, MULTI_LABEL)


def task_model(family: str, kind: str, seed: int = 0):
    """A random model of ``family`` (tests.core.methods.families) with the head of ``kind``, in eval mode."""
    import torch
    import transformers

    from tests.core.methods.families import _config

    auto, changes = HEADS[kind]
    config = _config(family)
    for key, value in changes.items():
        setattr(config, key, value)
    torch.manual_seed(seed)
    return getattr(transformers, auto).from_config(config).eval()


def fit_scores(model, batch, steps: int = 15) -> None:
    """A few AdamW steps towards alternating scores 1, 0, 1... on ``batch``, so a regression head's outputs
    differ between sentences by more than int8 noise (a random scorer gives every sentence nearly one score,
    and then quantization noise alone decides their order)."""
    import torch

    targets = torch.tensor([float(i % 2 == 0) for i in range(batch["input_ids"].shape[0])]).unsqueeze(-1)
    embeddings = model.get_input_embeddings().weight
    embeddings.requires_grad_(False)
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    model.train()
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(model(**batch).logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    embeddings.requires_grad_(True)


def task_state(family: str, kind: str, tokenizer, batch=None, seed: int = 0):
    """A :class:`ModelState` of :func:`task_model` (regression fitted on ``batch`` when given)."""
    from core.models.state import ModelState
    from tests.core.methods.families import family_tokenizer

    model = task_model(family, kind, seed)
    if kind == REGRESSION and batch is not None:
        fit_scores(model, batch)
    return ModelState(model=model, tokenizer=family_tokenizer(family, tokenizer), source=f"tiny-{family}")
