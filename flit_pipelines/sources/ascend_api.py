"""Dentrix Ascend "API Exchange" reader (notes/sources.md §2, cited as notes §2).

What the notes establish, and this reader relies on:

* OAuth 2.0 client credentials through Apigee: ``POST <token_url>?grant_type=client_credentials`` with
  form ``client_id``/``client_secret`` -> ``{access_token, token_type: "Bearer", expires_in: "3600"}``
  (``expires_in`` may be text). Every call sends ``Authorization: Bearer <token>`` and
  ``Organization-ID: <organization_id>``.
* Collections under ``<api_base>/v1/...`` answer the envelope ``{data, warnings, errors,
  meta.pagination}`` with a total, paged with ``page``/``pageSize``; the ``filter=`` grammar has
  ``lastModified>=...`` style comparisons joined by commas.
* Errors 400/401/403/404/408/429/500; on 401 (expired token) refresh once.

UNCONFIRMED (vendor spec not readable) and handled tolerantly:

* ``page`` is taken as 1-based; the pagination block's field names: ``totalPages`` is used when
  present, else ``totalCount``/``total``/``totalRecords``/``count`` with ``pageSize``; without any,
  paging stops at the first short or empty page.
* ``data`` is normally the list of rows; when it is an object holding exactly one list (the aging
  report's ``data.patientReports``) that list is the rows.
* The modified-at field name: the delta filter is ``<source path of the object's modified_at
  column>>=<since as YYYY-MM-DDTHH:MM:SSZ>`` (``lastModified`` in the sandbox).
* ``Retry-After`` on 429 (seconds or an HTTP date) is honoured: every request of the reader waits
  it, for as long as the wave's rate-limit patience lasts (``source.rate_limit_patience_seconds``).

Mapping from the spec (``SourceObject``): ``endpoint`` is the collection path below ``api_base``,
optionally with fixed query parameters (``/v1/agingbalances/report?filter=location.id==1``; a fixed
``filter`` is AND-ed with the delta clause). Each column's ``source`` (default: its canonical name)
is a dotted JSON path into a row (``provider.id``, ``address.postalCode``); a numeric segment indexes
a list (``phones.0.number``). **Nested lists**: a path containing ``[]`` (``items[].procedureCode``)
explodes the row over that list: one output row per element, the other columns repeated; every
``[]`` column of an object must name the same list, and a row whose list is null or empty yields no
rows. So treatment-plan items are read from ``/v1/treatmentplans`` without a special endpoint.
(Path plans, text forms, header checks and the shared GET/status/retry steps: ``sources.json_api``;
the policy, limiter and patience themselves: ``flit_pipelines.http``.)

Output: all-text ``pa.RecordBatch`` per page, columns in spec order under canonical names, in the
canonical text forms of ``sources.base`` (numbers in plain decimal notation, booleans
``true``/``false``, ``datetime`` columns with a zone converted to UTC ``YYYY-MM-DD HH:MM:SS``,
nested objects as compact JSON). Rows whose primary key was already yielded in this read are
dropped (a retried page or offset drift during a read can repeat rows). Offset paging can skip a
row if rows are *deleted* during a read; the next run picks it up.

Never logged and never in an error message: the token, the client secret, query values (filters can
carry patient ids) and response bodies. Errors name the endpoint path and the HTTP status only.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import requests

from flit_pipelines.http.clock import SYSTEM_CLOCK, Clock
from flit_pipelines.http.errors import StatusError
from flit_pipelines.http.patience import PATIENCE_SETTING, Patience
from flit_pipelines.http.retry import RetryPolicy
from flit_pipelines.http.stats import ClientStats
from flit_pipelines.sources import json_api
from flit_pipelines.sources.csv_export import HeaderReport
from flit_pipelines.sources.json_api import EXPLODE, ColumnPlan, absent_endpoint
from flit_pipelines.sources.json_api import drop_seen_keys, format_since, header_report, split_endpoint, text_batch
from flit_pipelines.spec.model import SourceObject

__all__ = ["AscendApiError", "AscendApiSource", "AscendAuthError", "DEFAULT_REQUESTS_PER_SECOND"]

log = logging.getLogger(__name__)

DEFAULT_REQUESTS_PER_SECOND = 10.0  # under the 15 req/s sandbox claim (notes §2 "Limits", unverified)
TOKEN_REFRESH_MARGIN_SECONDS = 60.0  # fetch a new token this long (at most 10 % of its life) before it expires
_TOTAL_KEYS = ("totalCount", "total", "totalRecords", "totalItems", "count")


class AscendApiError(StatusError):
    """An API call failed for good (after retries). ``endpoint`` is the path, ``status`` the HTTP
    status (None for transport failures). The message names only these two."""


class AscendAuthError(AscendApiError):
    """The token endpoint refused the client credentials, or a fresh token was refused (401)."""


def _records(body: Any, endpoint: str) -> list[Any]:
    """The rows of one page body (see module docstring).

    Raises:
        AscendApiError: the body is not an envelope with list rows (status 200 named).
    """
    data = body.get("data") if isinstance(body, Mapping) else None
    if isinstance(data, list):
        return data
    if data is None and isinstance(body, Mapping) and "data" in body:
        return []
    if isinstance(data, Mapping):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    raise AscendApiError(endpoint, 200, "GET (unexpected body shape)")


def _total_pages(body: Any, page_size: int) -> int | None:
    meta = body.get("meta") if isinstance(body, Mapping) else None
    pagination = meta.get("pagination") if isinstance(meta, Mapping) else None
    if not isinstance(pagination, Mapping):
        return None
    pages = pagination.get("totalPages")
    if isinstance(pages, int) and not isinstance(pages, bool):
        return pages
    for key in _TOTAL_KEYS:
        total = pagination.get(key)
        if isinstance(total, int) and not isinstance(total, bool):
            return math.ceil(total / page_size)
    return None


# ------------------------------------------------------------------------------ the source


def _release(session: requests.Session | None) -> None:
    if session is not None:
        session.close()


class AscendApiSource:
    """Reads spec objects from the Dentrix Ascend API Exchange (implements ``sources.base.Source``).

    Args:
        api_base: API root, e.g. ``https://prod.hs1api.com/ascend-gateway/api`` (notes §2 "Hosts").
        token_url: token endpoint, e.g. ``https://prod.hs1api.com/oauth/client_credential/accesstoken``;
            ``grant_type=client_credentials`` is added when the URL has no ``grant_type``.
        client_id / client_secret: OAuth client credentials (secret: never logged).
        organization_id: the practice's HS1 Organization ID (``Organization-ID`` header).
        page_size: rows per page (``pageSize``; 1-1000 in the spec model; the sandbox caps at 500).
        requests_per_second: client-side ceiling (``http.RateLimiter``, rolling 1 s window); default 10,
            under the 15 req/s sandbox claim (UNCONFIRMED vendor limits are "per-endpoint and dynamic").
        timeout: ``(connect, read)`` seconds per HTTP request.
        max_attempts: attempts per call for 408/409/5xx/connection errors (GETs are idempotent);
            429s are repeated without a count, bounded by ``patience``.
        backoff_initial / backoff_max: exponential back-off (with jitter) of transient failures,
            and of a 429 without ``Retry-After``.
        session: optional ``requests.Session`` (tests); one is created otherwise.
        patience: the wave's rate-limit patience (``http.patience``); default: 30 minutes of its own.
        clock: time source of the limiter and retry waits (tests pass a manual clock).

    Thread-safe for token handling; one ``read`` iterates sequentially. ``close()`` releases the
    session (also a context manager). ``stats`` counts ``requests`` (API GETs sent), ``retries``,
    ``token_fetches``, ``token_refreshes_on_401``, ``responses_429``, ``responses_5xx``,
    ``transport_errors`` and ``rate_limit_wait_seconds`` (numbers only: safe for logs and metadata).

    Raises:
        ValueError: empty base URL, credentials or organisation, or a non-positive page size or rate.
    """

    def __init__(self, api_base: str, token_url: str, client_id: str, client_secret: str, organization_id: str,
                 page_size: int = 500, *, requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND,
                 timeout: tuple[float, float] = (10.0, 120.0), max_attempts: int = 8,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0, session: requests.Session | None = None,
                 patience: Patience | None = None, clock: Clock = SYSTEM_CLOCK):
        if not (api_base and token_url and client_id and client_secret and organization_id):
            raise ValueError("api_base, token_url, client_id, client_secret and organization_id are required")
        if page_size < 1 or requests_per_second <= 0 or max_attempts < 1:
            raise ValueError("page_size, requests_per_second and max_attempts must be positive")
        self.api_base = api_base.rstrip("/")
        self.token_url = self._with_grant_type(token_url)
        self.page_size = int(page_size)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.stats = ClientStats("token_fetches", "token_refreshes_on_401")
        self.patience = patience or Patience(setting=f"source.{PATIENCE_SETTING}", who="the Dentrix Ascend API")
        self._policy = RetryPolicy(max_retries=max_attempts - 1, backoff_initial=backoff_initial,
                                   backoff_max=backoff_max, jitter=backoff_initial)
        self._client_id = client_id
        self._client_secret = client_secret
        self._organization_id = organization_id
        self._session = session or requests.Session()
        self._limiter = json_api.per_second_limiter(requests_per_second, clock=clock, patience=self.patience,
                                                    stats=self.stats, backoff_initial=backoff_initial,
                                                    backoff_max=backoff_max, name="ascend")
        self._clock = clock
        # A source nobody closes (the registry hands one to each extract) still closes its session
        # when it is garbage-collected.
        self._finalizer = weakref.finalize(self, _release, self._session if session is None else None)
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._token_deadline = 0.0

    # ------------------------------------------------------------------ Source protocol
    def header(self, obj: SourceObject) -> HeaderReport:
        """Fetch one row (``pageSize=1``) and compare its fields with the spec's column paths.

        A path is *present* when every key on it exists (a null on the way counts as present: the
        vendor may send ``null`` for an absent sub-object); an empty collection or an empty nested
        list cannot be checked, so its paths count as present. ``extra`` lists top-level response
        fields no column reads.

        Raises:
            MissingFileError: the endpoint answers 404 and the object is not optional.
            MissingColumnError: a required column's path is absent (names endpoint and path).
            AscendApiError / AscendAuthError: other failures (endpoint and status only).
            ValueError: the object has no endpoint, or its ``[]`` paths are inconsistent.
        """
        path, params = self._endpoint(obj)
        plan = ColumnPlan(obj, path)
        try:
            body = self._get_json(path, {**params, "page": 1, "pageSize": 1})
        except AscendApiError as error:
            if error.status == 404:
                return absent_endpoint(obj, path)
            raise
        return header_report(obj, plan, path, _records(body, path))

    def read(self, obj: SourceObject, since: datetime | None = None) -> Iterator[pa.RecordBatch]:
        """Yield one all-text record batch per page of the object's collection.

        ``since`` (naive = UTC) adds ``filter=<modified_at path>>=<since>``; an object without
        ``modified_at``, or whose ``modified_at`` path is inside a ``[]`` list (the filter works on
        whole rows: point it at the parent's ``lastModified``), is read whole. Columns in spec order,
        canonical names, ``pa.string()``.

        Raises:
            MissingFileError: 404 on a non-optional object (optional: no batches).
            AscendApiError / AscendAuthError: failures after retries (endpoint and status only).
            ValueError: no endpoint, or inconsistent ``[]`` paths.
        """
        path, params = self._endpoint(obj)
        plan = ColumnPlan(obj, path)
        filters = [params.pop("filter")] if params.get("filter") else []
        field = (obj.columns[obj.modified_at].source or obj.modified_at) if obj.modified_at else None
        if since is not None and field is not None and EXPLODE not in field:
            filters.append(f"{field}>={self.format_since(since)}")
        elif since is not None:
            log.info("%s: no row-level modified_at path to filter on; reading the whole collection", path)
        if filters:
            params["filter"] = ",".join(filters)
        seen: set[str] = set()
        page = 1
        while True:
            try:
                body = self._get_json(path, {**params, "page": page, "pageSize": self.page_size})
            except AscendApiError as error:
                if error.status == 404 and page == 1:
                    absent_endpoint(obj, path)  # MissingFileError unless optional
                    return
                raise
            records = _records(body, path)
            batch = drop_seen_keys(text_batch(plan.rows(records), plan.names), obj.primary_key, seen)
            if batch is not None:
                yield batch
            total_pages = _total_pages(body, self.page_size)
            if not records or (total_pages is not None and page >= total_pages) or \
                    (total_pages is None and len(records) < self.page_size):
                return
            page += 1

    # ------------------------------------------------------------------ documents
    def download(self, url: str) -> bytes:
        """Bytes of a document (``downloadUrl``: absolute, or a path below ``api_base``), with the
        same auth, limits and retries as reads.

        Raises:
            AscendApiError / AscendAuthError: failure after retries (names the path and status).
        """
        full = url if urlsplit(url).scheme else self.api_base + "/" + url.lstrip("/")
        label = urlsplit(full).path
        return self._call(full, {}, label).content

    # ------------------------------------------------------------------ helpers
    format_since = staticmethod(format_since)  # the filter value: ``YYYY-MM-DDTHH:MM:SSZ`` (json_api)

    @staticmethod
    def _with_grant_type(token_url: str) -> str:
        parts = urlsplit(token_url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if not any(k == "grant_type" for k, _ in query):
            query.append(("grant_type", "client_credentials"))
        return urlunsplit(parts._replace(query=urlencode(query)))

    @staticmethod
    def _endpoint(obj: SourceObject) -> tuple[str, dict[str, str]]:
        if not obj.endpoint:
            raise ValueError("an Ascend API object needs an endpoint ('/v1/patients')")
        return split_endpoint(obj.endpoint)

    def _get_json(self, path: str, params: dict[str, Any]) -> Any:
        response = self._call(self.api_base + path, params, path)
        try:
            return response.json()
        except ValueError:
            raise AscendApiError(path, response.status_code, "GET (body is not JSON)") from None

    def _call(self, url: str, params: dict[str, Any], label: str) -> requests.Response:
        """GET with the limiter, the token (refreshed once on 401) and retries (``json_api.call``).

        Raises:
            AscendApiError: a non-retryable error status, or retries exhausted.
            AscendAuthError: 401 again right after a token refresh, or the token endpoint refused us.
            PatienceExhausted: 429s held the wave longer than its patience.
        """
        return json_api.call(lambda: self._get_once(url, params, label), label, AscendApiError, policy=self._policy,
                             limiter=self._limiter, stats=self.stats, logger=log)

    def _get_once(self, url: str, params: dict[str, Any], label: str) -> requests.Response:
        response = self._send(url, params, self._access_token(), label)
        if response.status_code == 401:
            # Expired or revoked token: refresh once (notes §2), then a second 401 is final.
            self.stats.add("token_refreshes_on_401")
            response.close()
            response = self._send(url, params, self._access_token(force=True), label)
            if response.status_code == 401:
                response.close()
                raise AscendAuthError(label, 401)
        json_api.check_status(response, label, limiter=self._limiter, stats=self.stats)
        if response.status_code >= 400:
            response.close()
            raise AscendApiError(label, response.status_code)
        return response

    def _send(self, url: str, params: dict[str, Any], token: str, label: str) -> requests.Response:
        self._limiter.acquire()
        headers = {"Authorization": f"Bearer {token}", "Organization-ID": self._organization_id,
                   "Accept": "application/json"}
        return json_api.get(self._session, url, label, stats=self.stats, params=params, headers=headers,
                            timeout=self.timeout)

    def _access_token(self, *, force: bool = False) -> str:
        with self._token_lock:
            if force or self._token is None or self._clock.monotonic() >= self._token_deadline:
                self._token, lifetime = self._fetch_token()
                margin = min(TOKEN_REFRESH_MARGIN_SECONDS, lifetime * 0.1)
                self._token_deadline = self._clock.monotonic() + max(0.0, lifetime - margin)
            return self._token

    def _fetch_token(self) -> tuple[str, float]:
        """POST the client credentials; returns ``(token, lifetime seconds)``, retrying 429/5xx
        (fetching a token twice is harmless).

        Raises:
            AscendAuthError: 400/401/403 from the token endpoint, or no usable token in the answer.
            AscendApiError: retries exhausted.
        """
        label = "token endpoint"

        def once() -> requests.Response:
            response = json_api.get(self._session, self.token_url, label, stats=self.stats, method="POST",
                                    counter="token_fetches",
                                    data={"client_id": self._client_id, "client_secret": self._client_secret},
                                    headers={"Accept": "application/json"}, timeout=self.timeout)
            json_api.check_status(response, label, limiter=self._limiter, stats=self.stats)
            return response

        response = json_api.call(once, label, AscendApiError, policy=self._policy, limiter=self._limiter,
                                 stats=self.stats, logger=log, what="POST")
        if response.status_code != 200:
            raise AscendAuthError(label, response.status_code, "POST")
        try:
            body = response.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            raise AscendAuthError(label, 200, "POST (no access_token in the answer)") from None
        if not isinstance(token, str) or not token:
            raise AscendAuthError(label, 200, "POST (no access_token in the answer)")
        return token, lifetime

    def close(self) -> None:
        """Close the HTTP session (if this source created it); idempotent."""
        self._finalizer()

    def __enter__(self) -> AscendApiSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never the secret or the token
        return f"AscendApiSource(api_base={self.api_base!r}, page_size={self.page_size})"

