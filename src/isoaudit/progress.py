"""How far a run has got, while it runs: a live bar on a terminal, a log line now and then otherwise.

The flow reports to `current()`; the command line chooses the reporter with `reporting(...)`. A run
started any other way (a Prefect deployment) reports to nobody: the flow's own log lines say the same.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

log = logging.getLogger("isoaudit.progress")


class Reporter(Protocol):
    def started(self, *, accounts: int) -> None: ...

    def collected(self, *, done: int, jobs_seen: int, gaps: int) -> None: ...

    def finished(self) -> None: ...


class Silent:
    """Reports nothing (--json, or a run outside the command line)."""

    def started(self, *, accounts: int) -> None:
        """Nothing to show."""

    def collected(self, *, done: int, jobs_seen: int, gaps: int) -> None:
        """Nothing to show."""

    def finished(self) -> None:
        """Nothing to show."""


class LogLines:
    """A plain line at the start, then at most every `every_seconds`, and when every account is done: for
    a log file or a pipe, where a redrawn bar would be noise."""

    def __init__(self, *, every_seconds: float = 10.0) -> None:
        self._every = every_seconds
        self._total = 0
        self._start = self._last = time.monotonic()

    def started(self, *, accounts: int) -> None:
        self._total = accounts
        self._start = self._last = time.monotonic()
        log.info("collecting %d accounts", accounts)

    def collected(self, *, done: int, jobs_seen: int, gaps: int) -> None:
        now = time.monotonic()
        if done < self._total and now - self._last < self._every:
            return
        self._last = now
        elapsed = now - self._start
        remaining = elapsed / done * (self._total - done) if done else None
        log.info(
            "collected %d/%d accounts, %d jobs seen, %d gaps, %s elapsed, %s remaining",
            done, self._total, jobs_seen, gaps, _duration(elapsed), _duration(remaining),
        )  # fmt: skip

    def finished(self) -> None:
        """The last `collected` line already said everything."""


class LiveBar:
    """rich's live progress bar on the terminal: accounts done/total, jobs seen, gaps, elapsed, remaining."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]collecting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("accounts · {task.fields[jobs]:,} jobs seen · {task.fields[gaps]} gaps ·"),
            TimeElapsedColumn(),
            TextColumn("elapsed ·"),
            TimeRemainingColumn(),
            TextColumn("remaining"),
            console=console or Console(stderr=True),
        )
        self._task = self._progress.add_task("collect", total=None, jobs=0, gaps=0)

    def started(self, *, accounts: int) -> None:
        # The clock starts with the collection, not when the bar was made (before discovery).
        self._progress.reset(self._task, total=accounts, jobs=0, gaps=0)
        self._progress.start()

    def collected(self, *, done: int, jobs_seen: int, gaps: int) -> None:
        self._progress.update(self._task, completed=done, jobs=jobs_seen, gaps=gaps)

    def finished(self) -> None:
        self._progress.stop()


_lock = threading.Lock()
_current: Reporter = Silent()


def current() -> Reporter:
    return _current


@contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """Route the progress of the runs started inside the block to `reporter`."""
    global _current
    with _lock:
        previous, _current = _current, reporter
    try:
        yield reporter
    finally:
        reporter.finished()
        with _lock:
            _current = previous


def for_terminal(*, as_json: bool, interactive: bool) -> Reporter:
    """Nothing with --json; the live bar on a terminal; log lines when the output is a file or a pipe."""
    if as_json:
        return Silent()
    return LiveBar() if interactive else LogLines()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
