"""PracticeHub API reader with resumable, cursor-stored extraction (notes/sources.md §3, cited as notes §3).

What the notes establish, and this reader relies on:

* Base ``https://{account}.neptune.practicehub.io/api`` (one account per practice; ``account_api_base``
  builds it). Every request sends ``x-practicehub-key: <key>`` and ``x-app-details:
  <appname>=<contact email>``.
* Collections answer ``{"total_entries": N, "data": [...], "links": {"previous", "self", "next"}}``,
  links only when relevant; ``page_size`` lowers the default (and maximum) of 100. The reader
  follows ``links.next`` rather than building page URLs.
* ``GET /api/appointments?updated=<ISO timestamp>`` returns what changed since then.

UNCONFIRMED (no public page), handled here as follows:

* ``updated=`` on every collection (not only appointments): ``since`` becomes
  ``updated=<YYYY-MM-DDTHH:MM:SSZ>`` for objects that declare ``modified_at``.
* The limit of 1 request/second per account (issue; no public source): a ceiling of
  ``requests_per_second`` (default 0.9, i.e. one request every ~1.11 s; ``http.RateLimiter``) shared
  by every reader of the same account in the process; a 429 holds every reader of the account for
  the server's ``Retry-After`` and is repeated, for as long as the wave's rate-limit patience lasts.
* Status codes: 401/403 are final (``PracticeHubAuthError``); 408/409/5xx, timeouts and dropped
  connections are retried (``http.retry``; GETs only: the reader never writes); other 4xx are final.
* Resources beyond patients/appointments and every field path are what the spec names
  (``SourceObject.endpoint``, column ``source``); 404 on an endpoint = the object is absent.
* Attachment ``download_url``s: same host as ``api_base`` -> sent with the key; another host
  (e.g. a pre-signed storage URL) -> fetched without the PracticeHub headers.

Resumable extraction (issue: "an extraction stopped midway resumes from its last page"; the cursor is
``sources.practicehub_cursor``, the ``flit`` inventory ``sources.practicehub_inventory``):

* Each object's cursor lives in ``state_dir/<object key>/``: ``meta.json`` (endpoint, fixed query,
  column paths, ``since``, page size, API base) and one Arrow IPC file per page
  (``page-00000001.arrow``) holding that page's rows as the object's text columns, with the
  ``links.next`` it returned and the URL it was read from in the file's schema metadata. A page
  file is written to a temporary name, fsynced and renamed *before* its rows are yielded, so the
  rename is the one commit of "page N read, continue at its next link".
* ``read(obj, since)`` first replays the stored pages (no HTTP), then continues from the last
  stored ``links.next``; a page URL already read in this extraction is never requested again
  (a repeated ``next`` raises instead of looping). When the collection is exhausted the object's
  directory is removed, so the next extraction starts fresh. A different ``since``/page size/API
  base, or changed column paths (a new key), start over.
* The object key is ``<endpoint slug>-<hash of endpoint, fixed query and column paths>``: two spec
  objects reading one endpoint (notes and their exploded procedures) keep separate cursors.
* Limits: a crash between receiving a page and renaming its file re-requests that page on resume;
  a read that is retried after the server already answered can be served twice. One extraction per
  object at a time (no cross-process lock).

Rows are the object's declared columns under canonical names, all text (``sources.base``), from
dotted JSON paths with the same semantics as ``ascend_api`` (numeric segments index lists, one
``[]`` level explodes a list into rows; ``sources.json_api`` holds those plans, the text forms,
header checks and the shared GET/status/retry steps over ``flit_pipelines.http``). Rows whose primary
key was already yielded in this read
are dropped (offset paging can repeat a row when rows are inserted mid-read).

Never logged and never in an error or a state file name: the key, the app details' e-mail, query
values and response bodies. Stored pages hold only the declared columns (patient data at rest under
``state_dir``, as the Parquet extracts do). Errors name the endpoint path and HTTP status only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import shutil
import weakref
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import pyarrow as pa
import requests

from flit_pipelines.http.clock import SYSTEM_CLOCK, Clock
from flit_pipelines.http.errors import StatusError
from flit_pipelines.http.patience import PATIENCE_SETTING, Patience
from flit_pipelines.http.rate_limit import SharedLimiters
from flit_pipelines.http.retry import RetryPolicy
from flit_pipelines.http.stats import ClientStats
from flit_pipelines.sources import json_api
from flit_pipelines.sources.csv_export import HeaderReport
from flit_pipelines.sources.json_api import ColumnPlan, absent_endpoint
from flit_pipelines.sources.practicehub_cursor import PageCursor
from flit_pipelines.sources.json_api import drop_seen_keys, format_since, header_report, split_endpoint
from flit_pipelines.spec.model import SourceObject

__all__ = ["DEFAULT_REQUESTS_PER_SECOND", "PracticeHubApiError", "PracticeHubAuthError", "PracticeHubSource",
           "account_api_base"]

log = logging.getLogger(__name__)

DEFAULT_REQUESTS_PER_SECOND = 0.9  # under the 1 request/s per account (UNCONFIRMED by the notes)
MAX_PAGE_SIZE = 100  # notes §3


class PracticeHubApiError(StatusError):
    """An API call failed for good (after retries). ``endpoint`` is the path, ``status`` the HTTP
    status (None for transport failures or a broken pagination). The message names only these."""


class PracticeHubAuthError(PracticeHubApiError):
    """The API refused the key or the app (401/403): retrying cannot help."""


def account_api_base(account: str, region: str = "neptune") -> str:
    """``https://{account}.{region}.practicehub.io/api`` (notes §3; regions other than ``neptune``
    are UNCONFIRMED).

    Raises:
        ValueError: ``account`` or ``region`` is not a DNS label.
    """
    label = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.I)
    if not (label.match(account) and label.match(region)):
        raise ValueError("account and region must be DNS labels")
    return f"https://{account}.{region}.practicehub.io/api"


# ------------------------------------------------------------------------------ shared account limiter
_LIMITERS = SharedLimiters()  # per (account host, rate): readers of one account share its ceiling


def _release(host: str, rate: float, session: requests.Session | None) -> None:
    _LIMITERS.release((host, rate))
    if session is not None:
        session.close()


# ------------------------------------------------------------------------------ the source


def _records(body: Any, endpoint: str) -> list[Any]:
    """``data`` of a page body. Raises PracticeHubApiError (status 200 named) for another shape."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if isinstance(data, list):
        return data
    raise PracticeHubApiError(endpoint, 200, "GET (unexpected body shape)")


