"""The terminal side of ``flit_pipelines.progress``: what ``flit run`` shows while a wave runs.

* On a terminal: a live line per step (rich.progress): bar, records done / total, rate, ETA from the
  destination's rate limit, 429s and retries, elapsed time. Finished steps keep their line.
* Not on a terminal (tests, CI, a pipe): plain lines, never a redraw: a step's line every
  ``interval_seconds`` (10 s) while it runs, and its last line when it finishes if it had a total
  (loads) or ran longer than the interval. When Dagster's console log already prints INFO (``flit run
  --log-level INFO``, the default) the step logs carry the same lines, so nothing more is printed.

Numbers and step names only; never a record's value.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from flit_pipelines.progress import ProgressSnapshot, format_duration, listen

__all__ = ["PlainLines", "live_progress", "progress_fields", "terminal_progress"]

PLAIN_INTERVAL_SECONDS = 10.0


def progress_fields(snap: ProgressSnapshot) -> dict[str, Any]:
    """The columns of a live line, as text: ``count``, ``rate``, ``eta``, ``retries``."""
    count = f"{snap.done}/{snap.total} {snap.unit}" if snap.total is not None else f"{snap.done} {snap.unit}"
    rate = f"{snap.rate:.1f}/s" if snap.rate is not None else ""
    if snap.finished:
        eta = "done"
    elif snap.total is None:
        eta = ""
    else:
        eta = f"ETA {format_duration(snap.eta)}" + (f" @ {snap.limit_per_second:g} req/s" if snap.limit_per_second
                                                     else "")
    return {"count": count, "rate": rate, "eta": eta,
            "retries": f"429s {snap.responses_429}, retries {snap.retries}"}


def live_progress(console: Console | None = None) -> Progress:
    """A rich ``Progress`` with the columns of ``progress_fields`` (tasks need those fields)."""
    return Progress(TextColumn("{task.description}"), BarColumn(bar_width=24), TextColumn("{task.fields[count]}"),
                    TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[eta]}"),
                    TextColumn("{task.fields[retries]}"), TimeElapsedColumn(), console=console,
                    refresh_per_second=4)


class _LiveLines:
    """Listener: one rich task per step name."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __call__(self, snap: ProgressSnapshot) -> None:
        with self._lock:
            task = self.tasks.get(snap.step)
            if task is None:
                task = self.tasks[snap.step] = self.progress.add_task(snap.step, total=snap.total,
                                                                      **progress_fields(snap))
            self.progress.update(task, completed=snap.done, total=snap.total, **progress_fields(snap))
            if snap.finished:
                self.progress.stop_task(task)


class PlainLines:
    """Listener printing plain lines at an interval (see the module docstring).

    Args:
        out: where lines go.
        interval_seconds: the gap between two lines of one running step.
        prefix: put before every line (e.g. a migration's name).
    """

    def __init__(self, out: TextIO | None = None, *, interval_seconds: float = PLAIN_INTERVAL_SECONDS,
                 prefix: str = ""):
        self.out = out or sys.stdout
        self.interval = interval_seconds
        self.prefix = prefix
        self._last: dict[str, float] = {}  # step -> elapsed at its last line
        self._lock = threading.Lock()

    def __call__(self, snap: ProgressSnapshot) -> None:
        with self._lock:
            last = self._last.get(snap.step)
            if snap.finished:
                due = snap.total is not None or snap.elapsed >= self.interval
            else:
                due = snap.elapsed - (last if last is not None else 0.0) >= self.interval
            if due:
                self._last[snap.step] = snap.elapsed
                print(self.prefix + snap.text(), file=self.out, flush=True)


@contextmanager
def terminal_progress(log_level: str = "INFO", *, out: TextIO | None = None) -> Iterator[None]:
    """Show the progress of every step run inside: live lines on a terminal, plain lines otherwise
    (none when Dagster's console log shows INFO, which carries them)."""
    out = out or sys.stdout
    if out.isatty():
        with live_progress(Console(file=out)) as progress, listen(_LiveLines(progress)):
            yield
        return
    if log_level.upper() in ("DEBUG", "INFO"):
        yield
        return
    with listen(PlainLines(out)):
        yield
