"""HighLevel (LeadConnector v2) error bodies (notes/highlevel.md §3).

Shapes (``common/common-schemas.json`` and observed live bodies):

- 400 ``BadRequestDTO``: ``{"statusCode": 400, "message": "<text>"}`` (+ ``"error": "Bad Request"``
  in the observed slot-conflict body; + ``meta`` on the duplicate-contact body)
- 401 ``UnauthorizedDTO``: ``{"statusCode": 401, "message": "Invalid token: access token is invalid",
  "error": "Unauthorized"}``
- 403: ``"The token does not have access to this location."`` (n8n#11353)
- 422 ``UnprocessableDTO``: ``{"statusCode": 422, "message": ["..."], "error": "Unprocessable Entity"}``
  (``message`` is an array)
- 404 for unknown routes and 429: UNCONFIRMED shapes; the NestJS-style envelope above is used.

Messages never contain submitted values (they can be patient data); ids are fine.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from flit_sandboxes.kernel.responses import dumps, json_response, phrase

__all__ = ["ApiError", "UNAUTHORIZED_BODY", "TOO_MANY_REQUESTS_BODY", "bad_request", "dumps",
           "error_body", "error_response", "forbidden_location", "json_response", "phrase", "unprocessable"]

UNAUTHORIZED_BODY = {
    "statusCode": 401,
    "message": "Invalid token: access token is invalid",
    "error": "Unauthorized",
}
# A valid token of the wrong kind for the operation (sub-account token on an Agency-Access
# operation or vice versa): status and wording UNCONFIRMED.
WRONG_TOKEN_KIND_MESSAGE = "The token is not authorized for this scope."
# UNCONFIRMED (notes §2: the 429 body is not documented).
TOO_MANY_REQUESTS_BODY = {"statusCode": 429, "message": "Too Many Requests", "error": "Too Many Requests"}
LOCATION_FORBIDDEN = "The token does not have access to this location."


class ApiError(Exception):
    """A refused request, rendered as ``{"statusCode", "message", "error"[, "code"][, "meta"]}``.

    Args:
        status: HTTP status.
        message: text, or a list of texts (422 bodies carry an array).
        meta: extra ``meta`` object (duplicate contact: ``contactId``, ``contactName``, ``matchingField``;
            duplicate opportunity: ``existingId``).
        with_error: include the ``error`` reason phrase (BadRequestDTO omits it).
        code: machine-readable ``code`` (observed: ``"OPPORTUNITY_NO_DUPLICATE"``).
    """

    def __init__(self, status: int, message: str | list[str], *, meta: dict[str, Any] | None = None,
                 with_error: bool = True, code: str | None = None):
        super().__init__(message if isinstance(message, str) else "; ".join(message))
        self.status = status
        self.message = message
        self.meta = meta
        self.with_error = with_error
        self.code = code


def bad_request(message: str, **kwargs: Any) -> ApiError:
    """400 ``BadRequestDTO``-style error."""
    return ApiError(400, message, **kwargs)


def unprocessable(messages: list[str]) -> ApiError:
    """422 ``UnprocessableDTO`` (``message`` is an array)."""
    return ApiError(422, list(messages))


def forbidden_location() -> ApiError:
    """403 for a ``locationId`` other than the token's location (notes §3, n8n#11353)."""
    return ApiError(403, LOCATION_FORBIDDEN)


def error_body(error: ApiError) -> dict[str, Any]:
    """JSON body for ``error``."""
    body: dict[str, Any] = {"statusCode": error.status, "message": error.message}
    if error.with_error:
        body["error"] = phrase(error.status)
    if error.code is not None:
        body["code"] = error.code
    if error.meta is not None:
        body["meta"] = error.meta
    return body


def error_response(error: ApiError) -> Response:
    """Render ``error`` as a JSON response."""
    return json_response(error_body(error), status=error.status)