def _total(body: Any) -> int | None:
    total = body.get("total_entries") if isinstance(body, Mapping) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def _next_link(body: Any) -> str | None:
    links = body.get("links") if isinstance(body, Mapping) else None
    nxt = links.get("next") if isinstance(links, Mapping) else None
    return nxt if isinstance(nxt, str) and nxt else None


class PracticeHubSource:
    """Reads spec objects from the PracticeHub API (implements ``sources.base.Source``), resumably.

    Args:
        api_base: the account's API root, ``https://{account}.neptune.practicehub.io/api``
            (``account_api_base``); spec endpoints are paths below it (``/patients``; a leading
            ``/api`` is accepted too).
        api_key: ``x-practicehub-key`` (never logged).
        app_details: ``x-app-details``, ``<appname>=<contact email>`` (notes §3).
        page_size: rows per page, 1-100 (notes §3: the maximum).
        requests_per_second: client ceiling per account (default 0.9; the issue's limit is 1/s),
            shared with every other reader of the same host and rate in this process.
        state_dir: where each object's cursor and pages are stored (module docstring).
        timeout: ``(connect, read)`` seconds per HTTP request.
        max_attempts: attempts per request for 408/409/5xx/connection errors; 429s are repeated
            without a count, bounded by ``patience``.
        backoff_initial / backoff_max: exponential back-off (with jitter) of transient failures,
            and of a 429 without ``Retry-After``.
        session: optional ``requests.Session`` (tests); one is created otherwise.
        patience: the wave's rate-limit patience (``http.patience``); default: 30 minutes of its own.
        clock: time source of the limiter and retry waits (tests pass a manual clock).

    ``stats`` counts ``requests`` (GETs sent), ``retries``, ``responses_429``, ``responses_5xx``,
    ``transport_errors``, ``rate_limit_wait_seconds``, ``pages_fetched``, ``pages_replayed`` and
    ``downloads`` (numbers only). ``close()`` releases the session and the account limiter (also a
    context manager; done on garbage collection too).

    Raises:
        ValueError: empty base/key/app details, ``page_size`` outside 1-100, non-positive rate.
    """

    def __init__(self, api_base: str, api_key: str, app_details: str, *, page_size: int = MAX_PAGE_SIZE,
                 requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND, state_dir: str | Path,
                 timeout: tuple[float, float] = (10.0, 120.0), max_attempts: int = 8,
                 backoff_initial: float = 1.0, backoff_max: float = 30.0, session: requests.Session | None = None,
                 patience: Patience | None = None, clock: Clock = SYSTEM_CLOCK):
        if not (api_base and api_key and app_details):
            raise ValueError("api_base, api_key and app_details are required")
        if not 1 <= page_size <= MAX_PAGE_SIZE or requests_per_second <= 0 or max_attempts < 1:
            raise ValueError(f"page_size must be 1-{MAX_PAGE_SIZE}; requests_per_second and max_attempts positive")
        self.api_base = api_base.rstrip("/")
        parts = urlsplit(self.api_base)
        if not (parts.scheme and parts.netloc):
            raise ValueError("api_base must be an absolute URL")
        self._origin = (parts.scheme, parts.netloc)
        self._base_path = parts.path
        self.page_size = int(page_size)
        self.requests_per_second = float(requests_per_second)
        self.state_dir = Path(state_dir)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.stats = ClientStats("pages_fetched", "pages_replayed", "downloads")
        self.patience = patience or Patience(setting=f"source.{PATIENCE_SETTING}", who="the PracticeHub API")
        self._policy = RetryPolicy(max_retries=max_attempts - 1, backoff_initial=backoff_initial,
                                   backoff_max=backoff_max, jitter=backoff_initial)
        self._headers = {"x-practicehub-key": api_key, "x-app-details": app_details, "Accept": "application/json"}
        self._session = session or requests.Session()
        self._limiter = _LIMITERS.acquire((parts.netloc, self.requests_per_second), lambda: json_api.per_second_limiter(
            self.requests_per_second, clock=clock, patience=self.patience, stats=self.stats,
            backoff_initial=backoff_initial, backoff_max=backoff_max, name="practicehub"))
        self._finalizer = weakref.finalize(self, _release, parts.netloc, self.requests_per_second,
                                           self._session if session is None else None)

    # ------------------------------------------------------------------ Source protocol
    def header(self, obj: SourceObject) -> HeaderReport:
        """Fetch one row (``page_size=1``) and compare its fields with the spec's column paths.

        A path is present when every key on it exists (a null on the way counts as present); an
        empty collection or empty nested list cannot be checked, so its paths count as present.
        ``extra`` lists top-level fields no column reads.

        Raises:
            MissingFileError: the endpoint answers 404 and the object is not optional.
            MissingColumnError: a required column's path is absent (names endpoint and path).
            PracticeHubApiError / PracticeHubAuthError: other failures (endpoint and status only).
            ValueError: no endpoint, or inconsistent ``[]`` paths.
        """
        path, params = self._endpoint(obj)
        plan = ColumnPlan(obj, path)
        try:
            body = self._get_json(self._first_url(path, params, None, page_size=1), path)
        except PracticeHubApiError as error:
            if error.status == 404:
                return absent_endpoint(obj, path)
            raise
        return header_report(obj, plan, path, _records(body, path))

    def read(self, obj: SourceObject, since: datetime | None = None) -> Iterator[pa.RecordBatch]:
        """Yield one all-text record batch per page, resuming a stopped extraction (module docstring).

        ``since`` (naive = UTC) adds ``updated=<since>`` when the object declares ``modified_at``
        (else the whole collection is read). Columns in spec order, canonical names, ``pa.string()``.

        Raises:
            MissingFileError: 404 on the first page of a non-optional object (optional: no batches).
            PracticeHubApiError / PracticeHubAuthError: failures after retries, or a ``links.next``
                that repeats a page already read (endpoint and status only).
            ValueError: no endpoint, or inconsistent ``[]`` paths.
        """
        path, params = self._endpoint(obj)
        plan = ColumnPlan(obj, path)
        if since is not None and not obj.modified_at:
            log.info("%s: object has no modified_at; reading the whole collection", path)
            since = None
        cursor = self._cursor(obj, path, params, plan, since)
        seen: set[str] = set()
        requested: set[str] = set()
        stored = cursor.open()
        if stored:
            log.info("%s: resuming a stopped extraction after %d stored pages", path, len(stored))
        next_url: str | None = self._first_url(path, params, since, page_size=self.page_size)
        number = 0
        for page in stored:
            self.stats.add("pages_replayed")
            requested.add(page.url)
            number, next_url = page.number, page.next_url
            batch = drop_seen_keys(page.batch, obj.primary_key, seen)
            if batch is not None:
                yield batch
        while next_url is not None:
            if next_url in requested:
                raise PracticeHubApiError(path, None, "GET (links.next repeats a page already read)")
            try:
                body = self._get_json(next_url, path)
            except PracticeHubApiError as error:
                if error.status == 404 and number == 0:
                    cursor.clear()
                    absent_endpoint(obj, path)  # MissingFileError unless optional
                    return
                raise
            records = _records(body, path)
            if not records:  # an empty page ends the collection whatever its links say
                break
            requested.add(next_url)
            link = _next_link(body)
            following = self._rebase(link, next_url) if link else None
            number += 1
            self.stats.add("pages_fetched")
            batch = cursor.append(number, plan.rows(records), next_url, following, _total(body))
            next_url = following
            unique = drop_seen_keys(batch, obj.primary_key, seen)
            if unique is not None:
                yield unique
        cursor.clear()

    # ------------------------------------------------------------------ attachments
    def download(self, url: str) -> bytes:
        """Bytes of an attachment (``download_url``: absolute, or a path below ``api_base``), with
        the limiter and retries; the PracticeHub headers only go to the API's own host.

        Raises:
            PracticeHubApiError / PracticeHubAuthError: failure after retries (path and status).
        """
        full = url if urlsplit(url).scheme else self.api_base + "/" + url.lstrip("/")
        parts = urlsplit(full)
        same_origin = (parts.scheme, parts.netloc) == self._origin
        response = self._call(full, parts.path, with_key=same_origin)
        self.stats.add("downloads")
        return response.content

    # ------------------------------------------------------------------ inventory
    def inventory(self, objects: Mapping[str, SourceObject], since: datetime | None = None, *,
                  rate: float | None = None) -> list[dict[str, Any]]:
        """Record counts and the estimated extraction time per object, before extracting.

        One ``page_size=1`` request per distinct endpoint (+ the ``updated`` filter when ``since``
        is given and the object has ``modified_at``) reads ``total_entries``. ``rate`` (requests/s)
        prices the estimate; default: the configured ``requests_per_second`` (pass 1.0 for the
        account limit itself).

        Returns:
            One dict per object, in order: ``object``, ``endpoint``, ``present`` (False on 404),
            ``total_entries`` (API entries; an exploded object yields more rows), ``pages`` (at
            ``page_size``, at least 1), ``downloads`` (``total_entries`` when the object has
            ``download``, else 0), ``requests`` (pages + downloads), ``requests_per_second`` (the
            rate priced) and ``estimated_seconds`` (requests / rate, 1 decimal: a lower bound).

        Raises:
            PracticeHubApiError / PracticeHubAuthError: failures other than 404.
            ValueError: ``rate <= 0``.
        """
        rate = self.requests_per_second if rate is None else float(rate)
        if rate <= 0:
            raise ValueError("rate must be positive")
        totals: dict[str, tuple[bool, int]] = {}
        rows = []
        for name, obj in objects.items():
            path, params = self._endpoint(obj)
            window = since if obj.modified_at else None
            url = self._first_url(path, params, window, page_size=1)
            if url not in totals:
                try:
                    body = self._get_json(url, path)
                    stated = _total(body)
                    totals[url] = (True, stated if stated is not None else len(_records(body, path)))
                except PracticeHubApiError as error:
                    if error.status != 404:
                        raise
                    totals[url] = (False, 0)
            present, total = totals[url]
            pages = max(1, math.ceil(total / self.page_size))
            downloads = total if obj.download is not None else 0
            rows.append({"object": name, "endpoint": path, "present": present, "total_entries": total,
                         "pages": pages, "downloads": downloads, "requests": pages + downloads,
                         "requests_per_second": rate, "estimated_seconds": round((pages + downloads) / rate, 1)})
        return rows

    # ------------------------------------------------------------------ state
    def clear_state(self, obj: SourceObject | None = None) -> None:
        """Forget the stored cursor of ``obj`` (None: of every object): the next read starts fresh."""
        if obj is None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            return
        path, params = self._endpoint(obj)
        shutil.rmtree(self.state_dir / self.object_key(obj, path, params), ignore_errors=True)

    @staticmethod
    def object_key(obj: SourceObject, path: str, params: Mapping[str, str]) -> str:
        """``<endpoint slug>-<12 hex>``: the hash covers endpoint, fixed query and column paths."""
        material = json.dumps({"endpoint": path, "params": sorted(params.items()),
                               "columns": [[n, c.source or n] for n, c in obj.columns.items()]}, sort_keys=True)
        slug = re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")[:40] or "root"
        return f"{slug}-{hashlib.sha256(material.encode()).hexdigest()[:12]}"

    def _cursor(self, obj: SourceObject, path: str, params: dict[str, str], plan: ColumnPlan,
                since: datetime | None) -> PageCursor:
        fingerprint = {"endpoint": path, "params": sorted(params.items()), "api_base": self.api_base,
                       "page_size": self.page_size, "since": self.format_since(since) if since else None}
        return PageCursor(self.state_dir / self.object_key(obj, path, params), fingerprint, plan.names)

    # ------------------------------------------------------------------ helpers
    format_since = staticmethod(format_since)  # ``updated=`` value: ``YYYY-MM-DDTHH:MM:SSZ`` (json_api)

    def _endpoint(self, obj: SourceObject) -> tuple[str, dict[str, str]]:
        if not obj.endpoint:
            raise ValueError("a PracticeHub object needs an endpoint ('/patients')")
        path, params = split_endpoint(obj.endpoint)
        if self._base_path.endswith("/api") and (path == "/api" or path.startswith("/api/")):
            path = path[4:] or "/"  # "/api/patients" below ".../api" means "/patients"
        return path, params

    def _first_url(self, path: str, params: Mapping[str, str], since: datetime | None, *, page_size: int) -> str:
        query = {**params, "page_size": str(page_size)}
        if since is not None:
            query["updated"] = self.format_since(since)
        return f"{self.api_base}{path}?{urlencode(query)}"

    def _rebase(self, link: str, current: str) -> str:
        """``links.next`` on the API's own scheme and host (the key never goes elsewhere)."""
        parts = urlsplit(urljoin(current, link))
        return urlunsplit((*self._origin, parts.path, parts.query, ""))

    def _get_json(self, url: str, label: str) -> Any:
        response = self._call(url, label)
        try:
            return response.json()
        except ValueError:
            raise PracticeHubApiError(label, response.status_code, "GET (body is not JSON)") from None

    def _call(self, url: str, label: str, *, with_key: bool = True) -> requests.Response:
        """GET with the account limiter and retries (``json_api.call``).

        Raises:
            PracticeHubAuthError: 401/403.
            PracticeHubApiError: another error status, or retries exhausted.
            PatienceExhausted: 429s held the wave longer than its patience.
        """
        return json_api.call(lambda: self._get_once(url, label, with_key), label, PracticeHubApiError,
                             policy=self._policy, limiter=self._limiter, stats=self.stats, logger=log)

    def _get_once(self, url: str, label: str, with_key: bool) -> requests.Response:
        self._limiter.acquire()
        headers = self._headers if with_key else {}
        response = json_api.get(self._session, url, label, stats=self.stats, headers=headers, timeout=self.timeout)
        json_api.check_status(response, label, limiter=self._limiter, stats=self.stats, patience=self.patience)
        status = response.status_code
        if status in (401, 403):
            response.close()
            raise PracticeHubAuthError(label, status)
        if status >= 400:
            response.close()
            raise PracticeHubApiError(label, status)
        return response

    def close(self) -> None:
        """Release the account limiter and the HTTP session (if this source created it); idempotent."""
        self._finalizer()

    def __enter__(self) -> PracticeHubSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never the key or the app details
        return f"PracticeHubSource(api_base={self.api_base!r}, page_size={self.page_size})"
