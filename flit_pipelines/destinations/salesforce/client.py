"""Session and REST plumbing for the Salesforce destination, on top of simple-salesforce.

* **Auth** (notes/salesforce.md §0): OAuth 2.0 *client credentials* against the My Domain host,
  ``POST <instance_url>/services/oauth2/token`` (form ``grant_type=client_credentials``, HTTP Basic
  ``client_id:client_secret``, exactly as simple-salesforce's ``login.py`` sends it); the answer's
  ``access_token`` and ``instance_url`` build ``simple_salesforce.Salesforce(instance_url=...,
  session_id=token, version=api_version)``. The token's ``id`` URL ends with the integration user's
  Id (``.../id/<org>/<user>``). A 401 ``INVALID_SESSION_ID`` fetches a new token once and repeats
  the request.
* **Version**: always explicit (simple-salesforce defaults to 59.0, notes §0); ``"62.0"`` unless the
  spec's ``settings.api_version`` says otherwise; versions ≤ 30.0 are retired and refused here.
* **Calls**: ``Salesforce.restful`` (REST), ``Salesforce.toolingexecute`` (Tooling),
  ``Salesforce.limits`` and ``simple_salesforce.bulk2._Bulk2Client`` (Bulk API 2.0 job calls).
  simple-salesforce builds ``https://<host>`` URLs; for a plain-``http`` instance URL (the local
  sandbox) the base URLs are rewritten after construction, and only helpers that use those base
  URLs are called (``SFType`` helpers and ``query_more`` hard-code https and are not used).
* **Retries**: the shared policy (``flit_pipelines.http.retry``, tenacity, on the client's clock):
  connection errors, timeouts, 5xx, 408, 409 and 429 are retried with exponential backoff
  (``http_retries`` attempts, ``retry_wait_seconds`` base) for idempotent requests (GET, PUT,
  PATCH, DELETE, and POSTs the caller marks idempotent, e.g. Bulk job creation: a lost answer
  leaves at most an unused ``Open`` job). Other POSTs are sent once; the caller decides (files
  look the record up by external ID first, ``http.retry.send_once``). Salesforce has no burst
  limiter to honour: its limits are daily allowances (``LimitGuard``).
* **Observation**: a ``requests`` response hook counts every HTTP request (``stats``) and feeds
  the ``Sforce-Limit-Info: api-usage=<used>/<max>`` header (notes §0) to the limit guard.

Errors: every refusal becomes :class:`SalesforceApiError` (status, ``errorCode``, the message
scrubbed by the shared redaction of the request's values, the token and patient-shaped values,
method and path template); ``REQUEST_LIMIT_EXCEEDED`` becomes :class:`LimitExceeded`; no response
after the retries becomes :class:`SalesforceTransportError`. Tokens never appear in messages.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import _Bulk2Client
from simple_salesforce.exceptions import SalesforceError

from flit_pipelines.http.clock import SYSTEM_CLOCK, Clock
from flit_pipelines.http.redaction import Echo, Redactor
from flit_pipelines.http.retry import RetryPolicy, call_with_retries, is_transient_status
from flit_pipelines.http.session import describe_transport, never_sent
from flit_pipelines.destinations.salesforce.errors import (
    LimitExceeded,
    SalesforceApiError,
    SalesforceTransportError,
    path_template,
)

log = logging.getLogger(__name__)

DEFAULT_API_VERSION = "62.0"
MIN_API_VERSION = 31.0  # 21.0-30.0 retired Summer '25 (notes §0)
DEFAULT_TIMEOUT = (10.0, 300.0)  # connect, read seconds
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass
class Token:
    """An OAuth access token and what came with it (never logged)."""
    access_token: str
    instance_url: str
    user_id: str | None = None


def fetch_token(instance_url: str, client_id: str, client_secret: str, *,
                session: requests.Session | None = None, timeout: float = 30.0) -> Token:
    """Client-credentials token from ``<instance_url>/services/oauth2/token`` (notes §0).

    Raises:
        SalesforceApiError: the token endpoint refused (status, OAuth ``error``; never the secret).
        SalesforceTransportError: no answer.
    """
    url = instance_url.rstrip("/") + "/services/oauth2/token"
    http = session or requests.Session()
    try:
        resp = http.post(url, data={"grant_type": "client_credentials"}, auth=(client_id, client_secret),
                         headers={"Accept": "application/json"}, timeout=timeout)
    except requests.RequestException as exc:
        raise SalesforceTransportError(0, "TRANSPORT", type(exc).__name__, method="POST",
                                       path="/services/oauth2/token") from None
    if resp.status_code != 200:
        try:
            body = resp.json()
            code = str(body.get("error") or f"HTTP_{resp.status_code}")
            message = str(body.get("error_description") or "")
        except ValueError:
            code, message = f"HTTP_{resp.status_code}", "token endpoint refused"
        raise SalesforceApiError(resp.status_code, code, message, method="POST", path="/services/oauth2/token")
    body = resp.json()
    ident = str(body.get("id") or "")
    user_id = ident.rstrip("/").rsplit("/", 1)[-1] if "/id/" in ident else None
    return Token(str(body["access_token"]), str(body.get("instance_url") or instance_url).rstrip("/"), user_id)


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout (simple-salesforce's bulk2 calls take none)."""

    def __init__(self, timeout: tuple[float, float], **kw: Any):
        self.timeout = timeout
        super().__init__(**kw)

    def send(self, request, **kwargs):  # noqa: D102
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


