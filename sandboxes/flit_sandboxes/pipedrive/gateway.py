"""Pipedrive's edge: the kernel ``Gateway`` pipeline with Pipedrive's hooks.

Per request, in order (steps as in ``kernel.gateway``):

1. ``/v1/...`` is served as ``/api/v1/...`` (legacy alias, notes §1).
2. Authentication: ``x-api-token`` header, ``?api_token=`` or ``Authorization: Bearer`` must carry
   the sandbox token, else 401 with the integrators' body (notes §3). Admin paths need it too.
3. ``/__sandbox/...`` admin requests go straight to their routes.
4. Fault injection: delay, injected status (403/502/503/504 as Cloudflare HTML pages, others the
   JSON error body, 429 with the rate-limit headers; a rule's ``retry_after`` sets
   ``x-ratelimit-reset``), a dropped connection, or a lost answer after executing.
5. Rate limiting: burst windows and the daily token budget, charged with the operation's
   ``x-token-cost``; 429 when over. Every response then carries the five headers (``ratelimit``).
6. One log line per request (``flit_sandboxes.pipedrive``): method, route template,
   status, duration.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qs

from starlette.types import Scope

from flit_sandboxes.kernel.gateway import Gateway
from flit_sandboxes.kernel.ratelimit import RateDecision
from flit_sandboxes.kernel.responses import Headers, Reply, phrase
from flit_sandboxes.pipedrive.context import canonical_path
from flit_sandboxes.pipedrive.errors import ERROR_INFO, OVER_LIMIT_BODY, UNAUTHORIZED_BODY
from flit_sandboxes.pipedrive.ratelimit import DEFAULT_TOKEN_COST, rate_headers

HTML_FAULT_STATUSES = (403, 502, 503, 504)  # served by Cloudflare in front of the API: HTML, not JSON
_CLOUDFLARE_PAGE = (
    "<!DOCTYPE html><html><head><title>{status} | api.pipedrive.com | Cloudflare</title></head>"
    "<body><h1>Error {status}</h1><p>{phrase}</p><p>Cloudflare Ray ID: sandbox</p></body></html>"
)


class PipedriveGateway(Gateway):
    """The kernel pipeline with Pipedrive's auth, costs, headers and fault bodies.

    Args: as ``kernel.gateway.Gateway``; ``ctx`` is the app's ``SandboxContext``.
    """

    name = "pipedrive"

    def rewrite(self, scope: Scope) -> Scope:
        path: str = scope["path"]
        canonical = canonical_path(path)
        if canonical == path:
            return scope
        return dict(scope, path=canonical, raw_path=b"/api" + scope.get("raw_path", path.encode()))

    def authenticate(self, scope: Scope, *, admin: bool) -> Scope | Reply:
        presented: bytes | None = None
        for name, value in scope.get("headers", ()):
            if name == b"x-api-token":
                presented = value
                break
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                presented = value[7:].strip()
        if presented is None and scope.get("query_string"):
            values = parse_qs(scope["query_string"].decode("latin-1")).get("api_token")
            presented = values[0].encode() if values else None
        if presented is not None and hmac.compare_digest(presented, self.ctx.settings.token.encode()):
            return scope
        return Reply.json(401, UNAUTHORIZED_BODY)

    def fault_reply(self, status: int) -> Reply:
        if status == 429:
            return self.over_limit(self.ctx.limiter.snapshot(self.ctx.settings.token).refused())
        if status in HTML_FAULT_STATUSES:
            page = _CLOUDFLARE_PAGE.format(status=status, phrase=phrase(status)).encode()
            return Reply(status, page, content_type=b"text/html; charset=UTF-8")
        return Reply.json(status, {"success": False, "error": phrase(status), "errorCode": status,
                                   "error_info": ERROR_INFO})

    def echo_reply(self, status: int, text: str, headers: Headers) -> Reply:
        """The v2 validation error shape (notes §3: ``error`` text + ``code``)."""
        return Reply.json(status, {"success": False, "error": text, "code": "ERR_BAD_REQUEST", "error_info": ERROR_INFO},
                          headers)

    def wait_headers(self, seconds: int) -> Headers:
        """Pipedrive names the wait in ``x-ratelimit-reset`` (notes §8; ``Retry-After`` is not documented)."""
        return [(b"x-ratelimit-reset", str(seconds).encode())]

    def admit(self, op: Any, path: str) -> RateDecision:
        ctx = self.ctx
        cost = ctx.costs.cost(op.api, op.method, op.spec_path) if op else DEFAULT_TOKEN_COST
        return ctx.limiter.acquire(ctx.settings.token, cost, search=op.search if op else False)

    def rate_headers(self, decision: RateDecision) -> Headers:
        return rate_headers(decision)

    def over_limit(self, decision: RateDecision) -> Reply:
        return Reply.json(429, OVER_LIMIT_BODY, rate_headers(decision))
