"""HTTP plumbing shared by the REST destination clients (Pipedrive, HighLevel).

Only what is the same for every vendor lives here: the pooled ``requests`` session, query-parameter
cleaning, the value-free description of a transport failure, one timed attempt, the retry policy
(429 always, transport errors when repeatable) and the thread-safe request counters. Headers,
status handling, rate-limit headers and budgets stay in each vendor's client.

Nothing here logs or embeds tokens, request bodies, query values or response bodies.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter
from urllib3.exceptions import ConnectTimeoutError

__all__ = [
    "ClientStats", "clean_params", "describe_transport", "make_session", "never_sent", "non_json_text",
    "retrying", "timed_request",
]


class ClientStats:
    """Thread-safe counters of one client.

    Subclasses name their fields: ``COUNTERS`` start at 0 and are incremented with ``add``;
    ``GAUGES`` start at None and are set by the client (hold ``_lock`` to set several at once).
    The base counters: ``requests`` (HTTP attempts sent, retries included), ``retries`` (attempts
    repeated), ``responses_429`` / ``responses_5xx`` (such responses received).
    """

    COUNTERS: tuple[str, ...] = ("requests", "retries", "responses_429", "responses_5xx")
    GAUGES: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        for name in self.COUNTERS:
            setattr(self, name, 0)
        for name in self.GAUGES:
            setattr(self, name, None)

    def add(self, name: str, delta: int = 1) -> None:
        """Increment counter ``name`` by ``delta``."""
        with self._lock:
            setattr(self, name, getattr(self, name) + delta)

    def snapshot(self) -> dict[str, int | None]:
        """A consistent copy of all values: ``{name: value}`` for COUNTERS then GAUGES."""
        with self._lock:
            return {k: getattr(self, k) for k in (*self.COUNTERS, *self.GAUGES)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.snapshot()})"


def make_session(headers: Mapping[str, str], pool_size: int) -> requests.Session:
    """A ``requests.Session`` with ``headers`` and one keep-alive pool of ``pool_size`` connections
    for http and https. ``pool_block``: threads beyond ``pool_size`` wait for a connection instead
    of opening throwaways; urllib3 itself never retries (``max_retries=0``)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, pool_block=True, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update(headers)
    return session


def clean_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Query parameters as strings: None values dropped; bools -> ``true``/``false``; lists, tuples
    and sets -> comma-joined. None (no query string) for empty or missing ``params``."""
    if not params:
        return None
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (list, tuple, set, frozenset)):
            out[key] = ",".join(str(v) for v in value)
        else:
            out[key] = str(value)
    return out


def describe_transport(exc: requests.RequestException) -> str:
    """Class names along an exception's cause chain, e.g. ``ConnectionError / MaxRetryError /
    NewConnectionError`` (the messages themselves carry the URL with query values)."""
    names = [type(exc).__name__]
    node: Any = exc.args[0] if exc.args else None
    for _ in range(4):
        if not isinstance(node, BaseException):
            break
        names.append(type(node).__name__)
        node = getattr(node, "reason", None) or (node.args[-1] if len(node.args) > 1 else None)
    return " / ".join(dict.fromkeys(names))


def never_sent(exc: requests.RequestException) -> bool:
    """True if the connection was never established, so the server cannot have executed it."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, ConnectTimeoutError)


def non_json_text(resp: requests.Response) -> str:
    """``"non-JSON response (<content type>)"``: how a body that is not JSON is named in errors
    (a Cloudflare HTML 403, a proxy's 502 page), never quoting the body."""
    ctype = resp.headers.get("content-type", "unknown").split(";")[0]
    return f"non-JSON response ({ctype})"


def timed_request(session: requests.Session, method: str, url: str, *, template: str, timeout: float,
                  stats: ClientStats, transport_error: Callable[..., Exception], logger: logging.Logger,
                  **kwargs: Any) -> tuple[requests.Response, float]:
    """Send one attempt (redirects not followed: they would forward the auth header) and count it.

    Returns ``(response, seconds elapsed)`` whatever the status. ``kwargs`` go to
    ``session.request`` (params, json, files, data, headers).

    Raises:
        transport_error: built as ``transport_error(0, <describe_transport>, template, sent=...,
            method=method)`` when no response arrived (``sent`` False only if the connection was
            never established); raised ``from None`` because the original names the URL. A
            ``transport_errors`` counter in ``stats.COUNTERS`` is incremented first.
    """
    stats.add("requests")
    started = time.monotonic()
    try:
        resp = session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        if "transport_errors" in stats.COUNTERS:
            stats.add("transport_errors")
        raise transport_error(0, describe_transport(exc), template, sent=not never_sent(exc), method=method) from None
    elapsed = time.monotonic() - started
    logger.debug("%s %s -> %s in %.3fs", method, template, resp.status_code, elapsed)
    return resp, elapsed


_backoff = wait_exponential_jitter(initial=0.5, max=30, jitter=0.5)


def retrying(*, max_retries: int, repeatable: bool, rate_limited: type[BaseException],
             transport: type[BaseException], stats: ClientStats) -> Retrying:
    """The retry policy of one logical request, as a tenacity ``Retrying`` (call it with the attempt).

    ``rate_limited`` (a 429: the request was not executed) is always retried; ``transport``
    (connection error, timeout, 5xx; must have a ``sent`` attribute) only if ``repeatable`` or the
    request was never sent; anything else is raised at once. At most ``max_retries`` retries, then
    the last exception is re-raised. Waits: after a 429 the vendor's limiter already holds every
    thread, so only 0-0.25 s of jitter (waiting threads don't stampede); otherwise exponential
    0.5, 1, 2 ... <= 30 s plus <= 0.5 s jitter. Each retry adds 1 to ``stats.retries``.
    """

    def should_retry(exc: BaseException) -> bool:
        if isinstance(exc, rate_limited):
            return True
        if isinstance(exc, transport):
            return repeatable or not exc.sent  # type: ignore[attr-defined]
        return False

    def wait(state: RetryCallState) -> float:
        if state.outcome is not None and isinstance(state.outcome.exception(), rate_limited):
            return random.uniform(0.0, 0.25)
        return _backoff(state)

    return Retrying(stop=stop_after_attempt(max_retries + 1), wait=wait, retry=retry_if_exception(should_retry),
                    before_sleep=lambda _state: stats.add("retries"), reraise=True)
