"""A manual clock for the HTTP layer's tests: ``sleep`` moves time forward at once and is recorded."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


class ManualClock:
    """Implements ``flit_pipelines.http.clock.Clock``; ``slept`` lists every sleep asked for."""

    def __init__(self, start: float = 1000.0):
        self._t = start
        self._start_wall = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._start = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._t += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._t += seconds

    def now(self) -> datetime:
        with self._lock:
            return self._start_wall + timedelta(seconds=self._t - self._start)

    @property
    def total_slept(self) -> float:
        return sum(self.slept)
