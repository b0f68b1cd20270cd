"""Datasets: the embedded default, user files, column mapping, splits and batching."""
