"""Runs recipes: a background thread per run, typed events out, cooperative cancellation."""

from core.engine.runner import Engine, RunHandle, RunResult

__all__ = ["Engine", "RunHandle", "RunResult"]
