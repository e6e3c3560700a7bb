"""The HTTP side of the HighLevel (LeadConnector API v2) client: session, auth, Version header,
rate limits, retries and errors (the operations are ``client.HighLevelClient``).

Vendor facts follow ``shared/notes/highlevel.md`` (cited as "notes §N") and the bundled OpenAPI
documents ``sandboxes/flit_sandboxes/vendor_specs/highlevel/apps/*.json`` (cited as spec:<file> and
``operationId``):

* Base URL ``https://services.leadconnectorhq.com`` (no path prefix); auth ``Authorization: Bearer
  <private integration token of the location>`` (notes §1).
* ``Version`` is required on every operation: ``2021-04-15`` for everything under ``/calendars``,
  ``2021-07-28`` for every other family (contacts, locations, users, objects, associations,
  custom-fields, opportunities, forms, medias) (notes §1).
* ``locationId`` travels in create bodies, as a query parameter on lists/searches (``location_id``
  for opportunity search), or in the path (``/locations/{locationId}/...``); update bodies never
  carry it (``UpdateContactDto`` has none; unknown properties are a 422, notes §1).
* Limits (notes §2): 100 requests / 10 s and 200,000 / day per location and app, reported on every
  response as ``X-RateLimit-Max`` (requests per interval), ``X-RateLimit-Interval-Milliseconds``,
  ``X-RateLimit-Remaining``, ``X-RateLimit-Limit-Daily`` and ``X-RateLimit-Daily-Remaining``. No
  reset header and no ``Retry-After`` are documented (UNCONFIRMED whether 429s carry one; honoured
  if present). The burst window is one ``http.RateLimiter`` adopting the two interval headers;
  ``X-RateLimit-Remaining: 0`` that our own traffic does not explain (another client shares the
  location) holds every thread one window; the daily floor is checked before each request.
* Errors (notes §3): ``{"statusCode", "message", "error"}``; 422 ``message`` is an array.

Retry policy (``http.retry``): a 429 is always repeated (the request was not executed), after the
limiter's pause (``Retry-After`` if present, else exponential 0.5 ... 10 s), bounded by the wave's
rate-limit patience, not by a count; 5xx, 408, 409, connection errors and timeouts are repeated only
for idempotent requests (GET, PUT, DELETE and read-only POST searches). A POST that creates
something is never repeated by the client: the destination looks it up by its source key first.

Thread-safe: one client (one session, one limiter) is shared by a pool of workers. Nothing here
logs or embeds the token, request bodies, query values or response bodies; vendor error text is
scrubbed of the request's values (``http.redaction``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Self

import requests

from flit_pipelines.http import session as http
from flit_pipelines.http.clock import SYSTEM_CLOCK, Clock
from flit_pipelines.http.patience import PATIENCE_SETTING, Patience
from flit_pipelines.http.rate_limit import RateLimiter
from flit_pipelines.http.redaction import Echo, Redactor
from flit_pipelines.http.retry import RetryPolicy, call_with_retries, is_transient_status
from flit_pipelines.http.stats import ClientStats as _ClientStats
from .errors import DailyBudgetExhausted, HighLevelError, HighLevelRateLimited, HighLevelTransportError

__all__ = ["CALENDARS_VERSION", "ClientStats", "DEFAULT_BURST_LIMIT", "DEFAULT_VERSION", "DEFAULT_WINDOW_SECONDS",
           "HighLevelTransport", "path_template", "version_for"]

log = logging.getLogger("flit_pipelines.destinations.highlevel.client")

DEFAULT_BURST_LIMIT = 100  # notes §2: 100 requests per 10 s per location
DEFAULT_WINDOW_SECONDS = 10.0
DEFAULT_VERSION = "2021-07-28"
CALENDARS_VERSION = "2021-04-15"

# Path segments that are route words; every other segment is an id/key and is templated.
_LITERALS = frozenset({
    "", "contacts", "search", "duplicate", "tasks", "notes", "tags", "appointments", "upsert", "completed",
    "locations", "customFields", "customValues", "users", "calendars", "events", "blocked-slots",
    "block-slots", "objects", "records", "associations", "relations", "key", "objectKey", "opportunities",
    "pipelines", "status", "forms", "upload-custom-files", "custom-fields", "folder", "object-key", "medias",
    "upload-file", "files", "followers", "free-slots", "groups", "filter-by-email",
})


def path_template(path: str) -> str:
    """``/contacts/abc123/notes/n1`` → ``/contacts/{id}/notes/{id}``: every non-route segment
    (ids, location ids, object keys) becomes ``{id}``, and the query string is dropped. Used in
    errors and logs so concrete ids and values never appear there."""
    parts = path.split("?", 1)[0].split("/")
    return "/".join(p if p in _LITERALS else "{id}" for p in parts)


def version_for(path: str) -> str:
    """The ``Version`` header value of ``path``'s endpoint family (notes §1)."""
    return CALENDARS_VERSION if path.startswith("/calendars") else DEFAULT_VERSION


