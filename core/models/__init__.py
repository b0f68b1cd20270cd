"""Loading BERT-family models, the embedded default, and describing architectures."""
