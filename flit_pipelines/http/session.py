"""The ``requests`` side of every client: pooled session, query cleaning, one timed attempt.

Only what is the same for every vendor lives here. Headers, status handling and rate-limit header
names stay in each vendor's client. Nothing here logs or embeds tokens, request bodies, query
values or response bodies: a failure is described by exception class names and a path template.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError

from flit_pipelines.http.clock import SYSTEM_CLOCK, Clock
from flit_pipelines.http.stats import ClientStats

__all__ = ["clean_params", "describe_transport", "header_float", "header_int", "make_session", "never_sent",
           "non_json_text", "retry_after_seconds", "timed_request"]


def make_session(headers: Mapping[str, str] | None = None, pool_size: int = 8) -> requests.Session:
    """A ``requests.Session`` with ``headers`` and one keep-alive pool of ``pool_size`` connections
    for http and https. ``pool_block``: threads beyond ``pool_size`` wait for a connection instead
    of opening throwaways; urllib3 itself never retries (``max_retries=0``: the retry policy is ours)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(1, pool_size), pool_block=True, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update(headers or {})
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


def describe_transport(exc: BaseException) -> str:
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


def never_sent(exc: BaseException) -> bool:
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


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    """``int`` value of a response header, or None when absent or malformed."""
    value = headers.get(name)
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def header_float(headers: Mapping[str, str], name: str) -> float | None:
    """``float`` value of a response header, or None when absent or malformed."""
    value = headers.get(name)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def retry_after_seconds(value: str | None, clock: Clock = SYSTEM_CLOCK) -> float | None:
    """``Retry-After`` (RFC 9110 §10.2.3: delay-seconds or an HTTP date) as seconds >= 0, None
    when absent or malformed."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - clock.now()).total_seconds())


def timed_request(session: requests.Session, method: str, url: str, *, template: str, timeout: Any,
                  stats: ClientStats, transport_error: Callable[[BaseException], Exception],
                  logger: logging.Logger, clock: Clock = SYSTEM_CLOCK, **kwargs: Any) -> tuple[requests.Response, float]:
    """Send one attempt (redirects not followed: they would forward the auth header) and count it.

    Returns ``(response, seconds elapsed)`` whatever the status. ``kwargs`` go to
    ``session.request`` (params, json, files, data, headers).

    Raises:
        the exception ``transport_error(exc)`` builds from the ``requests`` exception when no
        response arrived (use ``describe_transport`` / ``never_sent`` on it); raised ``from None``
        because the original names the URL with its query values. ``stats.transport_errors`` is
        incremented first.
    """
    stats.add("requests")
    started = clock.monotonic()
    try:
        resp = session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        stats.add("transport_errors")
        raise transport_error(exc) from None
    elapsed = clock.monotonic() - started
    logger.debug("%s %s -> %s in %.3fs", method, template, resp.status_code, elapsed)
    return resp, elapsed
