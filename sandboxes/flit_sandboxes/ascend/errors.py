"""Error bodies of the Dentrix Ascend sandbox (notes/sources.md §2 "Errors seen").

Two layers answer, as in front of any Apigee-hosted API:

* **Apigee** (the gateway: token endpoint, token check, spike arrest / quota). Bodies follow
  Apigee's documented shapes: the OAuthV2 token endpoint answers ``{"ErrorCode": ..., "Error": ...}``,
  policies answer ``{"fault": {"faultstring": ..., "detail": {"errorcode": ...}}}``. The notes say a bad
  token gives ``oauth.v2.InvalidAccessToken``; the expired-token body
  (``keymanagement.service.access_token_expired``) and the 429 bodies are Apigee's usual ones,
  UNCONFIRMED for Ascend.
* **The Ascend API** (behind the gateway): the response envelope ``{data, warnings, errors, meta}``
  (notes §2) with ``data: null`` and ``errors: [{"code", "message"}]``. The error item fields and
  codes are UNCONFIRMED (the vendor spec was not readable).

Messages never contain submitted values (filters can carry patient data); field names are fine.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from flit_sandboxes.kernel.responses import dumps, json_response

__all__ = ["ApiError", "INVALID_TOKEN_BODY", "EXPIRED_TOKEN_BODY", "dumps", "envelope_error", "json_response",
           "oauth_error", "quota_body", "spike_arrest_body"]

INVALID_TOKEN_BODY = {"fault": {"faultstring": "Invalid access token",
                                "detail": {"errorcode": "oauth.v2.InvalidAccessToken"}}}
EXPIRED_TOKEN_BODY = {"fault": {"faultstring": "Access Token expired",
                                "detail": {"errorcode": "keymanagement.service.access_token_expired"}}}


def spike_arrest_body(rate_per_second: int) -> dict[str, Any]:
    """Apigee SpikeArrest violation (429; UNCONFIRMED for Ascend)."""
    return {"fault": {"faultstring": f"Spike arrest violation. Allowed rate : {rate_per_second}ps",
                      "detail": {"errorcode": "policies.ratelimit.SpikeArrestViolation"}}}


def quota_body(daily_limit: int) -> dict[str, Any]:
    """Apigee Quota violation (429; UNCONFIRMED for Ascend)."""
    return {"fault": {"faultstring": f"Rate limit quota violation. Quota limit : {daily_limit} exceeded.",
                      "detail": {"errorcode": "policies.ratelimit.QuotaViolation"}}}


def oauth_error(status: int, code: str, message: str) -> Response:
    """Token endpoint error in Apigee's OAuthV2 shape ``{"ErrorCode", "Error"}``."""
    return json_response({"ErrorCode": code, "Error": message}, status=status)


class ApiError(Exception):
    """A refused API request, rendered in the Ascend envelope.

    Args:
        status: HTTP status (400, 403, 404, ...).
        code: machine-readable code (UNCONFIRMED vocabulary: ``BAD_REQUEST``, ``INVALID_FILTER``,
            ``INVALID_PAGING``, ``MISSING_ORGANIZATION_ID``, ``FORBIDDEN``, ``NOT_FOUND``, ``SERVER_ERROR``).
        message: human text; must not contain submitted values.
    """

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def envelope_error(error: ApiError) -> Response:
    """``{"data": null, "warnings": [], "errors": [{"code", "message"}], "meta": {}}`` with the status."""
    body: dict[str, Any] = {"data": None, "warnings": [], "errors": [{"code": error.code, "message": error.message}],
                            "meta": {}}
    return json_response(body, status=error.status)
