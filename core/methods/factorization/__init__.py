"""factorization methods."""
