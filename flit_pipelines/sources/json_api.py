"""Vendor-neutral pieces of the JSON REST API readers (``ascend_api``, ``practicehub_api``).

* **Column plans** (``ColumnPlan``): each column's ``source`` (default: its canonical name) is a
  dotted JSON path into a row (``provider.id``, ``address.postalCode``); a numeric segment indexes a
  list (``phones.0.number``); one ``[]`` level (``items[].procedureCode``) explodes the row over that
  list: one output row per element, the other columns repeated. Every ``[]`` column of an object
  must name the same list; a row whose list is null, absent or empty yields no rows.
* **Text values** (``to_text``): the canonical text forms of ``sources.base``: numbers in plain
  decimal notation, booleans ``true``/``false``, ``datetime`` columns with a zone converted to UTC
  ``YYYY-MM-DD HH:MM:SS[.ffffff]``, nested objects and lists as compact JSON, NaN/inf as null.
* **Batches** (``text_batch``, ``drop_seen_keys``): all-text ``pa.RecordBatch`` in column order, and
  the per-read primary-key de-duplication.
* **Header checks** (``header_report``, ``absent_endpoint``): one sample row against the plan ->
  ``HeaderReport``, ``MissingColumnError`` / ``MissingFileError``.
* **HTTP** (``get``, ``check_status``, ``call``, ``per_second_limiter``): what the two
  readers share on top of ``flit_pipelines.http``: a GET that names a failure by path and status only,
  the statuses they retry (429 after the server's ``Retry-After`` or a backoff, charged to the wave's
  rate-limit patience and never counted; 408/409/5xx and transport errors up to ``max_attempts``; the
  readers only read, so every call is repeatable) and a requests-per-second ceiling.

Nothing here logs or raises values, bodies, query strings or credentials: messages name an endpoint
path, an HTTP status, a column or a JSON path only.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import pyarrow as pa
import requests

from flit_pipelines.http.clock import Clock
from flit_pipelines.http.errors import RateLimitedError, StatusError, TransientError
from flit_pipelines.http.patience import Patience
from flit_pipelines.http.rate_limit import RateLimiter
from flit_pipelines.http.retry import RetryPolicy, call_with_retries, is_transient_status
from flit_pipelines.http.session import never_sent, retry_after_seconds
from flit_pipelines.http.stats import ClientStats
from flit_pipelines.sources.csv_export import HeaderReport, MissingColumnError, MissingFileError
from flit_pipelines.spec.model import SourceObject

__all__ = ["EXPLODE", "MISSING", "ColumnPlan", "absent_endpoint", "call", "check_status",
           "drop_seen_keys", "format_since", "get", "header_report", "normalise_datetime", "per_second_limiter",
           "split_endpoint", "split_path", "text_batch", "to_text", "walk"]

T = TypeVar("T")

EXPLODE = "[]"


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""What ``walk`` returns when a key on the path is absent (as opposed to a JSON null)."""


# ------------------------------------------------------------------------------ JSON path -> text


def to_text(value: Any, ctype: str) -> str | None:
    """The canonical text form of one JSON value for a column of type ``ctype`` (module docstring).

    ``None``, NaN and infinities -> None; only ``datetime`` columns rewrite strings.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        text = repr(value)
        return format(Decimal(text), "f") if "e" in text or "E" in text else text
    if isinstance(value, str):
        return normalise_datetime(value) if ctype == "datetime" else value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def normalise_datetime(text: str) -> str:
    """ISO 8601 with a zone -> UTC ``YYYY-MM-DD HH:MM:SS[.ffffff]``; anything else (no zone, not a
    timestamp) unchanged."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text
    moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(sep=" ")


def walk(node: Any, segments: tuple[str, ...]) -> Any:
    """Follow ``segments`` into dicts (and lists by numeric segment; past the end -> None).

    Returns the value, None when a null is met on the way, or ``MISSING`` when a key is absent or a
    segment cannot apply (a non-numeric segment on a list, any segment on a scalar).
    """
    for seg in segments:
        if node is None:
            return None
        if isinstance(node, Mapping):
            if seg not in node:
                return MISSING
            node = node[seg]
        elif isinstance(node, list) and seg.isdigit():
            index = int(seg)
            node = node[index] if index < len(node) else None
        else:
            return MISSING
    return node


def split_path(path: str) -> tuple[str, ...]:
    """``"a.b.0"`` -> ``("a", "b", "0")`` (empty segments dropped)."""
    return tuple(s for s in path.split(".") if s)


