"""One widget per module; each builds from core metadata and emits Qt signals."""
