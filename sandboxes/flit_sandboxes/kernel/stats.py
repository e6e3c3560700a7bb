"""Request counters behind ``GET /__sandbox/stats`` (the admin snapshot's common keys), and the request
log behind ``GET /__sandbox/requests``: per request its start and end (unix seconds), method, route
template, status and the client's ``User-Agent`` (Flit's clients name their process there), so a test or
benchmark can prove that no two writers used one account at the same time."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any


REQUEST_LOG_SIZE = 500_000  # newest requests kept (about 60 MB at most)


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
        self._log: deque[tuple[float, float, str, str, str, str]] = deque(maxlen=REQUEST_LOG_SIZE)

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

    def record(self, started: float, ended: float, method: str, template: str, status: int | str | None,
               client: str) -> None:
        """Log one request: ``started``/``ended`` unix seconds, route ``template`` (never the raw path),
        ``status`` (or what happened instead), ``client`` (its User-Agent)."""
        self._log.append((started, ended, method, template, str(status), client))

    def request_log(self) -> list[dict[str, Any]]:
        """The logged requests, oldest first: ``{started, ended, method, path, status, client}``."""
        with self._lock:
            rows = list(self._log)
        return [{"started": a, "ended": b, "method": m, "path": t, "status": s, "client": c}
                for a, b, m, t, s, c in rows]

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


def overlapping_clients(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pairs of requests (rows of ``RequestStats.request_log``) from different clients whose
    [started, ended] intervals overlap: two processes using one account at the same time. Empty when
    the account only ever had one client at a time."""
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    active: list[dict[str, Any]] = []  # requests still open at the current start, any client
    for row in sorted(rows, key=lambda r: r["started"]):
        active = [a for a in active if a["ended"] > row["started"]]
        pairs.extend((a, row) for a in active if a["client"] != row["client"])
        active.append(row)
    return pairs
