"""Salesforce error shapes (notes §2.6) and the exceptions the handlers raise.

- Top-level REST errors: a JSON **array** ``[{"message", "errorCode", "fields"}]`` with the HTTP status
  (400 bad body/field/query, 401 ``INVALID_SESSION_ID``, 403 ``REQUEST_LIMIT_EXCEEDED``, 404 ``NOT_FOUND``,
  300 several external-ID matches, 410 retired version, 500/503). Bulk 2.0 errors use the same array
  (``fields`` left out, UNCONFIRMED).
- Per-record results (Collections SaveResult/UpsertResult): ``{"statusCode", "message", "fields"}``.
- Bulk ``sf__Error`` cells: ``STATUS_CODE:message:<fields>--`` (notes §1.1 item 5, tail format
  UNCONFIRMED): e.g. ``REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from flit_sandboxes.kernel.responses import json_response

INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
NOT_FOUND_MESSAGE = "The requested resource does not exist"


@dataclass
class RowError:
    """One per-record error (``statusCode`` in SaveResults, the ``sf__Error`` cell in Bulk results)."""

    code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def as_save_error(self) -> dict[str, Any]:
        """``{"statusCode", "message", "fields"}`` (Collections, composite results)."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}

    def as_rest_error(self) -> dict[str, Any]:
        """``{"message", "errorCode", "fields"}`` (single-record REST calls)."""
        return {"message": self.message, "errorCode": self.code, "fields": list(self.fields)}

    def as_bulk_cell(self) -> str:
        """``CODE:message:field1,field2 --`` (empty field list: ``CODE:message:--``)."""
        return f"{self.code}:{self.message}:{','.join(self.fields)}{' ' if self.fields else ''}--"


class SfError(Exception):
    """A whole request refused with a top-level Salesforce error body.

    Args:
        status: HTTP status.
        code: ``errorCode``.
        message: ``message``.
        fields: ``fields`` (None: the key is left out, as Bulk 2.0 and 401/404 bodies do).
        body: a complete replacement body (e.g. the 300 list of matches).
    """

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None,
                 body: Any = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.body = body

    @classmethod
    def from_row(cls, error: RowError, status: int = 400) -> SfError:
        """A per-record error raised as the whole request's error (single-record REST calls)."""
        return cls(status, error.code, error.message, list(error.fields))

    def payload(self) -> Any:
        """The JSON body."""
        if self.body is not None:
            return self.body
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]

    def response(self) -> Response:
        """The Starlette response."""
        return json_response(self.payload(), status=self.status)


def not_found(message: str = NOT_FOUND_MESSAGE) -> SfError:
    """404 ``NOT_FOUND``."""
    return SfError(404, "NOT_FOUND", message)


def json_parser_error(message: str) -> SfError:
    """400 ``JSON_PARSER_ERROR`` (the whole request fails)."""
    return SfError(400, "JSON_PARSER_ERROR", message)


def unsupported_object_message(name: str) -> str:
    """Salesforce's text for an unknown sObject type in SOQL / describe (INVALID_TYPE)."""
    return (f"sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure "
            "to append the '__c' after the entity name. Please reference your WSDL or the describe call for "
            "the appropriate names.")


def no_such_column(field_name: str, object_name: str) -> SfError:
    """400 ``INVALID_FIELD`` for a JSON body naming an unknown or invisible field."""
    return SfError(400, "INVALID_FIELD", f"No such column '{field_name}' on sobject of type {object_name}", [])


def error_response(status: int, code: str, message: str, fields: list[str] | None = None) -> Response:
    """A top-level error response."""
    return SfError(status, code, message, fields).response()


class RowFailure(Exception):
    """One record's failure (``error``), with the record Id when known."""

    def __init__(self, error: RowError, record_id: str | None = None):
        super().__init__(error.message)
        self.error = error
        self.record_id = record_id


def fail(code: str, message: str, fields: list[str] | None = None) -> RowFailure:
    """A ``RowFailure`` for ``code``/``message``/``fields``."""
    return RowFailure(RowError(code, message, fields or []))