class ClientStats(_ClientStats):
    """Thread-safe counters of one client, for the benchmark and asset metadata (see ``http.stats``).

    ``requests``: HTTP attempts sent (retries included); ``retries``: attempts repeated;
    ``responses_429`` / ``responses_5xx``: such responses received; ``transport_errors``: attempts
    without a response; ``rate_limit_wait_seconds``: time held by 429 pauses; ``daily_remaining``:
    last ``X-RateLimit-Daily-Remaining`` (None if never seen); ``burst_limit`` / ``window_ms``: last
    ``X-RateLimit-Max`` / ``-Interval-Milliseconds``.
    """

    GAUGES = ("daily_remaining", "burst_limit", "window_ms")


_SAFE_META = ("contactId", "matchingField", "existingId")


def _message(resp: requests.Response, redactor: Redactor, echo: Echo) -> tuple[str, dict[str, Any]]:
    """HighLevel's ``message`` (422 arrays joined), scrubbed of the request's values
    (``http.redaction``), and the safe part of ``meta`` (notes §3).

    ``meta.contactName`` of the duplicate-contact 400 is patient data and is dropped; kept are
    ``contactId``/``matchingField`` (duplicate contact) and ``existingId`` (duplicate opportunity).
    """
    try:
        body = resp.json()
    except ValueError:
        return http.non_json_text(resp), {}
    if not isinstance(body, dict):
        return "unexpected JSON response", {}
    message = body.get("message") or body.get("error") or ""
    if isinstance(message, list):
        message = "; ".join(str(m) for m in message)
    found = body.get("meta")
    meta = found if isinstance(found, dict) else {}
    safe = {k: redactor.scrub(meta[k], max_chars=80) for k in _SAFE_META if isinstance(meta.get(k), str)}
    return redactor.scrub(message, echo), safe