class ColumnPlan:
    """Compiled column getters of one spec object: plain paths and (at most one) exploded list.

    Attributes:
        names: column names in spec order; ``types``: name -> spec type; ``paths``: name -> source path.
        plain: name -> segments of columns read from the row itself.
        inner: name -> segments (below the list element) of ``[]`` columns.
        list_path: segments of the exploded list, None when no column has ``[]``.

    Raises:
        ValueError: two different ``[]`` lists, or a path with more than one ``[]`` (names
            ``endpoint`` and the column).
    """

    def __init__(self, obj: SourceObject, endpoint: str):
        self.names = list(obj.columns)
        self.types = {n: c.type for n, c in obj.columns.items()}
        self.paths = {n: (c.source or n) for n, c in obj.columns.items()}
        self.plain: dict[str, tuple[str, ...]] = {}
        self.inner: dict[str, tuple[str, ...]] = {}
        lists = set()
        for name, path in self.paths.items():
            if EXPLODE in path:
                if path.count(EXPLODE) > 1:
                    raise ValueError(f"{endpoint}: column {name}: only one [] level is supported")
                prefix, rest = path.split(EXPLODE, 1)
                lists.add(prefix)
                self.inner[name] = split_path(rest)
            else:
                self.plain[name] = split_path(path)
        if len(lists) > 1:
            raise ValueError(f"{endpoint}: columns explode different lists {sorted(lists)}")
        self.list_path: tuple[str, ...] | None = split_path(lists.pop()) if lists else None

    def rows(self, records: list[Any]) -> dict[str, list[str | None]]:
        """Column name -> text values for ``records`` (exploded when the plan has a list); every list
        has the same length. An absent path gives null."""
        out: dict[str, list[str | None]] = {n: [] for n in self.names}
        for rec in records:
            if self.list_path is None:
                for name, segs in self.plain.items():
                    out[name].append(self._value(rec, segs, name))
                continue
            elements = walk(rec, self.list_path)
            if not isinstance(elements, list):
                continue
            plain = {name: self._value(rec, segs, name) for name, segs in self.plain.items()}
            for element in elements:
                for name, value in plain.items():
                    out[name].append(value)
                for name, segs in self.inner.items():
                    out[name].append(self._value(element, segs, name))
        return out

    def _value(self, node: Any, segs: tuple[str, ...], name: str) -> str | None:
        value = walk(node, segs)
        return None if value is MISSING else to_text(value, self.types[name])


def text_batch(columns: Mapping[str, list[str | None]], names: list[str],
               metadata: Mapping[str, str] | None = None) -> pa.RecordBatch:
    """``columns`` (e.g. ``ColumnPlan.rows``) as a ``pa.RecordBatch`` of ``pa.string()`` columns in
    ``names`` order, with optional schema ``metadata``."""
    schema = pa.schema([(n, pa.string()) for n in names], metadata=metadata)
    return pa.RecordBatch.from_arrays([pa.array(columns[n], type=pa.string()) for n in names], schema=schema)


def drop_seen_keys(batch: pa.RecordBatch, key: str | None, seen: set[str]) -> pa.RecordBatch | None:
    """``batch`` without rows whose ``key`` column value is already in ``seen`` (which it extends);
    rows with a null key are always kept, and ``key=None`` keeps every row. None when no row is left."""
    if key is None or batch.num_rows == 0:
        return batch if batch.num_rows else None
    keep = []
    for i, value in enumerate(batch.column(key).to_pylist()):
        if value is None or value not in seen:
            keep.append(i)
            if value is not None:
                seen.add(value)
    if not keep:
        return None
    return batch if len(keep) == batch.num_rows else batch.take(pa.array(keep))


# ------------------------------------------------------------------------------ header checks


def absent_endpoint(obj: SourceObject, path: str) -> HeaderReport:
    """What a 404 on the object's endpoint means: the report of an absent optional object.

    Raises:
        MissingFileError: the object is not optional (names the endpoint path).
    """
    if obj.optional:
        return HeaderReport(file=path, present=False, missing_optional=list(obj.columns))
    # Called while handling the 404: ``from None`` keeps the ApiError out of the traceback.
    raise MissingFileError(f"{path}: endpoint not found (HTTP 404)") from None


def header_report(obj: SourceObject, plan: ColumnPlan, path: str, records: list[Any]) -> HeaderReport:
    """Compare the first of ``records`` (a sample page, may be empty) with the object's column paths.

    A path is *present* when every key on it exists (a null on the way counts as present: an API
    may send ``null`` for an absent sub-object); an empty page or an empty nested list cannot be
    checked, so its paths count as present. ``rename`` maps source path -> column name, ``extra``
    lists top-level fields of the sample row no column reads.

    Raises:
        MissingColumnError: a required column's path is absent (names ``path`` and the JSON path).
    """
    record = records[0] if records else None
    element: Any = None
    if record is not None and plan.list_path is not None:
        elements = walk(record, plan.list_path)
        element = elements[0] if isinstance(elements, list) and elements else None
    rename: dict[str, str] = {}
    missing_optional: list[str] = []
    for name, col in obj.columns.items():
        node, segs = (element, plan.inner[name]) if name in plan.inner else (record, plan.plain[name])
        if node is None or walk(node, segs) is not MISSING:
            rename[plan.paths[name]] = name
        elif col.required:
            raise MissingColumnError(f"{path}: required field {plan.paths[name]!r} is missing")
        else:
            missing_optional.append(name)
    used = {segs[0] for segs in (split_path(p.replace(EXPLODE, ".")) for p in plan.paths.values()) if segs}
    extra = sorted(k for k in record if k not in used) if isinstance(record, Mapping) else []
    return HeaderReport(file=path, present=True, rename=rename, missing_optional=missing_optional, extra=extra)


