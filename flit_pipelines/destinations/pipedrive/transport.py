"""The HTTP side of the Pipedrive client: session, auth, rate limits, retries, errors, paging.

Vendor facts follow ``shared/notes/pipedrive.md`` (cited as "notes §N"):

* Auth (§2): the API token travels in the ``x-api-token`` header, never in the query string.
* Envelopes (§3): ``{"success", "data", "additional_data"}``; v2 lists page by cursor
  (``additional_data.next_cursor``), v1 lists by ``start``/``limit``
  (``additional_data.pagination.more_items_in_collection``/``next_start``). Limits max 500.
  Errors: ``{"success": false, "error", "code"|"errorCode", "error_info"}`` (§3); a Cloudflare
  403/5xx may be HTML.
* Limits (§8): a per-token burst window (``x-ratelimit-limit``/``-remaining``/``-reset``, one
  ``http.RateLimiter``, plus one for the lower search limit) and a company-wide daily token budget
  (``x-daily-ratelimit-token-remaining``, optional header). A 429 pauses every thread for
  ``x-ratelimit-reset`` s (``Retry-After`` is not documented, §8) and is repeated; 429s draw on the
  wave's rate-limit patience (``http.patience``), never on a per-request count.

The mechanics (session, retry policy, limiter, redaction of error text) are ``flit_pipelines.http``;
what is Pipedrive's (headers, which status means what, error body fields) is here. Nothing here
logs or embeds the token, request bodies, query values or response bodies.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Self

import requests

from flit_pipelines.http import session as http
from flit_pipelines.http.clock import SYSTEM_CLOCK, Clock
from flit_pipelines.http.patience import PATIENCE_SETTING, Patience
from flit_pipelines.http.rate_limit import RateLimiter
from flit_pipelines.http.redaction import Echo, Redactor
from flit_pipelines.http.retry import RetryPolicy, call_with_retries, is_transient_status
from flit_pipelines.http.stats import ClientStats as _ClientStats
from .errors import DailyBudgetExhausted, PipedriveError, PipedriveRateLimited, PipedriveTransportError

__all__ = ["ClientStats", "DEFAULT_BURST_LIMIT", "MAX_PAGE_SIZE", "PipedriveTransport", "SEARCH_BURST_LIMIT",
           "path_template"]

log = logging.getLogger("flit_pipelines.destinations.pipedrive.client")

DEFAULT_BURST_LIMIT = 20  # lowest plan's api_token burst per 2 s (notes §8); Airbyte uses the same
SEARCH_BURST_LIMIT = 10  # search endpoints, all plans (notes §8)
MAX_PAGE_SIZE = 500  # v2 `limit` maximum (notes §3)


class ClientStats(_ClientStats):
    """Thread-safe counters for one client (see ``http.stats.ClientStats``).

    ``requests``: HTTP attempts sent (retries included); ``retries``: attempts repeated;
    ``responses_429`` / ``responses_5xx``: such responses received; ``transport_errors``: attempts
    without an answer; ``rate_limit_wait_seconds``: time held by 429 pauses; ``tokens_remaining``:
    last ``x-daily-ratelimit-token-remaining`` seen (None if never); ``burst_limit``: last
    ``x-ratelimit-limit`` seen on a non-search endpoint (None if never).
    """

    GAUGES = ("tokens_remaining", "burst_limit")



_ID_SEGMENT = re.compile(r"^\d+$")
_FIELD_CODE_SEGMENT = re.compile(r"^[0-9a-f]{40}$")


def path_template(path: str) -> str:
    """``/api/v2/persons/17`` → ``/api/v2/persons/{id}``; 40-hex segments → ``{field_code}``.

    Used in errors and logs so concrete ids, keys and query values never appear there.
    """
    parts = path.split("?", 1)[0].split("/")
    return "/".join(
        "{id}" if _ID_SEGMENT.match(p) else "{field_code}" if _FIELD_CODE_SEGMENT.match(p) else p for p in parts
    )


def _is_search(path: str) -> bool:
    """Search endpoints have their own, lower burst limit (notes §8)."""
    return "/itemSearch" in path or path.endswith("/search") or path.endswith("/find")


def _error_info(resp: requests.Response, redactor: Redactor, echo: Echo) -> tuple[str, str | None]:
    """Pipedrive's ``error`` text (scrubbed: ``http.redaction``) and machine code (``code``, v1
    ``errorCode``) from an error body (notes §3), never the body itself.

    Non-JSON bodies (a Cloudflare HTML 403, a proxy's 502 page) yield a generic description.
    """
    try:
        body = resp.json()
    except ValueError:
        return http.non_json_text(resp), None
    if not isinstance(body, dict):
        return "unexpected JSON response", None
    error = body.get("error") or body.get("message") or ""
    code = body.get("code") or body.get("errorCode")
    return redactor.scrub(error, echo), (redactor.scrub(code, echo, max_chars=60) if code is not None else None)


class PipedriveTransport:
    """The HTTP side of the Pipedrive client: one session, the limiters, retries, the daily budget,
    error classification and paging (``PipedriveClient`` adds the typed operations). Thread-safe.

    Args:
        api_base: scheme + host, e.g. ``https://acme.pipedrive.com`` or a sandbox URL. A trailing
            ``/api/v1``, ``/api/v2`` or ``/v1`` is stripped; paths passed in carry the version.
        api_token: the user's API token (notes §2); sent as ``x-api-token``, never logged.
        burst_limit: requests per ``window_seconds`` to start from; default 20 (lowest plan).
            Replaced by the server's ``x-ratelimit-limit`` once seen.
        window_seconds: the server's rolling burst window (2 s for Pipedrive).
        daily_token_floor: stop (``DailyBudgetExhausted``) once the daily token budget reported by
            ``x-daily-ratelimit-token-remaining`` is at or below this many tokens, e.g. to leave
            budget for the clinic's other integrations (notes §11).
        max_retries: repeats of a transient failure per request (5xx/408/409/connection errors/
            timeouts; only for idempotent requests or ones never sent). 429s are repeated without
            a count, bounded by ``patience``.
        timeout: connect and read timeout per attempt, seconds.
        pool_size: HTTP keep-alive connections (size it to the worker count).
        patience: the wave's rate-limit patience (``http.patience``); default: 30 minutes of its own.
        clock: time source of the limiters and retry waits (tests pass a manual clock).
    """

    def __init__(
        self,
        api_base: str,
        api_token: str,
        *,
        burst_limit: int | None = None,
        window_seconds: float = 2.0,
        daily_token_floor: int = 0,
        max_retries: int = 8,
        timeout: float = 30.0,
        pool_size: int = 8,
        patience: Patience | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not api_token:
            raise ValueError("api_token is required")
        self.api_base = re.sub(r"(/api/v[12]|/v1)?/*$", "", api_base)
        self._floor = daily_token_floor
        self._timeout = timeout
        self.clock = clock
        self.retry_policy = RetryPolicy(max_retries=max_retries)
        self.patience = patience or Patience(setting=f"destination.settings.{PATIENCE_SETTING}", who="Pipedrive")
        self.stats = ClientStats()
        self._burst = RateLimiter(burst_limit or DEFAULT_BURST_LIMIT, window_seconds, clock=clock,
                                  patience=self.patience, stats=self.stats, name="burst")
        self._search = RateLimiter(min(SEARCH_BURST_LIMIT, self._burst.limit), window_seconds, clock=clock,
                                   patience=self.patience, stats=self.stats, name="search")
        self._budget_lock = threading.Lock()
        self._budget_spent_at: int | None = None  # sticky once the floor is reached
        self._ensure_lock = threading.RLock()  # serialises find-or-create so threads don't both create
        self._redactor = Redactor([api_token])

        self._session = http.make_session(
            # the process in the User-Agent: an account's request log can tell two writers apart
            {"x-api-token": api_token, "Accept": "application/json",
             "User-Agent": f"flit-pipelines/pipedrive-client (pid {os.getpid()})"},
            pool_size,
        )

    @property
    def write_limiter(self) -> RateLimiter:
        """The burst limiter every write shares (its ``limit`` per ``window_seconds``: the progress ETA)."""
        return self._burst

    def __repr__(self) -> str:  # never show the token
        return f"PipedriveClient({self.api_base!r}, burst_limit={self._burst.limit})"

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()
        self._burst.close()
        self._search.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ core HTTP

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
        data: Any = None,
        idempotent: bool | None = None,
    ) -> dict:
        """Send one API call and return the decoded envelope ``{"success", "data", "additional_data", ...}``.

        Args:
            method: HTTP method.
            path: versioned path, e.g. ``/api/v2/persons`` or ``/api/v1/notes/5``.
            params: query parameters (None dropped, bools lower-cased, sequences comma-joined).
            json / files / data: body, as for ``requests`` (``files`` → multipart).
            idempotent: whether a repeat is harmless. Default: True except for POST. A
                non-idempotent request is repeated only after a 429 (not executed) or when never sent.

        Raises:
            PipedriveError: a 4xx other than 408/409/429 (the request itself is wrong), a non-JSON 2xx
                body, or ``success: false``; the vendor's text scrubbed of request values.
            DailyBudgetExhausted: budget at/below ``daily_token_floor`` (no request sent).
            PipedriveTransportError: connection error, timeout, 5xx, 408 or 409 – after
                ``max_retries`` repeats when idempotent, at once when not (outcome unknown: look
                the record up first, ``http.retry.send_once``).
            PatienceExhausted: 429s held the wave longer than its patience (stop the wave).
        """
        template = path_template(path)
        echo = Echo.of(params, json, data, files)
        resp = self._send(method, path, echo, params=params, json=json, files=files, data=data, idempotent=idempotent)
        if resp.status_code >= 300:  # redirects are not followed (would forward the token header)
            raise PipedriveError(resp.status_code, "unexpected redirect", template, method=method.upper())
        try:
            body = resp.json()
        except ValueError:
            raise PipedriveError(resp.status_code, http.non_json_text(resp), template, method=method.upper()) from None
        if not isinstance(body, dict) or body.get("success") is False:
            error, code = _error_info(resp, self._redactor, echo)
            raise PipedriveError(resp.status_code, error or "success=false", template, code=code, method=method.upper())
        return body

    def _send(self, method: str, path: str, echo: Echo, *, idempotent: bool | None = None,
              **kwargs: Any) -> requests.Response:
        """One logical request with rate limiting and retries; returns a <400 response."""
        method = method.upper()
        repeatable = method != "POST" if idempotent is None else idempotent
        template = path_template(path)
        url = self.api_base + path
        search = _is_search(path)
        limiter = self._search if search else self._burst
        kwargs["params"] = http.clean_params(kwargs.get("params"))

        def lost(exc: BaseException) -> PipedriveTransportError:
            return PipedriveTransportError(0, http.describe_transport(exc), template, sent=not http.never_sent(exc),
                                           method=method)

        def attempt() -> requests.Response:
            self._check_budget(method, template)
            if search:  # the stricter limiter first, so the burst slot is not held while waiting
                self._search.acquire()
            self._burst.acquire()
            self._check_budget(method, template)  # another thread may have hit the floor meanwhile
            resp, elapsed = http.timed_request(self._session, method, url, template=template, timeout=self._timeout,
                                               stats=self.stats, transport_error=lost, logger=log, clock=self.clock,
                                               **kwargs)
            self._burst.observe_latency(elapsed)
            if search:
                self._search.observe_latency(elapsed)
            self._observe(resp.headers, search, resp.status_code)
            return self._check_status(resp, method, template, limiter, echo)

        return call_with_retries(attempt, policy=self.retry_policy, repeatable=repeatable, clock=self.clock,
                                 stats=self.stats, label=f"{method} {template}", logger=log)

    def _check_status(self, resp: requests.Response, method: str, template: str, limiter: RateLimiter,
                      echo: Echo) -> requests.Response:
        status = resp.status_code
        if status == 429:
            self.stats.add("responses_429")
            error, code = _error_info(resp, self._redactor, echo)
            daily = http.header_int(resp.headers, "x-daily-ratelimit-token-remaining")
            if daily is not None and daily <= self._floor:
                raise DailyBudgetExhausted(429, error, template, code=code, method=method, remaining=daily)
            reset = http.header_float(resp.headers, "x-ratelimit-reset")  # notes §8: wait this long
            limiter.on_429(limiter.window_seconds if reset is None else reset)
            raise PipedriveRateLimited(429, error, template, code=code, method=method)
        limiter.on_success()
        if status < 400:
            return resp
        error, code = _error_info(resp, self._redactor, echo)
        if is_transient_status(status):
            if status >= 500:
                self.stats.add("responses_5xx")
            raise PipedriveTransportError(status, error, template, code=code, method=method)
        raise PipedriveError(status, error, template, code=code, method=method)

    def _observe(self, headers: Mapping[str, str], search: bool, status: int) -> None:
        """Feed the ``x-ratelimit-*`` headers to the limiter of the endpoint (notes §8): a different
        ``x-ratelimit-limit`` is adopted; ``x-ratelimit-remaining: 0`` not explained by our own
        traffic holds every thread ``x-ratelimit-reset`` s (a 429's own pause is ``_check_status``'s,
        charged to the patience). The daily budget header is recorded."""
        limiter = self._search if search else self._burst
        limit = http.header_int(headers, "x-ratelimit-limit")
        if limit is not None:
            limiter.set_limit(limit)
            if not search:
                self.stats.burst_limit = limit
        if status != 429:
            limiter.hold_if_exhausted(http.header_int(headers, "x-ratelimit-remaining"),
                                      http.header_float(headers, "x-ratelimit-reset"))
        daily = http.header_int(headers, "x-daily-ratelimit-token-remaining")
        if daily is not None:  # optional header (notes §8): absent → ignore
            self.stats.tokens_remaining = daily
            if daily <= self._floor:
                with self._budget_lock:
                    if self._budget_spent_at is None or daily < self._budget_spent_at:
                        self._budget_spent_at = daily

    def _check_budget(self, method: str, template: str) -> None:
        spent = self._budget_spent_at
        if spent is not None:
            raise DailyBudgetExhausted(
                0,
                f"daily token budget at {spent} (floor {self._floor}); not sending until the daily reset",
                template,
                method=method,
                remaining=spent,
            )

    # ------------------------------------------------------------------ paging

    def iter_v2(self, path: str, params: Mapping[str, Any] | None = None, page_size: int = MAX_PAGE_SIZE) -> Iterator[dict]:
        """Yield every item of a v2 list endpoint, following ``additional_data.next_cursor`` (notes §3).

        ``page_size`` is sent as ``limit`` (capped at 500). Pages are fetched lazily.
        """
        query = {**(params or {}), "limit": min(page_size, MAX_PAGE_SIZE)}
        while True:
            env = self.request("GET", path, params=query)
            yield from env.get("data") or []
            cursor = (env.get("additional_data") or {}).get("next_cursor")
            if not cursor:
                return
            query["cursor"] = cursor

    def iter_v1(self, path: str, params: Mapping[str, Any] | None = None, page_size: int = MAX_PAGE_SIZE) -> Iterator[dict]:
        """Yield every item of a v1 list endpoint using ``start``/``limit`` paging (notes §3).

        Continues while ``additional_data.pagination.more_items_in_collection`` is true, from
        ``next_start`` (or ``start + len(page)`` if absent).
        """
        start, limit = 0, min(page_size, MAX_PAGE_SIZE)
        while True:
            env = self.request("GET", path, params={**(params or {}), "start": start, "limit": limit})
            items = env.get("data") or []
            yield from items
            pagination = (env.get("additional_data") or {}).get("pagination") or {}
            if not pagination.get("more_items_in_collection") or not items:
                return
            next_start = pagination.get("next_start")
            start = next_start if isinstance(next_start, int) and next_start > start else start + len(items)
