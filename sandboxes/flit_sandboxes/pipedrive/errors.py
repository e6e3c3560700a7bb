"""Pipedrive response envelopes and error bodies (notes/pipedrive.md §3, §8).

Shapes:
- v2 validation error (dev-community thread in §3):
  ``{"success": false, "error": "<message>", "code": "ERR_BAD_REQUEST"}``
- v2 404 (the only error the v2 spec documents):
  ``{"success": false, "error": "Entity was not found", "error_info": "Object was not found.",
  "data": null, "additional_data": null}``
- v1 errors (spec error schemas):
  ``{"success": false, "error": "<text>", "error_info": "Please check developers...",
  "data": null, "additional_data": null}``
- 401 and 429 as integrators report them (``errorCode`` field).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from flit_sandboxes.kernel.responses import dumps, json_response

__all__ = ["ERROR_INFO", "OVER_LIMIT_BODY", "UNAUTHORIZED_BODY", "V2_NOT_FOUND_BODY", "ApiError", "bad_request",
           "dumps", "error_body", "error_response", "json_response", "not_found"]

ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."
V2_NOT_FOUND_BODY = {
    "success": False,
    "error": "Entity was not found",
    "error_info": "Object was not found.",
    "data": None,
    "additional_data": None,
}
UNAUTHORIZED_BODY = {
    "success": False,
    "error": "unauthorized access",
    "errorCode": 401,
    "error_info": ERROR_INFO,
}
# The exact 429 body is UNCONFIRMED (notes §8): integrators report "Request over limit".
OVER_LIMIT_BODY = {
    "success": False,
    "error": "Request over limit",
    "errorCode": 429,
    "error_info": ERROR_INFO,
}


class ApiError(Exception):
    """A request the sandbox refuses; rendered in the v1 or v2 error shape of the route.

    Args:
        status: HTTP status (400, 404, 413, ...).
        message: text for the ``error`` field. Must not contain submitted field values.
        not_found_v2: render the documented v2 404 body instead of a message body.
    """

    def __init__(self, status: int, message: str, *, not_found_v2: bool = False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.not_found_v2 = not_found_v2


def bad_request(message: str) -> ApiError:
    """400 with the given message (``ERR_BAD_REQUEST`` in v2)."""
    return ApiError(400, message)


def not_found(message: str = "Entity was not found") -> ApiError:
    """404: the documented v2 body on v2 routes, a v1 error body with ``message`` on v1 routes."""
    return ApiError(404, message, not_found_v2=True)


def error_body(api: str, error: ApiError) -> dict[str, Any]:
    """The body for ``error`` on an ``api`` ("v1"/"v2") route."""
    if api == "v2":
        if error.status == 404 and error.not_found_v2:
            return dict(V2_NOT_FOUND_BODY)
        code = "ERR_BAD_REQUEST" if error.status == 400 else f"ERR_{error.status}"
        return {"success": False, "error": error.message, "code": code}
    return {
        "success": False,
        "error": error.message,
        "error_info": ERROR_INFO,
        "data": None,
        "additional_data": None,
    }


def error_response(api: str, error: ApiError) -> Response:
    """Render ``error`` as a response in the route's API shape."""
    return json_response(error_body(api, error), status=error.status)
