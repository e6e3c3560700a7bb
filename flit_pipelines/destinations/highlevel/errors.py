"""Exceptions raised by the HighLevel (LeadConnector API v2) client and destination.

Every exception carries only what is safe to log (notes/highlevel.md §3 lists the vendor's error
bodies): the HTTP status, the request method and *path template* (``/contacts/{id}``, never a
concrete id, query string or body), and HighLevel's own ``message`` (a string, or for 422
``UnprocessableDTO`` an array joined with "; ") *as scrubbed by the client* (``http.redaction``:
the request's values, the token and patient-shaped values masked). The duplicate-contact 400
carries ``meta.contactName``: that is patient data and is dropped; only ``meta.contactId`` and
``meta.matchingField`` are kept (as attributes, not in the message). Tokens, request bodies and
field values never appear in ``str(exc)``. The retry policy (``http.retry``) reads the markers:
``HighLevelRateLimited`` is a ``RateLimitedError``, ``HighLevelTransportError`` a ``TransientError``.
"""

from __future__ import annotations

from typing import Any

from flit_pipelines.http.errors import MAX_ERROR_CHARS, ApiError, RateLimitedError, TransientError, where

__all__ = [
    "DailyBudgetExhausted",
    "HighLevelError",
    "HighLevelRateLimited",
    "HighLevelTransportError",
    "SchemaError",
]


class HighLevelError(ApiError):
    """A HighLevel request failed.

    Attributes:
        status: HTTP status code, or 0 when no response was received (connection error, timeout)
            or the request was refused client-side (daily budget floor).
        message: HighLevel's ``message`` (422 arrays joined with "; "), or a short description when
            the body was not JSON. Truncated to 300 characters.
        path: the path template, e.g. ``/contacts/{id}``.
        method: the HTTP method, or "" when not request-bound.
        meta: safe parts of the body's ``meta`` object: ``contactId`` and ``matchingField`` of the
            duplicate-contact 400 (notes §3), ``existingId`` of the duplicate-opportunity 400, else ``{}``.
    """

    def __init__(self, status: int, message: str, path: str, *, method: str = "",
                 meta: dict[str, Any] | None = None) -> None:
        self.status = status
        self.message = (message or "")[:MAX_ERROR_CHARS]
        self.path = path
        self.method = method
        self.meta = dict(meta or {})
        super().__init__(self._text())

    def _text(self) -> str:
        return f"HighLevel {self.status} on {where(self.method, self.path)}: {self.message}"

    @property
    def is_duplicate_contact(self) -> bool:
        """True for the "This location does not allow duplicated contacts." 400 (notes §3)."""
        return self.status == 400 and bool(self.meta.get("contactId"))

    @property
    def is_not_found(self) -> bool:
        """True for 404, and for HighLevel's 400 "... with id ... not found" (notes §3)."""
        return self.status == 404 or (self.status == 400 and "not found" in self.message.lower())


class HighLevelRateLimited(HighLevelError, RateLimitedError):
    """HTTP 429 (burst limit, notes §2): not executed; the client repeats it after the limiter's
    pause, for as long as the wave's rate-limit patience lasts (callers never see it)."""


class DailyBudgetExhausted(HighLevelError):
    """The location's daily request budget is at or below the client's ``daily_floor``.

    Raised before sending once ``X-RateLimit-Daily-Remaining`` (notes §2) reached the floor, or on a
    429 whose header says the day's 200,000 requests are spent. Retrying before the daily reset
    cannot succeed, so the load stops (``FatalLoadError``); progress is in the ledger.
    ``remaining`` is the last header value seen.
    """

    def __init__(self, status: int, message: str, path: str, *, remaining: int | None = None, **kw: Any) -> None:
        self.remaining = remaining
        super().__init__(status, message, path, **kw)


class HighLevelTransportError(HighLevelError, TransientError):
    """No usable response: connection error, timeout, a 5xx, 408 or 409.

    For a non-idempotent request (a POST create) the outcome is **unknown**: HighLevel may have
    executed it before the connection dropped (and issue#64 reports a create that answered an
    error yet created the contact). The client never repeats such a request itself; the
    destination looks the record up by its source key first. ``status`` is 0 for connection
    errors/timeouts, else the 5xx status; ``sent`` is False only when the connection was never
    established (the request was certainly not executed).
    """

    def __init__(self, status: int, message: str, path: str, *, sent: bool = True, **kw: Any) -> None:
        self.sent = sent
        super().__init__(status, message, path, **kw)


class SchemaError(HighLevelError):
    """The location cannot take the spec's schema as is; the message says what to do.

    Examples: a pipeline (or some of its stages) that does not exist (pipelines cannot be created
    through API v2: spec:opportunities has no create-pipeline operation), a custom field whose
    name exists with another ``dataType``, a custom object that needs an agency token to create.
    """

    def __init__(self, message: str, path: str = "", **kw: Any) -> None:
        super().__init__(0, message, path, **kw)
