"""Apigee and the Ascend edge: the kernel ``Gateway`` pipeline with Ascend's hooks.

Paths (notes/sources.md §2 "Hosts", "Auth"): the sandbox's base URL stands for
``https://{prod|test}.hs1api.com``; the API lives under ``/ascend-gateway/api`` and the token
endpoint is ``/oauth/client_credential/accesstoken``.

Per request, in order:

1. Token endpoint: counted and faultable (fault ``path_prefix`` ``/oauth/``), never rate limited;
   the route checks the client credentials. Other paths outside the API are counted only.
2. ``/__sandbox/...`` admin requests need a valid bearer token from the token endpoint; no limits,
   faults or stats.
3. API requests (``/ascend-gateway/api/...``):

   a. ``Authorization: Bearer <token>``: unknown/missing -> 401 Apigee ``oauth.v2.InvalidAccessToken``
      (notes §2); expired -> 401 ``keymanagement.service.access_token_expired`` (UNCONFIRMED which
      one Ascend sends for expiry; clients should refresh once on any 401). The 401 status is
      counted, the request is not;
   b. fault injection (rules match the path below ``/ascend-gateway``, so ``path_prefix`` may be
      written ``/v1/patients`` or ``/api/v1/patients``): delay, injected status (429 with
      ``Retry-After: 1``; 401 Apigee body; 502/503/504 Apigee fault; others the envelope), or a
      dropped connection. Faulted requests are not charged;
   c. rate limit per client: ``rate_per_second`` per rolling second and ``daily_limit`` per UTC
      day; 429 with ``Retry-After`` (seconds) and Apigee's SpikeArrest / Quota body (architecture
      doc claim, UNCONFIRMED);
   d. ``Organization-ID`` header (notes §2: required on every operation): missing -> 400
      ``MISSING_ORGANIZATION_ID``; another organisation -> 403 ``FORBIDDEN`` (vendor not enabled
      for it). Status choices UNCONFIRMED.
4. One log line per request (``flit_sandboxes.ascend``): method, route template, status,
   duration. Never the query string (filters carry patient data), the body, the token or the
   client secret.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.types import Scope

from flit_sandboxes.ascend.errors import (
    EXPIRED_TOKEN_BODY,
    INVALID_TOKEN_BODY,
    quota_body,
    spike_arrest_body,
)
from flit_sandboxes.kernel.auth import bearer, header
from flit_sandboxes.kernel.gateway import Gateway
from flit_sandboxes.kernel.ratelimit import RateDecision
from flit_sandboxes.kernel.responses import Reply, phrase

API_PREFIX = "/ascend-gateway/api"
TOKEN_PATH = "/oauth/client_credential/accesstoken"
GATEWAY_PREFIX = "/ascend-gateway"
APIGEE_FAULT_STATUSES = (502, 503, 504)


def _in_api(path: str) -> bool:
    return path.startswith(API_PREFIX + "/")


def _envelope(status: int, code: str, message: str) -> Reply:
    return Reply.json(status, {"data": None, "warnings": [], "errors": [{"code": code, "message": message}],
                               "meta": {}})


class AscendGateway(Gateway):
    """The kernel pipeline with Apigee's token check and bodies and Ascend's ``Organization-ID`` check.

    Args: as ``kernel.gateway.Gateway``; ``ctx`` is the app's ``AscendContext``.
    """

    name = "ascend"

    def authenticate(self, scope: Scope, *, admin: bool) -> Scope | Reply:
        if not admin and not _in_api(scope["path"]):
            return scope  # token endpoint and non-API paths: no bearer token
        state = self.ctx.tokens.check(bearer(scope))
        if state == "valid":
            return scope
        if admin:
            return Reply.json(401, INVALID_TOKEN_BODY)
        self.ctx.stats.status(401)
        return Reply.json(401, EXPIRED_TOKEN_BODY if state == "expired" else INVALID_TOKEN_BODY)

    def fault_path(self, path: str) -> str | None:
        if path == TOKEN_PATH:
            return path
        # Rules match below /ascend-gateway (the context maps a /v1/... prefix to /api/v1/...).
        return path[len(GATEWAY_PREFIX):] if _in_api(path) else None

    def fault_reply(self, status: int) -> Reply:
        if status == 429:
            return Reply.json(429, spike_arrest_body(self.ctx.settings.rate_per_second), [(b"retry-after", b"1")])
        if status == 401:
            return Reply.json(401, INVALID_TOKEN_BODY)
        if status in APIGEE_FAULT_STATUSES:
            return Reply.json(status, {"fault": {"faultstring": phrase(status),
                                                 "detail": {"errorcode": f"messaging.runtime.{status}"}}})
        return _envelope(status, f"HTTP_{status}", phrase(status))

    def admit(self, op: Any, path: str) -> RateDecision | None:
        return self.ctx.limiter.acquire(self.ctx.settings.client_id, 1) if _in_api(path) else None

    def over_limit(self, decision: RateDecision) -> Reply:
        settings = self.ctx.settings
        body = quota_body(settings.daily_limit) if decision.daily_remaining <= 0 else \
            spike_arrest_body(settings.rate_per_second)
        return Reply.json(429, body, [(b"retry-after", str(decision.reset_seconds).encode())])

    def check(self, scope: Scope, path: str) -> Reply | None:
        if not _in_api(path):
            return None
        org = header(scope, b"organization-id")
        if org is None or not org.strip():
            return _envelope(400, "MISSING_ORGANIZATION_ID", "The Organization-ID header is required")
        if not hmac.compare_digest(org.strip().encode(), self.ctx.settings.organization_id.encode()):
            return _envelope(403, "FORBIDDEN", "This application is not enabled for the organization")
        return None
