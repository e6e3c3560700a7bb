"""Exceptions of the Salesforce destination, and the scrubbing that keeps values out of them.

Salesforce error shapes (notes/salesforce.md §2.6, §1.1, §7):

* top-level REST errors: a JSON **array** ``[{"message", "errorCode", "fields"}]`` (400/401/403/404/...);
* per-record results (sObject Collections): ``{"statusCode", "message", "fields"}``;
* Bulk API 2.0 ``failedResults``: the ``sf__Error`` column, ``STATUS_CODE:message:<fields> --``;
* a whole Bulk job in state ``Failed`` carries ``errorMessage`` (e.g. ``InvalidBatch : Field name
  not found : X``).

Several messages quote the record's values (``Foreign key external ID: 1580 not found ...``,
``Duplicate external id specified: P-1``, ``invalid email address: ...``, ``bad value for restricted
picklist field: ...``). Everything that leaves this package as text (``str(exc)``, ``SendResult.error``,
logs, the schema document) goes through :func:`scrub`: known value-bearing messages are rewritten
to their value-free template (the Salesforce-specific part), then the shared redaction
(``flit_pipelines.http.redaction``) masks any value of the record that was sent, credentials and
patient-shaped values wherever they still appear. Tokens, request bodies and URLs with record values
never appear in ``str(exc)``: a request is named by its method and *path template*
(``/sobjects/{object}/{id}``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flit_pipelines.destinations.base import DailyLimitError
from flit_pipelines.http.errors import MAX_ERROR_CHARS, ApiError, TransientError, where
from flit_pipelines.http.redaction import Echo
from flit_pipelines.http.redaction import scrub as redact

__all__ = [
    "SalesforceApiError", "SalesforceTransportError", "SchemaError", "LimitExceeded", "BulkJobFailed",
    "scrub", "parse_bulk_error", "error_text", "path_template",
]

_MAX_MESSAGE = MAX_ERROR_CHARS

# (pattern, replacement) for vendor messages that embed a record value; applied in order.
_TEMPLATES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Foreign key external ID:\s*.*?\s+not found for field\s+(\S+)\s+in entity\s+(\S+)", re.S),
     r"Foreign key external ID not found for field \1 in entity \2"),
    (re.compile(r"Duplicate external id specified:.*", re.S), "Duplicate external id specified"),
    (re.compile(r"duplicate value found:\s*(\S+)\s+duplicates value on record with id:\s*(\w+)", re.S),
     r"duplicate value found: \1 duplicates value on record with id: \2"),
    (re.compile(r"invalid email address:.*", re.S | re.I), "invalid email address"),
    (re.compile(r"bad value for restricted picklist field:.*", re.S | re.I),
     "bad value for restricted picklist field"),
    (re.compile(r"data value too large:.*?(\(max length=\d+\))", re.S | re.I), r"data value too large \1"),
    (re.compile(r"(unable to obtain exclusive access to this record or \d+ records?).*", re.S | re.I), r"\1"),
    (re.compile(r"(invalid (?:date|datetime|number|boolean|double|integer|currency))\s*:.*", re.S | re.I), r"\1"),
    (re.compile(r"(value not of required type)\s*:.*", re.S | re.I), r"\1"),
    (re.compile(r"(Cannot deserialize instance of \w+) from .*", re.S), r"\1"),
]
_SF_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


def scrub(message: Any, values: Iterable[Any] = (), *, max_chars: int = _MAX_MESSAGE) -> str:
    """A vendor message without record values, at most 300 characters.

    Known value-bearing templates are rewritten (see module docstring); then the shared redaction
    masks every text of ``values`` (the record's own values, and each word of them) that still
    occurs as ``<value>``, credentials and patient-shaped values. Newlines become spaces.
    """
    text = str(message or "").strip()
    for pattern, repl in _TEMPLATES:
        text = pattern.sub(repl, text)
    return redact(text, Echo.of(list(values)), max_chars=max_chars)


_BULK_ERROR = re.compile(r"^\s*([A-Z][A-Z0-9_]+)\s*:(.*)$", re.S)
_FIELDS_TAIL = re.compile(r":([A-Za-z0-9_.,\s]*?)\s*--\s*$", re.S)


def parse_bulk_error(raw: str, values: Iterable[Any] = ()) -> tuple[str, str]:
    """``(errorCode, scrubbed message)`` of an ``sf__Error`` cell (notes §1.1:
    ``STATUS_CODE:message:<fields> --``; the tail format is UNCONFIRMED, so a tail of field names
    after the last ``:`` before ``--`` is appended as ``[fields: A, B]`` when present)."""
    m = _BULK_ERROR.match(raw or "")
    if not m:
        return "UNKNOWN_ERROR", scrub(raw, values)
    code, rest = m.group(1), m.group(2)
    fields = ""
    tail = _FIELDS_TAIL.search(rest)
    if tail:
        fields = " ".join(tail.group(1).split())
        rest = rest[:tail.start()]
    elif rest.rstrip().endswith("--"):
        rest = rest.rstrip()[:-2]
    message = scrub(rest, values)
    if fields and fields not in message:
        message = f"{message} [fields: {fields}]" if message else f"[fields: {fields}]"
    return code, message


def error_text(code: str, message: str) -> str:
    """The ledger/``SendResult`` form of a record error: ``"<errorCode>: <message without values>"``."""
    return f"{code}: {message}" if message else code


_ID_SEGMENT = re.compile(r"/(?=[A-Za-z]*\d)(?:[a-zA-Z0-9]{15}|[a-zA-Z0-9]{18})(?=/|$)")  # ids contain digits
_VERSION = re.compile(r"/v\d+\.\d+/")


def path_template(path: str) -> str:
    """A request path without record values: ids (15/18 characters) -> ``{id}``, the path part after
    ``/sobjects/<Object>/<ExtField>/`` -> ``{value}``, query strings dropped, API version kept."""
    path = path.split("?", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].split("/", 1)[-1]
    m = re.search(r"/sobjects/(\w+)/(\w+__c)/[^/]+$", path)
    if m:
        path = path[:m.start()] + f"/sobjects/{m.group(1)}/{m.group(2)}/{{value}}"
    return _ID_SEGMENT.sub("/{id}", path)


class SalesforceApiError(ApiError):
    """A Salesforce request was refused (HTTP status ≥ 300).

    Attributes:
        status: HTTP status, or 0 when no response was received.
        error_code: Salesforce ``errorCode`` of the first error (``INVALID_FIELD``,
            ``REQUEST_LIMIT_EXCEEDED``, ``NOT_FOUND``, ...), or ``HTTP_<status>``.
        message: the scrubbed vendor message.
        method / path: the HTTP method and path template.
    """

    def __init__(self, status: int, error_code: str, message: str, *, method: str = "", path: str = "",
                 max_chars: int = _MAX_MESSAGE):
        self.status = status
        self.error_code = error_code
        self.message = scrub(message, max_chars=max_chars)  # vendor text: capped; our own texts pass a larger cap
        self.method = method
        self.path = path
        super().__init__(self._text())

    def _text(self) -> str:
        if not self.status:
            return f"Salesforce {self.error_code.lower().replace('_', ' ')}: {self.message}"
        return f"Salesforce {self.status} {self.error_code} on {where(self.method, self.path)}: {self.message}"

    @property
    def is_limit(self) -> bool:
        """True for ``REQUEST_LIMIT_EXCEEDED`` (the org's API allowance is spent, notes §7)."""
        return self.error_code == "REQUEST_LIMIT_EXCEEDED"


class SalesforceTransportError(SalesforceApiError, TransientError):
    """No usable answer: connection error, timeout, 5xx, 408, 409 or 429 (after the client's retries
    when idempotent). For a non-idempotent request (a ContentVersion insert) the outcome is unknown
    unless ``sent`` is False (the connection was never established)."""

    def __init__(self, status: int, error_code: str, message: str, *, sent: bool = True, **kw: Any):
        self.sent = sent
        super().__init__(status, error_code, message, **kw)


class SchemaError(SalesforceApiError):
    """The spec cannot be deployed or loaded as written (unknown field, type clash, missing
    required field mapping, bad ``custom_objects`` entry); the message says what to change."""

    def __init__(self, message: str, path: str = ""):
        super().__init__(0, "SCHEMA", message, path=path, max_chars=2000)


class LimitExceeded(SalesforceApiError, DailyLimitError):
    """Sending would take the org's daily API or Bulk allowance below the configured floor (or the
    org answered ``REQUEST_LIMIT_EXCEEDED``). It *is* a ``DailyLimitError`` (fatal to a load) wherever
    it surfaces (``send_batch``, ``find_existing``, schema deployment)."""

    def __init__(self, message: str):
        super().__init__(0, "LIMIT", message, max_chars=2000)


class BulkJobFailed(SalesforceApiError):
    """A Bulk API 2.0 job ended ``Failed``/``Aborted`` for a reason that applies to every row
    (``InvalidBatch``: unknown or not-visible column, bad external ID field): nothing was written,
    and the next chunk would fail the same way."""

    def __init__(self, job_id: str, message: str):
        self.job_id = job_id
        super().__init__(0, "BULK_JOB_FAILED", message, path="/jobs/ingest/{id}", max_chars=1000)