# ------------------------------------------------------------------------------ endpoints and filters


def split_endpoint(endpoint: str) -> tuple[str, dict[str, str]]:
    """A spec endpoint (``/v1/x?filter=a==1``) -> (``"/v1/x"`` with one leading slash, fixed query)."""
    parts = urlsplit(endpoint)
    return "/" + parts.path.lstrip("/"), dict(parse_qsl(parts.query, keep_blank_values=True))


def format_since(since: datetime) -> str:
    """``since`` as ``YYYY-MM-DDTHH:MM:SSZ`` (naive = UTC; truncated to seconds, so a server-side
    ``modified >= since`` never misses a row)."""
    if since.tzinfo is not None:
        since = since.astimezone(timezone.utc)
    return since.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------ HTTP: errors, retries, limits


class _Throttled(StatusError, RateLimitedError):
    """A 429 (the limiter already holds every thread for the server's ``Retry-After``)."""


class _Unavailable(StatusError, TransientError):
    """408/409/5xx (``status``) or no answer (``status`` None; ``sent`` False if never connected)."""

    def __init__(self, endpoint: str, status: int | None, what: str = "GET", *, sent: bool = True):
        self.sent = sent
        super().__init__(endpoint, status, what)


def per_second_limiter(requests_per_second: float, *, clock: Clock, patience: Patience, stats: ClientStats,
                       backoff_initial: float, backoff_max: float, name: str) -> RateLimiter:
    """A ceiling of ``requests_per_second``: ``int(rate)`` requests per rolling second when
    ``rate >= 1``, else one request per ``ceil(1000 / rate)`` ms (0.9 -> 1112 ms, never faster than
    ``rate``). No latency margin: a reader sends one request at a time. 429 pauses without a
    ``Retry-After`` back off from ``backoff_initial`` to ``backoff_max`` seconds.

    Raises:
        ValueError: ``requests_per_second <= 0``.
    """
    if requests_per_second <= 0:
        raise ValueError("requests_per_second must be positive")
    limit, window = (int(requests_per_second), 1.0) if requests_per_second >= 1 else \
        (1, math.ceil(1000 / requests_per_second) / 1000)
    return RateLimiter(limit, window, safety_ms=0, adaptive=False, clock=clock, patience=patience, stats=stats,
                       backoff_initial=backoff_initial, max_backoff=backoff_max, name=name)


def get(session: requests.Session, url: str, label: str, *, stats: ClientStats, method: str = "GET",
        counter: str = "requests", **kwargs: Any) -> requests.Response:
    """One attempt (``session.get`` / ``session.post``; ``kwargs``: params, headers, data, timeout), counted in
    ``stats[counter]`` (``requests`` for API calls; a token endpoint counts its own).

    Raises:
        TransientError: no answer (the ``requests`` exception names the URL with its query values,
            so it is dropped: ``from None``); ``sent`` False when the connection was never made.
    """
    stats.add(counter)
    try:
        return getattr(session, method.lower())(url, **kwargs)
    except requests.RequestException as exc:
        stats.add("transport_errors")
        raise _Unavailable(label, None, method, sent=not never_sent(exc)) from None


def check_status(response: requests.Response, label: str, *, limiter: RateLimiter, stats: ClientStats,
                 patience: Patience | None = None) -> None:
    """Sort a response by status: 429 -> every thread holds the server's ``Retry-After`` (RFC 9110,
    seconds or a date; else a backoff), charged to ``patience``, and ``RateLimitedError`` is raised;
    408/409/5xx -> ``TransientError``; anything else returns (the reader decides). The response is
    closed before raising."""
    status = response.status_code
    if status == 429:
        stats.add("responses_429")
        wait = retry_after_seconds(response.headers.get("Retry-After"), limiter.clock)
        response.close()
        limiter.on_429(wait, patience=patience, stats=stats)
        raise _Throttled(label, 429)
    limiter.on_success()
    if is_transient_status(status):
        if status >= 500:
            stats.add("responses_5xx")
        response.close()
        raise _Unavailable(label, status)


def call(fn: Callable[[], T], label: str, error: type[StatusError], *, policy: RetryPolicy, limiter: RateLimiter,
         stats: ClientStats, logger: logging.Logger, what: str = "GET") -> T:
    """``fn()`` (one attempt: ``get`` + ``check_status`` + the reader's own checks) under the shared
    retry policy (``http.retry``: 429s without a count, transient failures up to ``policy.max_retries``
    repeats; a reader only reads, so every call is repeatable); logs ``"<label>: <status>, retry i of n"``.

    Raises:
        ``error(label, status, what)``: transient failures outlasted the retries (status None: no answer).
        PatienceExhausted: 429s held the wave longer than its patience.
        Any other exception of ``fn`` unchanged, without retrying.
    """
    try:
        return call_with_retries(fn, policy=policy, repeatable=True, clock=limiter.clock, stats=stats, label=label,
                                 logger=logger)
    except _Unavailable as failure:
        raise error(label, failure.status, what) from None
