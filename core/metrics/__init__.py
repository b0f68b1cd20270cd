"""Measuring models: accuracy, latency, size and parameter counts."""
