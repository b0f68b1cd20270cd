"""Benchmarks: each writes its figures to docs/results/*.json and compares with a baseline measured in the same run."""
