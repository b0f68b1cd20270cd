"""Application services: what the CLI and the studio both do with recorded runs, on top of every other package.

A service reads run records, loads their models (:mod:`core.models`), measures
them (:mod:`core.metrics`) or exports them (:mod:`core.export`); it is the top
of ``core`` below the two front ends (:mod:`core.cli` and ``studio``), and
Qt-free, so the studio calls it from a background thread. Layers:
``docs/architecture.md``.
"""