@dataclass
class RequestStats:
    """HTTP requests seen on the session, by ``"<METHOD> <path template>"``; thread-safe."""
    requests: int = 0
    by_route: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)
    retries: int = 0
    token_refreshes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, method: str, url: str, status: int) -> None:
        route = f"{method} {_route(url)}"
        with self._lock:
            self.requests += 1
            self.by_route[route] += 1
            self.by_status[f"{status // 100}xx"] += 1

    def add(self, name: str, delta: int = 1) -> None:
        """Add ``delta`` to the counter ``name`` (``retries``, ``token_refreshes``); thread-safe."""
        with self._lock:
            setattr(self, name, getattr(self, name) + delta)

    def snapshot(self) -> dict[str, Any]:
        """Plain-dict copy (for reports and benchmarks)."""
        with self._lock:
            return {"requests": self.requests, "retries": self.retries, "token_refreshes": self.token_refreshes,
                    "by_status": dict(self.by_status), "by_route": dict(sorted(self.by_route.items()))}


def _route(url: str) -> str:
    path = urlparse(url).path
    path = re.sub(r"/services/data/v\d+\.\d+", "", path)
    path = re.sub(r"/jobs/(ingest|query)/[A-Za-z0-9]+", r"/jobs/\1/{job}", path)
    return path_template(path)


