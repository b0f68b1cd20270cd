"""BERT Compression Studio core: recipes, methods, engine, database and export.

Nothing in this package imports Qt; the studio (``studio/``) is one subscriber
among others to the engine's events.
"""

__version__ = "0.1.0"
