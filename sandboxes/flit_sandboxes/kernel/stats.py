"""Request counters behind ``GET /__sandbox/stats`` (the admin snapshot's common keys)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class RequestStats:
    """Counters for ``GET /__sandbox/stats``; thread-safe. Paths are route templates, never raw
    paths or query strings (those can carry patient data)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_path: Counter[str] = Counter()
        self.by_operation: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.rate_limited = 0
        self.faults_injected = 0

    def request(self, method: str, template: str) -> None:
        """Count one request to route ``template`` (``"<unmatched>"`` for unknown paths)."""
        with self._lock:
            self.by_path[template] += 1
            self.by_operation[f"{method} {template}"] += 1

    def status(self, status: int) -> None:
        """Count one response status."""
        with self._lock:
            self.by_status[status] += 1

    def limited(self) -> None:
        """Count one 429 sent by the rate limiter (injected 429s count as faults)."""
        with self._lock:
            self.rate_limited += 1

    def fault(self) -> None:
        """Count one request hit by an injected fault."""
        with self._lock:
            self.faults_injected += 1

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready copy of all counters."""
        with self._lock:
            return {
                "requests_total": sum(self.by_path.values()),
                "requests_by_path": dict(self.by_path),
                "requests_by_operation": dict(self.by_operation),
                "responses_by_status": {str(key): value for key, value in self.by_status.items()},
                "rate_limited_429": self.rate_limited,
                "faults_injected": self.faults_injected,
            }