class LimitGuard:
    """The org's daily allowances (``GET /limits``, notes §0/§1.5) against configured floors.

    ``DailyApiRequests`` is re-read every ``refresh_seconds`` and otherwise tracked from the
    ``Sforce-Limit-Info`` header of every response; ``DailyBulkApiBatches`` (Bulk 2.0 ingest counts
    one batch per started 10,000 records, shared with Bulk 1.0, notes §1.5) is re-read with it
    and decremented locally per job. :meth:`require` raises :class:`LimitExceeded` *before* a call
    that would take a remaining count below its floor.
    """

    API_KEY = "DailyApiRequests"
    BULK_KEYS = ("DailyBulkApiBatches", "DailyBulkApiRequests")  # current name first; older orgs [unconfirmed]

    def __init__(self, read_limits: Callable[[], dict[str, Any]], *, api_floor: int = 1000, bulk_floor: int = 50,
                 refresh_seconds: float = 60.0):
        self._read = read_limits
        self.api_floor = api_floor
        self.bulk_floor = bulk_floor
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self.api_max: int | None = None
        self.api_remaining: int | None = None
        self.bulk_max: int | None = None
        self.bulk_remaining: int | None = None
        self._read_at = -math.inf
        self.reads = 0
        self.unavailable = False

    def observe_header(self, value: str | None) -> None:
        """Adopt ``api-usage=<used>/<max>`` from a response (the freshest figure there is)."""
        m = _LIMIT_INFO.search(value or "")
        if m:
            used, total = int(m.group(1)), int(m.group(2))
            with self._lock:
                self.api_max = total
                self.api_remaining = max(total - used, 0)

    def refresh(self, force: bool = False) -> None:
        """Re-read ``/limits`` when older than ``refresh_seconds`` (or ``force``)."""
        if not force and time.monotonic() - self._read_at < self.refresh_seconds:
            return
        try:
            limits = self._read() or {}
        except LimitExceeded:
            raise
        except SalesforceApiError as exc:
            if exc.status not in (403, 404):
                raise
            # /limits needs "View Setup and Configuration" (notes §0): without it only the
            # Sforce-Limit-Info header guards the API allowance, and Bulk batches are not checked
            if not self.unavailable:
                log.warning("GET /limits refused (%s): the daily API floor is checked from response headers only, "
                            "the Bulk batch floor not at all", exc.error_code)
            self.unavailable = True
            self._read_at = time.monotonic()
            return
        self.reads += 1
        with self._lock:
            self._read_at = time.monotonic()
            api = limits.get(self.API_KEY) or {}
            if "Remaining" in api:
                self.api_max, self.api_remaining = int(api.get("Max", 0)), int(api["Remaining"])
            for key in self.BULK_KEYS:
                bulk = limits.get(key)
                if bulk and "Remaining" in bulk:
                    self.bulk_max, self.bulk_remaining = int(bulk.get("Max", 0)), int(bulk["Remaining"])
                    break

    def require(self, *, api_requests: int, bulk_batches: int = 0, what: str) -> None:
        """Raise :class:`LimitExceeded` if ``what`` (about ``api_requests`` requests and
        ``bulk_batches`` Bulk batches) would take a remaining allowance below its floor. Re-reads
        ``/limits`` first when the figures are stale or close to the floor."""
        close = (self.api_remaining is not None and self.api_remaining - 2 * api_requests - 5 < self.api_floor) or (
            bulk_batches and self.bulk_remaining is not None
            and self.bulk_remaining - 2 * bulk_batches < self.bulk_floor)
        self.refresh(force=bool(close))
        with self._lock:
            if self.api_remaining is not None and self.api_remaining - api_requests < self.api_floor:
                raise LimitExceeded(
                    f"daily API request allowance: {self.api_remaining} of {self.api_max} requests remain in the "
                    f"rolling 24 hours; {what} needs about {api_requests} and the floor (settings daily_api_floor) "
                    f"is {self.api_floor}. Stopped before exceeding it; progress is in the ledger, re-run when the "
                    "allowance has recovered (or lower the floor)")
            if bulk_batches and self.bulk_remaining is not None and self.bulk_remaining - bulk_batches < self.bulk_floor:
                raise LimitExceeded(
                    f"daily Bulk API batch allowance: {self.bulk_remaining} of {self.bulk_max} batches remain in the "
                    f"rolling 24 hours; {what} needs {bulk_batches} and the floor (settings daily_bulk_batches_floor) "
                    f"is {self.bulk_floor}. Stopped before exceeding it; progress is in the ledger, re-run when the "
                    "allowance has recovered (or lower the floor)")
            if bulk_batches and self.bulk_remaining is not None:
                self.bulk_remaining -= bulk_batches

    def snapshot(self) -> dict[str, Any]:
        """The last known figures (for the load report)."""
        with self._lock:
            return {"api_max": self.api_max, "api_remaining": self.api_remaining, "api_floor": self.api_floor,
                    "bulk_batches_max": self.bulk_max, "bulk_batches_remaining": self.bulk_remaining,
                    "bulk_batches_floor": self.bulk_floor, "limits_reads": self.reads,
                    "limits_endpoint_unavailable": self.unavailable}


def _retryable_status(status: int) -> bool:
    """5xx, 408, 409, and 429 (rare on Salesforce: a concurrency limit, not the daily allowance)."""
    return is_transient_status(status) or status == 429


_SOQL_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _error_parts(exc: SalesforceError) -> tuple[str, str]:
    """(errorCode, message) of a simple-salesforce exception's parsed body (notes §2.6)."""
    content: Any = exc.content
    if isinstance(content, (bytes, bytearray)):
        content = content.decode("utf-8", "replace")
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return str(first.get("errorCode") or first.get("statusCode") or f"HTTP_{exc.status}"), str(first.get("message") or "")
    if isinstance(content, dict):
        return (str(content.get("errorCode") or content.get("error") or f"HTTP_{exc.status}"),
                str(content.get("message") or content.get("error_description") or ""))
    return f"HTTP_{exc.status}", "non-JSON error body" if content else ""


