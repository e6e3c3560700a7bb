"""Progress a person can read: records done / total, rate, ETA, 429s and retries of one long step.

A :class:`StepProgress` is fed by the step (``update(done, total)`` after records are written, or
``advance(n)`` while rows are read) and decides when a line is due, so a person is never left without
news for long and a log is never flooded:

* the first update, the last one (``finish``), every ``fraction_step`` of the total (10 %; at most
  one such line per ``min_gap_seconds``), and at least every ``interval_seconds`` (5 s) while updates
  keep coming (a load repeats its count every second while it waits on requests, so a long 429 pause
  still gets its line);
* every due line goes to the step's ``emit`` (the Dagster asset passes ``context.log.info``) and every
  update, due or not, to the process's listeners (``listen``): the terminal's live display
  (``flit_pipelines.progress_terminal``) redraws from them.

The ETA is computed from the destination's rate limit: ``remaining records x requests per record /
allowed requests per second`` (requests per record measured from the client's counters, at least 1),
or from the measured record rate when that is slower (a latency-bound load) or when there is no limit
to read (Salesforce's Bulk API). Counts of 429 answers and retries come from the client's
``http.stats`` counters. A line holds numbers and the step's name only: never a record's value.

Time comes from an injected :class:`~flit_pipelines.http.clock.Clock`, so tests advance it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flit_pipelines.http.clock import SYSTEM_CLOCK, Clock

__all__ = ["ProgressSnapshot", "StepProgress", "format_duration", "listen", "write_requests_per_second"]

Listener = Callable[["ProgressSnapshot"], None]
_LISTENERS: list[Listener] = []
_LISTENERS_LOCK = threading.Lock()


def format_duration(seconds: float | None) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``; ``?`` for None."""
    if seconds is None:
        return "?"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


@dataclass(frozen=True)
class ProgressSnapshot:
    """One reading of a step's progress (numbers only).

    Attributes:
        step: the step's name, e.g. ``clinic_to_pipedrive load/persons``.
        unit: what is counted (``records`` loaded, ``rows`` read).
        done: units finished so far.
        total: units to do, None when unknown (an extract reading a source).
        elapsed: seconds since the step started.
        rate: measured units per second (None before the first unit).
        eta: seconds still needed (None when the total is unknown, or nothing to base it on).
        limit_per_second: the destination's allowed requests per second (None when not known).
        responses_429: 429 answers so far; ``retries``: repeated requests so far (429s included).
        finished: the step's last reading.
    """

    step: str
    unit: str
    done: int
    total: int | None
    elapsed: float
    rate: float | None
    eta: float | None
    limit_per_second: float | None
    responses_429: int
    retries: int
    finished: bool = False

    @property
    def fraction(self) -> float | None:
        """``done / total`` in 0..1, None when the total is unknown (1.0 for an empty step)."""
        if self.total is None:
            return None
        return 1.0 if self.total == 0 else min(1.0, self.done / self.total)

    def text(self) -> str:
        """``persons: 120/480 records (25 %), 11.8/s, ETA 31 s (limit 10.0 req/s), 429s 2, retries 3``."""
        if self.total is None:
            head = f"{self.step}: {self.done} {self.unit}"
        else:
            head = f"{self.step}: {self.done}/{self.total} {self.unit} ({100 * (self.fraction or 0):.0f} %)"
        parts = [head]
        if self.rate is not None:
            parts.append(f"{self.rate:.1f}/s")
        if self.finished:
            parts.append(f"done in {format_duration(self.elapsed)}")
        elif self.total is not None:
            limit = f" (limit {self.limit_per_second:.1f} req/s)" if self.limit_per_second else ""
            parts.append(f"ETA {format_duration(self.eta)}{limit}")
        else:
            parts.append(f"{format_duration(self.elapsed)} so far")
        parts.append(f"429s {self.responses_429}, retries {self.retries}")
        return ", ".join(parts)


@contextmanager
def listen(listener: Listener) -> Iterator[None]:
    """Call ``listener(snapshot)`` with every update of every step in this process while inside."""
    with _LISTENERS_LOCK:
        _LISTENERS.append(listener)
    try:
        yield
    finally:
        with _LISTENERS_LOCK:
            _LISTENERS.remove(listener)


def _publish(snap: ProgressSnapshot) -> None:
    with _LISTENERS_LOCK:
        listeners = list(_LISTENERS)
    for listener in listeners:
        listener(snap)


def write_requests_per_second(client: Any) -> float | None:
    """Allowed write requests per second of a destination client: its ``write_limiter``'s
    ``limit / window_seconds``; None when the client has none (e.g. Salesforce's daily allowances)."""
    limiter = getattr(client, "write_limiter", None)
    if limiter is None:
        return None
    return limiter.limit / limiter.window_seconds


