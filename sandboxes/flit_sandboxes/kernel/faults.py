"""On-demand fault injection for reliability tests (ARCHITECTURE.md "Sandboxes").

A test registers rules through ``POST /__sandbox/faults``; each rule hits the next ``count``
requests whose path starts with ``path_prefix`` (and whose method matches, if given), after
letting ``after`` matching requests through untouched. Matching is a plain prefix test on the
path the gateway passes (``Gateway.fault_path``); a sandbox whose paths have aliases passes a
``normalise`` function (e.g. ``path_alias``) that rewrites each rule's prefix into that form.
A hit can:

- delay the request by ``delay_seconds`` (then serve it normally unless a status/drop is set);
- answer with ``status`` (429, 5xx, 403, ...) without executing the request; ``retry_after``
  (seconds) sets the vendor's wait header on that answer (``Retry-After``, or the vendor's reset
  header: ``Gateway.wait_headers``), so a long 429 storm can be played quickly; ``body`` (any JSON)
  replaces the vendor's error body; ``echo`` makes the error body quote the request itself (its
  JSON or form body and its credential headers, in the vendor's error shape: ``Gateway.echo_reply``),
  the way vendors' 400/422 answers and proxies do;
- drop the connection (close the socket without any response) before executing the request;
- ``lose_response``: execute the request (charged, stored), then close the socket instead of
  answering: "executed but the answer never arrived", the case a client must not answer with a
  duplicate. With ``delay_seconds`` the lost answer is held that long before the connection drops.

A delayed request whose client hangs up meanwhile is abandoned by the server when it reads the
body (the ASGI server reports the disconnect), so only ``lose_response`` produces a lost answer of
an executed write.

Rules are matched in registration order; the first rule that matches a request consumes it (a
``lose_response`` rule also when the request is then refused by the rate limits).
Faulted requests are not charged against the rate limits (the "server" never processed them),
except ``lose_response`` ones, which are executed.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

MAX_DELAY_SECONDS = 120.0


@dataclass
class FaultRule:
    """One registered fault. ``count``/``after`` count down as requests match."""

    id: int
    path_prefix: str
    method: str | None
    status: int | None
    count: int
    after: int
    delay_seconds: float
    drop_connection: bool
    lose_response: bool = False
    retry_after: int | None = None
    body: Any = None
    echo: bool = False
    fired: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON view for the admin endpoints."""
        return asdict(self)


class FaultInjector:
    """Thread-safe registry of fault rules (see module docstring).

    Args:
        normalise: maps a rule's ``path_prefix`` to the form ``take`` receives (default: as given).
    """

    def __init__(self, normalise: Callable[[str], str] | None = None) -> None:
        self._normalise = normalise or (lambda path: path)
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(self, spec: dict[str, Any]) -> FaultRule:
        """Register a rule from the admin JSON body.

        Body keys: ``status`` (int 400-599, optional), ``count`` (>= 1, default 1),
        ``path_prefix`` (default "/"), ``method`` (optional), ``delay_seconds`` (0-120, default 0),
        ``drop_connection`` (bool), ``lose_response`` (bool), ``after`` (>= 0, default 0), and with
        ``status`` only: ``retry_after`` (int seconds >= 0), ``body`` (JSON) or ``echo`` (bool).

        Raises:
            ValueError: invalid, contradictory or pointless rule (no status, delay, drop or loss).
        """
        if not isinstance(spec, dict):
            raise ValueError("fault body must be a JSON object")
        unknown = set(spec) - {"status", "count", "path_prefix", "method", "delay_seconds", "drop_connection", "after",
                               "lose_response", "retry_after", "body", "echo"}
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        status = spec.get("status")
        if status is not None and (not _is_int(status) or not 400 <= status <= 599):
            raise ValueError("status must be an integer 400-599")
        count = spec.get("count", 1)
        after = spec.get("after", 0)
        if not _is_int(count) or count < 1:
            raise ValueError("count must be an integer >= 1")
        if not _is_int(after) or after < 0:
            raise ValueError("after must be an integer >= 0")
        delay = spec.get("delay_seconds", 0) or 0
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= MAX_DELAY_SECONDS:
            raise ValueError(f"delay_seconds must be a number 0-{MAX_DELAY_SECONDS:g}")
        drop = spec.get("drop_connection", False)
        if not isinstance(drop, bool):
            raise ValueError("drop_connection must be a boolean")
        prefix = spec.get("path_prefix", "/")
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise ValueError("path_prefix must start with '/'")
        method = spec.get("method")
        if method is not None and not isinstance(method, str):
            raise ValueError("method must be a string")
        lose = spec.get("lose_response", False)
        if not isinstance(lose, bool):
            raise ValueError("lose_response must be a boolean")
        if lose and (status is not None or drop):
            raise ValueError("lose_response executes the request: it takes no status or drop_connection")
        retry_after = spec.get("retry_after")
        if retry_after is not None and (not _is_int(retry_after) or retry_after < 0):
            raise ValueError("retry_after must be an integer >= 0")
        echo = spec.get("echo", False)
        if not isinstance(echo, bool):
            raise ValueError("echo must be a boolean")
        if (retry_after is not None or "body" in spec or echo) and status is None:
            raise ValueError("retry_after, body and echo go with a status")
        if echo and "body" in spec:
            raise ValueError("echo and body are alternatives")
        if status is None and not drop and not delay and not lose:
            raise ValueError("a fault needs status, delay_seconds, drop_connection or lose_response")
        rule = FaultRule(
            id=next(self._ids),
            path_prefix=self._normalise(prefix),
            method=method.upper() if method else None,
            status=status,
            count=count,
            after=after,
            delay_seconds=float(delay),
            drop_connection=drop,
            lose_response=lose,
            retry_after=retry_after,
            body=spec.get("body"),
            echo=echo,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> FaultRule | None:
        """Consume the fault (if any) for this request; ``path`` in the normalised form."""
        with self._lock:
            if not self._rules:
                return None
            for rule in self._rules:
                if not path.startswith(rule.path_prefix) or (rule.method and rule.method != method):
                    continue
                if rule.after > 0:
                    rule.after -= 1
                    return None
                rule.count -= 1
                rule.fired += 1
                if rule.count <= 0:
                    self._rules.remove(rule)
                return rule
            return None

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def list(self) -> list[dict[str, Any]]:
        """Pending rules as dicts."""
        with self._lock:
            return [rule.as_dict() for rule in self._rules]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def path_alias(alias: str, canonical: str) -> Callable[[str], str]:
    """A path normaliser serving ``alias`` and everything below it as ``canonical``:
    ``path_alias("/v1", "/api/v1")("/v1/users")`` is ``"/api/v1/users"``; other paths pass unchanged."""

    def normalise(path: str) -> str:
        if path == alias or path.startswith(alias + "/"):
            return canonical + path[len(alias):]
        return path

    return normalise
