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
* **HTTP** (``ApiError``, ``Retryable``, ``raise_if_retryable``, ``RetryPolicy``, ``make_limiter``):
  the tenacity retry policy for idempotent calls (408/429/5xx and transport errors, ``Retry-After``
  honoured up to a cap, else exponential back-off with jitter) and the pyrate-limiter ceiling.

Nothing here logs or raises values, bodies, query strings or credentials: messages name an endpoint
path, an HTTP status, a column or a JSON path only.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import pyarrow as pa
import requests
from pyrate_limiter import InMemoryBucket, Limiter, Rate
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from flit_pipelines.sources.csv_export import HeaderReport, MissingColumnError, MissingFileError
from flit_pipelines.spec.model import SourceObject

__all__ = ["EXPLODE", "MISSING", "RETRY_STATUSES", "ApiError", "ColumnPlan", "Counters", "RetryPolicy", "Retryable",
           "absent_endpoint", "drop_seen_keys", "format_since", "header_report", "make_limiter",
           "normalise_datetime", "raise_if_retryable", "retry_after_seconds", "split_endpoint", "split_path",
           "text_batch", "to_text", "walk"]

T = TypeVar("T")

EXPLODE = "[]"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


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


class ApiError(RuntimeError):
    """An API call failed for good (after retries). ``endpoint`` is the path (or a label such as
    ``token endpoint``), ``status`` the HTTP status (None for transport failures). The message names
    only these two: ``"<what> <endpoint>: HTTP <status>"`` / ``"...: no response"``."""

    def __init__(self, endpoint: str, status: int | None, what: str = "GET"):
        self.endpoint = endpoint
        self.status = status
        super().__init__(f"{what} {endpoint}: " + (f"HTTP {status}" if status is not None else "no response"))


class Retryable(Exception):
    """A response worth retrying (408/429/5xx); carries the server's ``Retry-After`` in seconds."""

    def __init__(self, status: int, retry_after: float | None):
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds >= 0 (delta-seconds or an HTTP date), None when absent or malformed."""
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
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())


def raise_if_retryable(response: requests.Response, count: Callable[[str], None] | None = None) -> None:
    """Close ``response`` and raise ``Retryable`` when its status is in ``RETRY_STATUSES``; else return.

    ``count`` (optional) is called with ``"responses_429"`` or ``"responses_5xx"`` first.
    """
    status = response.status_code
    if status not in RETRY_STATUSES:
        return
    if count is not None:
        if status == 429:
            count("responses_429")
        elif status >= 500:
            count("responses_5xx")
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    response.close()
    raise Retryable(status, retry_after)


class RetryPolicy:
    """Retries of one idempotent HTTP call (tenacity).

    Retried: ``Retryable`` (waiting the server's ``Retry-After``, capped at ``max_retry_after``, else
    exponential back-off with jitter between ``backoff_initial`` and ``backoff_max``), connection
    errors, timeouts and broken chunked bodies; at most ``max_attempts`` attempts. Before each sleep
    ``on_retry()`` is called and ``logger`` warns ``"<label>: <status or error type>, retry i of n"``.
    """

    def __init__(self, max_attempts: int, max_retry_after: float, backoff_initial: float, backoff_max: float,
                 *, on_retry: Callable[[], None] | None = None, logger: logging.Logger | None = None):
        self.max_attempts = max_attempts
        self.max_retry_after = max_retry_after
        self._backoff = wait_exponential_jitter(initial=backoff_initial, max=backoff_max)
        self._on_retry = on_retry
        self._log = logger or logging.getLogger(__name__)

    def call(self, fn: Callable[[], T], label: str, error: type[ApiError], what: str = "GET") -> T:
        """``fn()`` under the policy.

        Raises:
            ApiError (``error``): ``error(label, status, what)`` when retries of a ``Retryable`` are
                exhausted, ``error(label, None, what)`` on a transport failure (``requests``).
            Any other exception of ``fn`` unchanged, without retrying.
        """
        retrying = Retrying(stop=stop_after_attempt(self.max_attempts), wait=self._wait,
                            retry=retry_if_exception(self._retryable), reraise=True,
                            before_sleep=lambda state: self._before_sleep(state, label))
        try:
            return retrying(fn)
        except Retryable as failure:
            raise error(label, failure.status, what) from None
        except requests.RequestException:
            raise error(label, None, what) from None

    @staticmethod
    def _retryable(error: BaseException) -> bool:
        return isinstance(error, (Retryable, requests.ConnectionError, requests.Timeout,
                                  requests.exceptions.ChunkedEncodingError))

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Retryable) and error.retry_after is not None:
            return min(error.retry_after, self.max_retry_after)
        return self._backoff(state)

    def _before_sleep(self, state: RetryCallState, label: str) -> None:
        if self._on_retry is not None:
            self._on_retry()
        error = state.outcome.exception() if state.outcome else None
        status = error.status if isinstance(error, Retryable) else type(error).__name__
        self._log.warning("%s: %s, retry %d of %d", label, status, state.attempt_number, self.max_attempts - 1)


def make_limiter(requests_per_second: float) -> Limiter:
    """A pyrate-limiter ceiling: ``int(rate)`` requests per rolling second when ``rate >= 1``, else
    one request per ``ceil(1000 / rate)`` ms (0.9 -> 1112 ms, never faster than ``rate``).
    Use ``limiter.try_acquire(name, blocking=True)`` before each request; ``limiter.close()`` stops
    its leak thread.

    Raises:
        ValueError: ``requests_per_second <= 0``.
    """
    if requests_per_second <= 0:
        raise ValueError("requests_per_second must be positive")
    rate = Rate(int(requests_per_second), 1000) if requests_per_second >= 1 else \
        Rate(1, math.ceil(1000 / requests_per_second))
    return Limiter(InMemoryBucket([rate]))


class Counters(dict):
    """Request counters: a plain ``dict`` of name -> int (numbers only: safe for logs and asset
    metadata) whose ``add`` is thread-safe. ``Counters("requests", "retries")`` starts them at 0."""

    def __init__(self, *names: str):
        super().__init__((name, 0) for name in names)
        self._lock = threading.Lock()

    def add(self, name: str, delta: int = 1) -> None:
        """Add ``delta`` to counter ``name`` (KeyError for a name not given at construction)."""
        with self._lock:
            self[name] += delta
