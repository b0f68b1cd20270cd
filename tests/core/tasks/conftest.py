import pytest


@pytest.fixture(scope="session")
def minilm_tokenizer():
    """The embedded MiniLM's fast WordPiece tokenizer (lower-cases; 'Okafor' -> ok ##af ##or)."""
    from transformers import AutoTokenizer

    from core.models.loading import default_model_path

    return AutoTokenizer.from_pretrained(str(default_model_path()))
