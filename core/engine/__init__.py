"""Runs recipes: in a background thread (:class:`Engine`) or a worker process (:class:`ProcessEngine`),
typed events out, cooperative cancellation."""

from core.engine.process import ProcessEngine, ProcessRunHandle
from core.engine.runner import Engine, RunHandle, RunResult

__all__ = ["Engine", "ProcessEngine", "ProcessRunHandle", "RunHandle", "RunResult"]