class SalesforceClient:
    """One org connection: a ``simple_salesforce.Salesforce`` plus retries, stats and limits.

    Args:
        sf: a connected ``Salesforce`` (``session_id`` + ``instance_url``; tests pass their own).
        instance_url: the instance base URL (``https://x.my.salesforce.com`` or the sandbox's
            ``http://127.0.0.1:port``); default taken from ``sf``.
        token_provider: returns a fresh :class:`Token` (used after a 401); None: no refresh.
        user_id: the integration user's Id (permission set assignment), if known.
        http_retries / retry_wait_seconds: attempts and backoff base of the retry policy
            (``http.retry.RetryPolicy``) for transient failures.
        secrets: credentials to mask in error text besides the access token (the client secret).
        clock: time source of the retry waits (tests pass a manual clock).
    """

    def __init__(self, sf: Salesforce, *, instance_url: str | None = None,
                 token_provider: Callable[[], Token] | None = None, user_id: str | None = None,
                 http_retries: int = 4, retry_wait_seconds: float = 0.5,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, secrets: tuple[str, ...] = (),
                 clock: Clock = SYSTEM_CLOCK):
        self.sf = sf
        self.api_version = str(sf.sf_version)
        if float(self.api_version) < MIN_API_VERSION:
            raise ValueError(f"Salesforce API version {self.api_version} is retired (notes §0); use 60.0 or later")
        self.instance_url = (instance_url or f"https://{sf.sf_instance}").rstrip("/")
        self._token_provider = token_provider
        self.user_id = user_id
        self.http_retries = max(1, int(http_retries))
        self.retry_wait = float(retry_wait_seconds)
        self.clock = clock
        self.retry_policy = RetryPolicy(max_retries=self.http_retries - 1, backoff_initial=self.retry_wait,
                                        backoff_max=30.0, jitter=min(0.5, self.retry_wait))
        self._redactor = Redactor([sf.session_id, *secrets])
        self.stats = RequestStats()
        self.limits = LimitGuard(self.read_limits)
        self._refresh_lock = threading.Lock()
        self._fix_urls()
        adapter = _TimeoutAdapter(timeout, pool_connections=16, pool_maxsize=32)
        sf.session.mount("http://", adapter)
        sf.session.mount("https://", adapter)
        sf.session.hooks.setdefault("response", []).append(self._on_response)

    # ------------------------------------------------------------------ construction
    @classmethod
    def connect(cls, instance_url: str, client_id: str, client_secret: str, *,
                api_version: str = DEFAULT_API_VERSION, **kw: Any) -> SalesforceClient:
        """Client-credentials login and a client for the org (see module docstring)."""
        http = requests.Session()

        def provider() -> Token:
            return fetch_token(instance_url, client_id, client_secret, session=http)

        token = provider()
        sf = Salesforce(instance_url=token.instance_url, session_id=token.access_token, version=str(api_version),
                        session=http)
        return cls(sf, instance_url=token.instance_url, token_provider=provider, user_id=token.user_id,
                   secrets=(client_secret,), **kw)

    def _fix_urls(self) -> None:
        """Point simple-salesforce's base URLs at the real scheme/host (http for the sandbox)."""
        base = self.instance_url
        v = self.api_version
        self.sf.base_url = f"{base}/services/data/v{v}/"
        self.sf.bulk2_url = f"{base}/services/data/v{v}/jobs/"
        self.sf.bulk_url = f"{base}/services/async/{v}/"
        self.sf.tooling_url = f"{self.sf.base_url}tooling/"
        self.sf.apex_url = f"{base}/services/apexrest/"
        self.sf.metadata_url = f"{base}/services/Soap/m/{v}/"
        self.sf.oauth2_url = f"{base}/services/oauth2/"

    def _on_response(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.stats.observe(resp.request.method or "", resp.request.url or "", resp.status_code)
        self.limits.observe_header(resp.headers.get("Sforce-Limit-Info"))

    def _refresh_token(self) -> bool:
        if self._token_provider is None:
            return False
        with self._refresh_lock:
            token = self._token_provider()
            self.sf.session_id = token.access_token
            self._redactor.add_secret(token.access_token)
            self.sf._generate_headers()  # simple-salesforce's own header builder
            self.stats.add("token_refreshes")
            return True

    # ------------------------------------------------------------------ calls
    def call(self, fn: Callable[[], Any], *, method: str, path: str, idempotent: bool | None = None,
             echo: Echo | None = None) -> Any:
        """Run one simple-salesforce call with the retry/refresh/error policy (module docstring).

        ``path`` is used for error messages only (made a template); ``echo``: what the request
        carried, masked in the vendor's error text. Returns ``fn()``'s result.

        Raises:
            LimitExceeded: ``REQUEST_LIMIT_EXCEEDED`` (the org's daily API allowance is spent).
            SalesforceTransportError: no usable answer (after the retries when idempotent).
            SalesforceApiError: any other refusal (401 after one token refresh included).
        """
        idempotent = method.upper() != "POST" if idempotent is None else idempotent
        template = path_template(path)

        def attempt() -> Any:
            try:
                return fn()
            except SalesforceError as exc:
                if not _retryable_status(int(exc.status or 0)):
                    raise
                code, message = _error_parts(exc)
                raise SalesforceTransportError(exc.status, code, self._redactor.scrub(message, echo), method=method,
                                               path=template) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise SalesforceTransportError(0, "TRANSPORT", describe_transport(exc), sent=not never_sent(exc),
                                               method=method, path=template) from None

        refreshed = False
        while True:
            try:
                return call_with_retries(attempt, policy=self.retry_policy, repeatable=idempotent, clock=self.clock,
                                         stats=self.stats, label=f"{method} {template}", logger=log)
            except SalesforceError as exc:
                code, message = _error_parts(exc)
                if exc.status == 401 and not refreshed and self._refresh_token():
                    refreshed = True
                    continue
                if code == "REQUEST_LIMIT_EXCEEDED":
                    raise LimitExceeded(f"the org refused a request with REQUEST_LIMIT_EXCEEDED on {method} "
                                        f"{template} (daily API allowance spent)") from None
                raise SalesforceApiError(exc.status, self._redactor.scrub(code, echo, max_chars=80),
                                         self._redactor.scrub(message, echo), method=method, path=template) from None

    def rest(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
             idempotent: bool | None = None, **kwargs: Any) -> Any:
        """``Salesforce.restful(path, ...)`` (path relative to ``/services/data/vXX.X/``); parsed
        JSON, or None for 204/empty answers."""
        if json is not None:
            kwargs["json"] = json
        return self.call(lambda: self.sf.restful(path, params=params, method=method, **kwargs),
                         method=method, path="/" + path, idempotent=idempotent, echo=Echo.of(json, params))

    def tooling(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                idempotent: bool | None = None) -> Any:
        """``Salesforce.toolingexecute(path, method, data)`` (path relative to ``.../tooling/``)."""
        kwargs: dict[str, Any] = {}
        if params:
            kwargs["params"] = params
        return self.call(lambda: self.sf.toolingexecute(path, method=method, data=json, **kwargs),
                         method=method, path="/tooling/" + path, idempotent=idempotent, echo=Echo.of(json, params))

    def query(self, soql: str, *, tooling: bool = False) -> Iterator[dict[str, Any]]:
        """All records of a SOQL query, following ``nextRecordsUrl`` (notes §2.4). The SOQL is never
        put into error messages (it may hold values)."""
        prefix = f"/services/data/v{self.api_version}/" + ("tooling/" if tooling else "")
        try:
            if tooling:
                page = self.tooling("GET", "query/", params={"q": soql})
            else:
                page = self.call(lambda: self.sf.restful("query/", params={"q": soql},
                                                         headers={"Sforce-Query-Options": "batchSize=2000"}),
                                 method="GET", path="/query", echo=Echo.of(_SOQL_LITERAL.findall(soql)))
            while True:
                yield from (page or {}).get("records") or []
                nxt = (page or {}).get("nextRecordsUrl")
                if (page or {}).get("done", True) or not nxt:
                    return
                rel = nxt.split(prefix, 1)[1] if prefix in nxt else nxt.lstrip("/")
                page = (self.tooling("GET", rel) if tooling else self.rest("GET", rel))
        except LimitExceeded:
            raise
        except SalesforceApiError as exc:
            if exc.error_code == "MALFORMED_QUERY":
                # SOQL syntax errors echo the query (and its literals): keep the last part, literals masked
                text = re.sub(r"'[^']*'", "'<value>'", exc.message.rsplit("ERROR at", 1)[-1])
                raise SalesforceApiError(exc.status, exc.error_code, text, method="GET", path=exc.path) from None
            raise

    def read_limits(self) -> dict[str, Any]:
        """``GET /limits`` (notes §0)."""
        return self.call(self.sf.limits, method="GET", path="/limits") or {}

    def describe(self, sobject: str) -> dict[str, Any]:
        """``GET /sobjects/{object}/describe`` (notes §2.5)."""
        return self.rest("GET", f"sobjects/{sobject}/describe") or {}

    def bulk(self, sobject: str) -> _Bulk2Client:
        """simple-salesforce's Bulk 2.0 job client for ``sobject`` with the current token."""
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + self.sf.session_id,
                   "X-PrettyPrint": "1"}
        return _Bulk2Client(sobject, self.sf.bulk2_url, headers, self.sf.session)

    def bulk_call(self, sobject: str, op: Callable[[_Bulk2Client], Any], *, method: str, path: str,
                  idempotent: bool | None = None) -> Any:
        """One Bulk 2.0 call through :meth:`call` (a fresh job client per attempt, so a refreshed
        token is used)."""
        return self.call(lambda: op(self.bulk(sobject)), method=method, path=path, idempotent=idempotent)
