"""Thread-safe request counters of one client: numbers only, so safe for logs, reports and metadata.

:class:`Counters` is a plain ``dict`` of name -> number (JSON-serialisable as is) whose ``add`` is
thread-safe and whose entries read and write as attributes too (``stats.requests``,
``stats["requests"]``). :class:`ClientStats` is the base every HTTP client's statistics extend:
``requests`` (attempts sent, retries included), ``retries`` (attempts repeated, 429s included),
``responses_429``, ``responses_5xx``, ``transport_errors`` (attempts without an answer) and
``rate_limit_wait_seconds`` (time every thread was held by 429 pauses: what the wave's patience
is charged). A vendor client adds its own counters and gauges (last header values, None until seen).
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["ClientStats", "Counters"]


class Counters(dict):
    """``Counters("requests", "retries")``: those counters at 0 (see the module docstring).

    Subclasses list ``COUNTERS`` (start at 0) and ``GAUGES`` (start at None) that every instance
    has; names passed to the constructor are added as counters.
    """

    COUNTERS: tuple[str, ...] = ()
    GAUGES: tuple[str, ...] = ()

    def __init__(self, *names: str):
        super().__init__()
        object.__setattr__(self, "_lock", threading.RLock())
        for name in (*self.COUNTERS, *names):
            self[name] = 0
        for name in self.GAUGES:
            self[name] = None

    def add(self, name: str, delta: float = 1) -> None:
        """Add ``delta`` to counter ``name`` (KeyError for an unknown name)."""
        with self._lock:
            self[name] += delta

    def snapshot(self) -> dict[str, Any]:
        """A consistent plain-``dict`` copy of every value."""
        with self._lock:
            return dict(self)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self:
            raise AttributeError(f"{type(self).__name__} has no counter or gauge {name!r}")
        with self._lock:
            self[name] = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self)})"


class ClientStats(Counters):
    """The counters every HTTP client keeps (module docstring); subclasses extend the tuples."""

    COUNTERS: tuple[str, ...] = ("requests", "retries", "responses_429", "responses_5xx", "transport_errors",
                                 "rate_limit_wait_seconds")
