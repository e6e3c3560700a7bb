"""Exceptions raised by the Pipedrive API client.

Every exception carries only what is safe to log: the HTTP status, the request method and
*path template* (``/api/v2/persons/{id}``, never the concrete id, query string or body), Pipedrive's
machine ``code`` and its ``error`` text (notes §3) *as scrubbed by the client* (``http.redaction``:
values the request carried, credentials and patient-shaped values masked, 300 characters at most).
Request bodies, field values and the API token never appear in ``str(exc)``: patient data must not
leak into logs or Dagster run output. The retry policy (``http.retry``) reads the markers:
``PipedriveRateLimited`` is a ``RateLimitedError``, ``PipedriveTransportError`` a ``TransientError``.
"""

from __future__ import annotations

from flit_pipelines.http.errors import MAX_ERROR_CHARS, ApiError, RateLimitedError, TransientError, where

__all__ = [
    "DailyBudgetExhausted",
    "FieldTypeConflict",
    "PipedriveError",
    "PipedriveRateLimited",
    "PipedriveTransportError",
    "SchemaError",
]


class PipedriveError(ApiError):
    """A Pipedrive request failed.

    Attributes:
        status: HTTP status code, or 0 when no response was received (connection error, timeout)
            or the request was refused client-side (daily budget floor).
        error: Pipedrive's ``error`` string from the error envelope (notes §3), or a short
            description when the body was not JSON (e.g. a Cloudflare HTML 403).
        code: Pipedrive's machine code when present (``code``, e.g. ``ERR_BAD_REQUEST`` on v2, or
            v1's ``errorCode``), else None.
        path: the path template, e.g. ``/api/v2/persons/{id}``.
        method: the HTTP method (``GET``, ``POST``...), or "" when not request-bound.
    """

    def __init__(self, status: int, error: str, path: str, *, code: str | None = None, method: str = "") -> None:
        self.status = status
        self.error = (error or "")[:MAX_ERROR_CHARS]
        self.code = code
        self.path = path
        self.method = method
        super().__init__(self._text())

    def _text(self) -> str:
        code = f" [{self.code}]" if self.code else ""
        return f"Pipedrive {self.status} on {where(self.method, self.path)}: {self.error}{code}"


class PipedriveRateLimited(PipedriveError, RateLimitedError):
    """HTTP 429 (burst limit, notes §8): not executed; the client repeats it after the limiter's
    pause, for as long as the wave's rate-limit patience lasts (callers never see it)."""


class DailyBudgetExhausted(PipedriveError):
    """The company's daily token budget is at or below the client's ``daily_token_floor``.

    Raised *before* sending further requests once ``x-daily-ratelimit-token-remaining`` (notes §8)
    reaches the floor, or on a 429 whose header says the budget is spent. Retrying before the
    daily reset only burns goodwill (repeated 429s can escalate to a Cloudflare 403), so stop.
    ``remaining`` is the last header value seen.
    """

    def __init__(self, status: int, error: str, path: str, *, remaining: int | None = None, **kw) -> None:
        self.remaining = remaining
        super().__init__(status, error, path, **kw)


class PipedriveTransportError(PipedriveError, TransientError):
    """No usable response: connection error, timeout, a 5xx, 408 or 409.

    For a non-idempotent request (POST) the outcome is **unknown** – Pipedrive may have created
    the record before the connection dropped. The client never repeats such a request itself;
    the caller looks the record up by its source id before sending it again (``http.retry.send_once``).
    ``status`` is 0 for connection errors/timeouts, else the HTTP status. ``sent`` is False only when
    the connection was never established (so the request was certainly not executed).
    """

    def __init__(self, status: int, error: str, path: str, *, sent: bool = True, **kw) -> None:
        self.sent = sent
        super().__init__(status, error, path, **kw)


class FieldTypeConflict(PipedriveError):
    """A custom field with the wanted name exists with a different ``field_type`` (notes §4.9).

    Field types cannot be changed through the API; rename one of the fields or adjust the
    mapping. ``field_name``, ``existing_type`` and ``wanted_type`` name the conflict.
    """

    def __init__(self, entity: str, field_name: str, existing_type: str, wanted_type: str, path: str) -> None:
        self.entity = entity
        self.field_name = field_name
        self.existing_type = existing_type
        self.wanted_type = wanted_type
        super().__init__(
            0,
            f"{entity} custom field {field_name!r} exists with field_type {existing_type!r}, wanted {wanted_type!r}",
            path,
        )


class SchemaError(PipedriveError):
    """The spec's target cannot be loaded as written (e.g. an unknown ``options.match_existing``
    field); the message names the target and what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message, "")

    def _text(self) -> str:
        return self.error