class StepProgress:
    """Progress of one step; see the module docstring. Thread-safe.

    Args:
        step: name shown in every line (a step or target name, never a value).
        total: units to do (None: unknown).
        unit: what is counted ("records", "rows").
        emit: called with each due snapshot (e.g. a step log); None: listeners only.
        limit_per_second: the destination's allowed requests per second (ETA basis), None if unknown; or
            a callable returning it, read at every update (clients adopt the limit a server's headers state).
        counters: returns the client's counters (``requests``, ``retries``, ``responses_429``).
        clock: time source (``monotonic``).
        interval_seconds: the longest gap between due lines while updates come (> 0).
        fraction_step: a line every this fraction of the total (0..1).
        min_gap_seconds: the least gap between two fraction lines.
    """

    def __init__(self, step: str, total: int | None = None, *, unit: str = "records",
                 emit: Callable[[ProgressSnapshot], None] | None = None,
                 limit_per_second: float | Callable[[], float | None] | None = None,
                 counters: Callable[[], Mapping[str, Any]] | None = None, clock: Clock = SYSTEM_CLOCK,
                 interval_seconds: float = 5.0, fraction_step: float = 0.1, min_gap_seconds: float = 1.0):
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        self.step, self.total, self.unit = step, total, unit
        self.emit = emit
        self._limit = limit_per_second
        self.counters = counters
        self.clock = clock
        self.interval = interval_seconds
        self.fraction_step = fraction_step
        self.min_gap = min_gap_seconds
        self._lock = threading.Lock()
        self._started = clock.monotonic()
        self._base = dict(self._counts())  # the client may have counted earlier steps' requests
        self._done = 0
        self._last_emit: float | None = None
        self._next_fraction = fraction_step
        self._finished = False

    @property
    def limit_per_second(self) -> float | None:
        """The allowed requests per second now (None when unknown)."""
        return self._limit() if callable(self._limit) else self._limit

    def _counts(self) -> Mapping[str, Any]:
        return self.counters() if self.counters is not None else {}

    def _delta(self, counts: Mapping[str, Any], name: str) -> int:
        return int((counts.get(name) or 0) - (self._base.get(name) or 0))

    def snapshot(self) -> ProgressSnapshot:
        """The current reading (emits nothing)."""
        with self._lock:
            return self._snapshot(self.clock.monotonic())

    def _snapshot(self, now: float) -> ProgressSnapshot:
        counts = self._counts()
        elapsed = max(0.0, now - self._started)
        done = self._done
        rate = done / elapsed if done and elapsed > 0 else None
        eta = None
        limit = self.limit_per_second
        if self.total is not None and not self._finished:
            remaining = max(0, self.total - done)
            estimates = []
            if limit:
                requests = self._delta(counts, "requests")
                per_record = max(1.0, requests / done) if done else 1.0
                estimates.append(remaining * per_record / limit)
            if rate:
                estimates.append(remaining / rate)
            eta = max(estimates) if estimates else None  # the slower of the limit and what was measured
        return ProgressSnapshot(self.step, self.unit, done, self.total, elapsed, rate, eta, limit,
                                self._delta(counts, "responses_429"), self._delta(counts, "retries"),
                                finished=self._finished)

    def _due(self, now: float) -> bool:
        if self._finished or self._last_emit is None:
            return True
        if now - self._last_emit >= self.interval:
            return True
        # a fraction boundary, but not more than one line a second (a fast step stays short)
        total = self.total
        if not total:
            return False
        return self._done / total >= self._next_fraction and now - self._last_emit >= self.min_gap

    def _report(self, now: float) -> None:
        snap = self._snapshot(now)
        due = self._due(now)
        if due:
            self._last_emit = now
            if self.total:
                while self._next_fraction <= self._done / self.total:
                    self._next_fraction += self.fraction_step
        _publish(snap)
        if due and self.emit is not None:
            self.emit(snap)

    def update(self, done: int, total: int | None = None) -> None:
        """``done`` units finished (of ``total``, if it changed); emits when a line is due."""
        with self._lock:
            if total is not None:
                self.total = total
            self._done = max(self._done, int(done))
            self._report(self.clock.monotonic())

    def advance(self, n: int = 1) -> None:
        """``n`` more units finished; emits when a line is due."""
        with self._lock:
            self._done += int(n)
            self._report(self.clock.monotonic())

    def tick(self) -> None:
        """No new units, but time passed (a long wait): emits when the interval is up."""
        with self._lock:
            now = self.clock.monotonic()
            if self._last_emit is not None and now - self._last_emit >= self.interval:
                self._report(now)

    def finish(self) -> ProgressSnapshot:
        """The step is over: emit its last line (done in ...); returns it. Idempotent."""
        with self._lock:
            if not self._finished:
                self._finished = True
                self._report(self.clock.monotonic())
            return self._snapshot(self.clock.monotonic())