class HighLevelTransport:
    """The HTTP side of the HighLevel client for one location (sub-account): session, auth, the
    ``Version`` header, the limiter, retries, the daily floor and errors (``HighLevelClient`` adds
    the typed operations). Thread-safe.

    Args:
        api_base: ``https://services.leadconnectorhq.com`` or a sandbox URL (trailing ``/`` stripped).
        token: the location's private integration token (notes §1), sent as ``Authorization:
            Bearer``; never logged or put in an error.
        location_id: the location (sub-account) the token belongs to.
        pool_size: HTTP keep-alive connections (size it to the worker count).
        burst_limit / window_seconds: the burst window to start from (100 / 10 s, notes §2);
            replaced by ``X-RateLimit-Max`` / ``X-RateLimit-Interval-Milliseconds`` once seen.
        daily_floor: stop (``DailyBudgetExhausted``) once ``X-RateLimit-Daily-Remaining`` is at or
            below this many requests, e.g. to leave budget for the practice's other integrations.
        max_retries: repeats of a transient failure per request (5xx/408/409/transport errors; only
            when idempotent or never sent). 429s are repeated without a count, bounded by ``patience``.
        timeout: connect and read timeout per attempt, seconds.
        agency_token: optional agency private integration token, used only for the Agency-Access
            operation ``POST /objects/`` (create a custom object schema, notes §4.4).
        patience: the wave's rate-limit patience (``http.patience``); default: 30 minutes of its own.
        clock: time source of the limiter and retry waits (tests pass a manual clock).
    """

    def __init__(self, api_base: str, token: str, *, location_id: str, pool_size: int = 8,
                 burst_limit: int | None = None, window_seconds: float = DEFAULT_WINDOW_SECONDS,
                 daily_floor: int = 0, max_retries: int = 8, timeout: float = 30.0,
                 agency_token: str | None = None, patience: Patience | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        if not token:
            raise ValueError("token is required")
        if not location_id:
            raise ValueError("location_id is required")
        self.api_base = api_base.rstrip("/")
        self.location_id = location_id
        self.daily_floor = daily_floor
        self.timeout = timeout
        self.clock = clock
        self.retry_policy = RetryPolicy(max_retries=max_retries)
        self.patience = patience or Patience(setting=f"destination.settings.{PATIENCE_SETTING}", who="HighLevel")
        self._agency_token = agency_token
        self._redactor = Redactor([token, agency_token])
        self.stats = ClientStats()
        self.limiter = RateLimiter(burst_limit or DEFAULT_BURST_LIMIT, window_seconds, clock=clock,
                                   patience=self.patience, stats=self.stats, name="highlevel")
        self.daily_remaining: int | None = None
        self.daily_limit: int | None = None
        self._session = http.make_session({"Authorization": f"Bearer {token}", "Accept": "application/json",
                                           "User-Agent": "flit-pipelines/highlevel-client"}, max(1, pool_size))

    @property
    def max_retries(self) -> int:
        """Repeats of a transient failure per idempotent request."""
        return self.retry_policy.max_retries

    @property
    def write_limiter(self) -> RateLimiter:
        """The limiter every request shares (its ``limit`` per ``window_seconds``: the progress ETA)."""
        return self.limiter

    def __repr__(self) -> str:  # never show the token
        return f"HighLevelClient({self.api_base!r}, location_id={self.location_id!r})"

    def set_agency_token(self, token: str | None) -> None:
        """Set the agency token used only by ``create_object`` (Agency-Access, notes §4.4)."""
        self._agency_token = token or None
        self._redactor.add_secret(self._agency_token)

    @property
    def has_agency_token(self) -> bool:
        """True if an agency token was given (custom object schemas can be created)."""
        return bool(self._agency_token)

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()
        self.limiter.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ core HTTP

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                files: Any = None, data: Any = None, idempotent: bool | None = None,
                agency: bool = False) -> Any:
        """Send one API call and return the decoded JSON body (``{}`` for an empty body).

        Args:
            method: HTTP method.
            path: path from the base URL, e.g. ``/contacts/`` or ``/calendars/events/appointments``;
                the ``Version`` header follows its family (``version_for``).
            params: query parameters (None dropped, bools lower-cased, sequences comma-joined).
            json / files / data: body, as for ``requests`` (``files`` → multipart).
            idempotent: whether a repeat is harmless. Default: True except for POST. A
                non-idempotent request is retried only after a 429 or when never sent.
            agency: authenticate with the agency token (Agency-Access operations only).

        Raises:
            HighLevelError: a 4xx other than 408/409/429 (the request itself is wrong), a redirect,
                or a non-JSON 2xx body; the vendor's text scrubbed of request values.
            DailyBudgetExhausted: the daily budget is at/below ``daily_floor`` (nothing sent).
            HighLevelTransportError: connection error, timeout, 5xx, 408 or 409, after retries when
                idempotent, at once when not (outcome unknown: look the record up first).
            PatienceExhausted: 429s held the wave longer than its patience (stop the wave).
        """
        method = method.upper()
        template = path_template(path)
        echo = Echo.of(params, json, data, files)
        resp = self._send(method, path, template, echo, params=params, json=json, files=files, data=data,
                          idempotent=idempotent, agency=agency)
        if resp.status_code >= 300:  # redirects are not followed (would forward the token)
            raise HighLevelError(resp.status_code, "unexpected redirect", template, method=method)
        if not resp.content.strip():
            return {}
        try:
            return resp.json()
        except ValueError:
            raise HighLevelError(resp.status_code, http.non_json_text(resp), template, method=method) from None

    def _send(self, method: str, path: str, template: str, echo: Echo, *, idempotent: bool | None, agency: bool,
              **kwargs: Any) -> requests.Response:
        """One logical request with rate limiting and retries; returns a < 400 response."""
        repeatable = method != "POST" if idempotent is None else idempotent
        url = self.api_base + path
        kwargs["params"] = http.clean_params(kwargs.get("params"))
        headers = {"Version": version_for(path)}
        if agency:
            if not self._agency_token:
                raise HighLevelError(0, "this operation needs an agency token (Agency-Access)", template,
                                     method=method)
            headers["Authorization"] = f"Bearer {self._agency_token}"

        def lost(exc: BaseException) -> HighLevelTransportError:
            return HighLevelTransportError(0, http.describe_transport(exc), template, sent=not http.never_sent(exc),
                                           method=method)

        def attempt() -> requests.Response:
            self._check_budget(method, template)
            self.limiter.acquire()
            self._check_budget(method, template)  # another thread may have reached the floor meanwhile
            resp, elapsed = http.timed_request(self._session, method, url, template=template, timeout=self.timeout,
                                               stats=self.stats, transport_error=lost, logger=log, clock=self.clock,
                                               headers=headers, **kwargs)
            self._observe(resp.headers, elapsed, resp.status_code)
            return self._check_status(resp, method, template, echo)

        return call_with_retries(attempt, policy=self.retry_policy, repeatable=repeatable, clock=self.clock,
                                 stats=self.stats, label=f"{method} {template}", logger=log)

    def _observe(self, headers: Mapping[str, str], elapsed: float, status: int) -> None:
        """Adapt to the ``X-RateLimit-*`` headers (notes §2; absent ones are ignored): a different
        interval or max is adopted; ``X-RateLimit-Remaining: 0`` our own traffic does not explain
        holds every thread one window (not on a 429: its pause is ``_check_status``'s); the daily
        figures are recorded for the floor."""
        limiter = self.limiter
        limiter.observe_latency(elapsed)
        limit = http.header_int(headers, "x-ratelimit-max")
        window = http.header_int(headers, "x-ratelimit-interval-milliseconds")
        if window is not None and window > 0:
            limiter.set_window(window / 1000)
        if limit is not None and limit >= 1:
            limiter.set_limit(limit)
        if status != 429:
            limiter.hold_if_exhausted(http.header_int(headers, "x-ratelimit-remaining"), None)
        daily = http.header_int(headers, "x-ratelimit-daily-remaining")
        daily_limit = http.header_int(headers, "x-ratelimit-limit-daily")
        if daily is not None:
            self.daily_remaining = daily
        if daily_limit is not None:
            self.daily_limit = daily_limit
        with self.stats._lock:
            if limit is not None:
                self.stats.burst_limit = limit
            if window is not None:
                self.stats.window_ms = window
            if daily is not None:
                self.stats.daily_remaining = daily

    def _check_status(self, resp: requests.Response, method: str, template: str, echo: Echo) -> requests.Response:
        status = resp.status_code
        if status == 429:
            self.stats.add("responses_429")
            message, _ = _message(resp, self._redactor, echo)
            daily = http.header_int(resp.headers, "x-ratelimit-daily-remaining")
            if daily is not None and daily <= self.daily_floor:
                raise DailyBudgetExhausted(429, message, template, method=method, remaining=daily)
            self.limiter.on_429(http.retry_after_seconds(resp.headers.get("retry-after"), self.clock))
            raise HighLevelRateLimited(429, message, template, method=method)
        self.limiter.on_success()
        if status < 400:
            return resp
        message, meta = _message(resp, self._redactor, echo)
        if is_transient_status(status):
            if status >= 500:
                self.stats.add("responses_5xx")
            raise HighLevelTransportError(status, message, template, method=method)
        raise HighLevelError(status, message, template, method=method, meta=meta)

    def _check_budget(self, method: str, template: str) -> None:
        remaining = self.daily_remaining
        if remaining is not None and remaining <= self.daily_floor:
            raise DailyBudgetExhausted(
                0, f"daily request budget at {remaining} (floor {self.daily_floor}); not sending until the daily reset",
                template, method=method, remaining=remaining)
