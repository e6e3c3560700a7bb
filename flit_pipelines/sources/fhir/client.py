"""The FHIR reader's HTTP side, on ``flit_pipelines.http`` (one limiter, one retry policy, patience).

* Every request: ``Accept: application/fhir+json`` (NDJSON downloads: ``application/fhir+ndjson``),
  ``Authorization`` from the ``FhirAuth`` (bearer or SMART Backend Services, ``auth``).
* 401 -> the token is refreshed once (``FhirAuth.refresh``: a new SMART assertion and token) and the
  request sent again; a second 401, or 403, is final (``FhirAuthError``).
* 429 -> every request of the reader waits the server's ``Retry-After`` (seconds or an HTTP date;
  else a backoff), charged to the wave's rate-limit patience, and is repeated without a count.
* 408/409/5xx and lost connections -> repeated up to ``max_attempts`` (the reader only reads, and the
  Bulk kick-off only starts a job; a kick-off repeated after a lost answer starts a second job, which
  the reader deletes when it finds one: ``bulk``).
* Other 4xx -> ``FhirApiError`` naming the path template, the status and the OperationOutcome issue
  codes (FHIR ``IssueType`` codes such as ``not-found``, ``too-costly``: never ``diagnostics`` or
  ``details`` text, which can echo request values).

Path templates, not URLs, label requests in logs and errors (``/Patient``, ``/Group/[id]/$export``,
``bulk status``, ``bulk file``): ids and query strings can name patients.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import requests

from flit_pipelines.http.clock import SYSTEM_CLOCK, Clock
from flit_pipelines.http.errors import StatusError
from flit_pipelines.http.patience import PATIENCE_SETTING, Patience
from flit_pipelines.http.retry import RetryPolicy
from flit_pipelines.http.session import make_session
from flit_pipelines.http.stats import ClientStats
from flit_pipelines.sources import json_api
from flit_pipelines.sources.fhir.auth import FhirAuth

__all__ = ["FHIR_JSON", "FHIR_NDJSON", "FhirApiError", "FhirAuthError", "FhirClient", "FhirFinalError", "FhirStats",
           "issue_codes"]

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
FHIR_NDJSON = "application/fhir+ndjson"
DEFAULT_REQUESTS_PER_SECOND = 10.0


class FhirApiError(StatusError):
    """A FHIR call failed for good: ``endpoint`` (a path template), ``status`` (None: no answer) and
    ``codes``, the OperationOutcome issue codes of the answer (possibly empty)."""

    def __init__(self, endpoint: str, status: int | None, what: str = "GET", codes: Iterable[str] = ()):
        self.codes = tuple(codes)
        super().__init__(endpoint, status, what)

    def _text(self) -> str:
        text = super()._text()
        return text + (f" (OperationOutcome: {', '.join(self.codes)})" if self.codes else "")


class FhirAuthError(FhirApiError):
    """401 after a token refresh, 403, or a token endpoint that refused the client."""


class FhirFinalError(FhirApiError):
    """A 5xx the caller declared final (``request(fatal=...)``), e.g. a Bulk export job that failed."""


class FhirStats(ClientStats):
    """``ClientStats`` plus ``token_requests``, ``token_refreshes_on_401``, ``bulk_kickoffs``,
    ``bulk_polls``, ``bulk_files_downloaded``, ``bulk_files_reused``, ``bulk_bytes``,
    ``bulk_jobs_deleted``, ``search_pages`` and ``include_spool_reads`` (numbers only)."""

    COUNTERS = (*ClientStats.COUNTERS, "token_requests", "token_refreshes_on_401", "bulk_kickoffs", "bulk_polls",
                "bulk_files_downloaded", "bulk_files_reused", "bulk_bytes", "bulk_jobs_deleted", "search_pages",
                "include_spool_reads")


def issue_codes(response: requests.Response) -> list[str]:
    """The ``issue[].code`` values of an OperationOutcome body (empty for anything else)."""
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return []
    return [str(i["code"]) for i in body.get("issue") or [] if isinstance(i, dict) and isinstance(i.get("code"), str)]


def _close(session: requests.Session | None) -> None:
    if session is not None:
        session.close()


class FhirClient:
    """HTTP access to one FHIR server (module docstring).

    Args:
        base_url: the FHIR base, e.g. ``https://ehr.example/fhir`` (``FHIR_BASE_URL``).
        auth: a ``FhirAuth`` (None: no Authorization header).
        requests_per_second: client ceiling (``http.RateLimiter``, rolling second), default 10.
        timeout: ``(connect, read)`` seconds per request.
        max_attempts: attempts per request for 408/409/5xx/lost connections.
        backoff_initial / backoff_max: exponential backoff (seconds) of transient failures and of a
            429 without ``Retry-After``.
        session: optional ``requests.Session`` (tests); one is created otherwise.
        patience: the wave's rate-limit patience (``http.patience``).
        clock: time source of waits (tests pass a manual clock).

    Raises:
        ValueError: empty base URL, non-positive rate or attempts.
    """

    def __init__(self, base_url: str, auth: FhirAuth | None = None, *,
                 requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND, timeout: tuple[float, float] = (10.0, 300.0),
                 max_attempts: int = 8, backoff_initial: float = 0.5, backoff_max: float = 30.0,
                 session: requests.Session | None = None, patience: Patience | None = None,
                 clock: Clock = SYSTEM_CLOCK):
        if not base_url or requests_per_second <= 0 or max_attempts < 1:
            raise ValueError("base_url is required; requests_per_second and max_attempts must be positive")
        self.base_url = base_url.rstrip("/")
        self.auth = auth or FhirAuth()
        self.timeout = timeout
        self.clock = clock
        self.stats = FhirStats()
        self.patience = patience or Patience(setting=f"source.{PATIENCE_SETTING}", who="the FHIR server")
        self.policy = RetryPolicy(max_retries=max_attempts - 1, backoff_initial=backoff_initial,
                                  backoff_max=backoff_max, jitter=backoff_initial)
        self.session = session or make_session(pool_size=2)
        self.limiter = json_api.per_second_limiter(requests_per_second, clock=clock, patience=self.patience,
                                                   stats=self.stats, backoff_initial=backoff_initial,
                                                   backoff_max=backoff_max, name="fhir")
        self._capabilities: dict[str, Any] | None = None
        self._finalizer = weakref.finalize(self, _close, self.session if session is None else None)

    # ------------------------------------------------------------------ requests
    def url(self, path_or_url: str) -> str:
        """An absolute URL: ``path_or_url`` as is when absolute, else below the base."""
        return path_or_url if urlsplit(path_or_url).scheme else f"{self.base_url}/{path_or_url.lstrip('/')}"

    def request(self, method: str, url: str, label: str, *, params: dict[str, Any] | None = None,
                accept: str = FHIR_JSON, headers: dict[str, str] | None = None, ok: tuple[int, ...] = (200,),
                with_auth: bool = True, stream: bool = False,
                fatal: Callable[[requests.Response], bool] | None = None) -> requests.Response:
        """One request with the limiter, the token (refreshed once on 401) and retries.

        ``ok``: the statuses returned to the caller. ``fatal(response)``: a 5xx the caller knows is
        final (a Bulk job that failed) is raised at once instead of retried. ``stream``: the body is
        left unread (a download).

        Raises:
            FhirAuthError: 401 after a refresh, or 403.
            FhirApiError: another status outside ``ok``, or transient failures after the retries.
            PatienceExhausted: 429s held the wave longer than its patience.
        """
        def once() -> requests.Response:
            response = self._send(method, url, label, params, accept, headers, with_auth, stream)
            if response.status_code == 401 and with_auth and self.auth.refresh():
                self.stats.add("token_refreshes_on_401")
                response.close()
                response = self._send(method, url, label, params, accept, headers, with_auth, stream)
            status = response.status_code
            if status in ok:
                self.limiter.on_success()
                return response
            if fatal is not None and status >= 500 and fatal(response):
                codes = issue_codes(response)
                response.close()
                raise FhirFinalError(label, status, method, codes)
            json_api.check_status(response, label, limiter=self.limiter, stats=self.stats, patience=self.patience)
            codes = issue_codes(response)
            response.close()
            raise (FhirAuthError if status in (401, 403) else FhirApiError)(label, status, method, codes)

        return json_api.call(once, label, FhirApiError, policy=self.policy, limiter=self.limiter, stats=self.stats,
                             logger=log, what=method)

    def _send(self, method: str, url: str, label: str, params: dict[str, Any] | None, accept: str,
              headers: dict[str, str] | None, with_auth: bool, stream: bool) -> requests.Response:
        self.limiter.acquire()
        sent = {"Accept": accept, **(headers or {})}
        if with_auth and (value := self.auth.header()):
            sent["Authorization"] = value
        return json_api.get(self.session, url, label, stats=self.stats, method=method, params=params, headers=sent,
                            timeout=self.timeout, stream=stream)

    def get_json(self, path_or_url: str, label: str, *, params: dict[str, Any] | None = None) -> Any:
        """``GET`` -> the JSON body. Raises as ``request``; FhirApiError (200) for a body that is not JSON."""
        response = self.request("GET", self.url(path_or_url), label, params=params)
        try:
            return response.json()
        except ValueError:
            raise FhirApiError(label, response.status_code, "GET (body is not JSON)") from None

    def capabilities(self) -> dict[str, Any]:
        """The server's CapabilityStatement (``GET [base]/metadata``, cached; sent without a token: FHIR
        servers answer it unauthenticated, and discovery must work before a token exists)."""
        if self._capabilities is None:
            response = self.request("GET", self.url("metadata"), "/metadata", with_auth=False)
            try:
                self._capabilities = response.json()
            except ValueError:
                raise FhirApiError("/metadata", response.status_code, "GET (body is not JSON)") from None
        return self._capabilities

    def token_request(self, token_url: str, form: dict[str, str]) -> tuple[str, float]:
        """POST a SMART token request; returns ``(access_token, expires_in seconds)`` (default 300).

        Raises:
            FhirAuthError: 400/401/403 (the assertion or the client was refused), or no token in the answer.
            FhirApiError: retries exhausted.
        """
        label = "token endpoint"
        self.stats.add("token_requests")
        response = self._post_form(token_url, label, form)
        if response.status_code != 200:
            raise FhirAuthError(label, response.status_code, "POST")
        try:
            body = response.json()
            token, lifetime = body["access_token"], float(body.get("expires_in") or 300)
        except (ValueError, KeyError, TypeError):
            raise FhirAuthError(label, 200, "POST (no access_token in the answer)") from None
        if not isinstance(token, str) or not token:
            raise FhirAuthError(label, 200, "POST (no access_token in the answer)")
        return token, lifetime

    def _post_form(self, url: str, label: str, form: dict[str, str]) -> requests.Response:
        def once() -> requests.Response:
            self.limiter.acquire()
            response = json_api.get(self.session, url, label, stats=self.stats, method="POST", data=form,
                                    headers={"Accept": "application/json"}, timeout=self.timeout)
            if response.status_code in (200, 400, 401, 403):
                self.limiter.on_success()
                return response
            json_api.check_status(response, label, limiter=self.limiter, stats=self.stats, patience=self.patience)
            response.close()
            raise FhirApiError(label, response.status_code, "POST", issue_codes(response))

        return json_api.call(once, label, FhirApiError, policy=self.policy, limiter=self.limiter, stats=self.stats,
                             logger=log, what="POST")

    def discover_token_url(self) -> str:
        """``token_endpoint`` of ``[base]/.well-known/smart-configuration`` (SMART App Launch 2.x §2.1).

        Raises:
            FhirAuthError: no discovery document, or it names no token endpoint (set FHIR_TOKEN_URL).
        """
        label = "/.well-known/smart-configuration"
        try:
            response = self.request("GET", self.url(".well-known/smart-configuration"), label,
                                    accept="application/json", with_auth=False)
            body = response.json()
        except (FhirApiError, ValueError):
            raise FhirAuthError(label, None, "GET (SMART discovery unavailable: set FHIR_TOKEN_URL)") from None
        url = body.get("token_endpoint") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url:
            raise FhirAuthError(label, 200, "GET (no token_endpoint: set FHIR_TOKEN_URL)")
        return url

    def close(self) -> None:
        """Close the session (if this client created it); idempotent."""
        self._finalizer()

    def __repr__(self) -> str:  # never a token
        return f"FhirClient(base_url={self.base_url!r}, auth={self.auth!r})"
