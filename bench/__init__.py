"""Benchmarks: each writes its figures to bench/results/*.json and compares with a baseline measured in the same run."""
