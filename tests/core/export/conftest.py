import pytest


@pytest.fixture(scope="module")
def batch():
    """Eight padded sentences (varied lengths) from the studio's own sample."""
    from core.export.api import sample_batch
    from core.models.loading import load_tokenizer

    return sample_batch(load_tokenizer("tiny"), max_length=24)
