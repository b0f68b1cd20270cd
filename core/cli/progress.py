"""A terminal progress display fed by engine events (one subscriber among others)."""

from __future__ import annotations

import sys
import threading

from core import events as ev


class TerminalProgress:
    """Prints step headers, a progress bar per step, log lines and the final figures."""

    def __init__(self, bus: ev.EventBus, stream=None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self._bar = None
        self._lock = threading.Lock()
        self._titles: tuple[str, ...] = ()
        self._unsub = [bus.subscribe(t, self._on) for t in (ev.RunStarted, ev.StepStarted, ev.Progress, ev.LogMessage, ev.StepFinished)]

    def _on(self, event) -> None:
        with self._lock:
            if isinstance(event, ev.RunStarted):
                self._titles = event.step_titles
                self._print(f"run {event.run_id[:8]} on {event.device}: {' -> '.join(event.step_titles) or '(no steps)'}")
            elif isinstance(event, ev.StepStarted):
                self._close_bar()
                self._print(f"[{event.index + 1}/{len(self._titles)}] {event.title}")
            elif isinstance(event, ev.Progress) and not self.quiet:
                self._progress(event)
            elif isinstance(event, ev.LogMessage):
                self._close_bar()
                self._print(f"  {event.message}")
            elif isinstance(event, ev.StepFinished):
                self._close_bar()

    def _progress(self, event: ev.Progress) -> None:
        from tqdm import tqdm

        if self._bar is None or self._bar.total != event.total:
            self._close_bar()
            self._bar = tqdm(total=event.total or None, file=self.stream, leave=False, dynamic_ncols=True, mininterval=0.5)
        self._bar.n = event.current
        self._bar.set_postfix_str(event.message, refresh=False)
        self._bar.refresh()

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        with self._lock:
            self._close_bar()
        for unsub in self._unsub:
            unsub()
