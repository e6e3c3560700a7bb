"""HighLevel's edge: the kernel ``Gateway`` pipeline with HighLevel's hooks.

Per request, in order (steps as in ``kernel.gateway``):

1. Authentication: ``Authorization: Bearer <token>`` must carry the sandbox's sub-account
   private integration token (or the optional agency token), else 401 ``UnauthorizedDTO``
   (notes §1, §3). The token kind is put in ``scope["highlevel.token_kind"]`` (``"location"`` /
   ``"agency"``) for the per-operation check in ``routing``. Admin paths need the sub-account token.
2. ``/__sandbox/...`` admin requests go straight to their routes (no limits, faults or stats).
3. Fault injection: delay, injected status (JSON ``{"statusCode", "message", "error"}``; 429 with
   the rate-limit headers, and ``Retry-After`` when the rule sets ``retry_after``), a dropped
   connection, or a lost answer after executing. Faulted requests are not charged (lost answers are).
4. Rate limiting per location (notes §2): ``burst_limit`` requests per ``window_seconds`` and
   ``daily_limit`` per UTC day; 429 when over. Every response (429s too) carries the five
   ``X-RateLimit-*`` headers. No ``Retry-After`` (none documented; UNCONFIRMED).
5. One log line per request (``flit_sandboxes.highlevel``): method, route template,
   status, duration.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.types import Scope

from flit_sandboxes.highlevel.errors import TOO_MANY_REQUESTS_BODY, UNAUTHORIZED_BODY, phrase
from flit_sandboxes.kernel.gateway import Gateway
from flit_sandboxes.kernel.ratelimit import RateDecision
from flit_sandboxes.kernel.responses import Headers, Reply


class HighLevelGateway(Gateway):
    """The kernel pipeline with HighLevel's auth, per-location limits, headers and bodies.

    Args: as ``kernel.gateway.Gateway``; ``ctx`` is the app's ``HighLevelContext``.
    """

    name = "highlevel"

    def authenticate(self, scope: Scope, *, admin: bool) -> Scope | Reply:
        kind = self._token_kind(scope)
        if kind is None or (kind == "agency" and admin):
            return Reply.json(401, UNAUTHORIZED_BODY)
        return {**scope, "highlevel.token_kind": kind}

    def _token_kind(self, scope: Scope) -> str | None:
        """``"location"``, ``"agency"`` or None (missing/unknown token)."""
        settings = self.ctx.settings
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                presented = value[7:].strip()
                if hmac.compare_digest(presented, settings.token.encode()):
                    return "location"
                if settings.agency_token and hmac.compare_digest(presented, settings.agency_token.encode()):
                    return "agency"
                return None
        return None

    def fault_reply(self, status: int) -> Reply:
        headers = self.rate_headers(self.ctx.limiter.snapshot(self.ctx.settings.location_id).refused()) \
            if status == 429 else ()
        return Reply.json(status, {"statusCode": status, "message": phrase(status), "error": phrase(status)}, headers)

    def echo_reply(self, status: int, text: str, headers: Headers) -> Reply:
        """``UnprocessableDTO``-shaped (notes §3: ``message`` an array)."""
        return Reply.json(status, {"statusCode": status, "message": [text], "error": phrase(status)}, headers)

    def admit(self, op: Any, path: str) -> RateDecision:
        return self.ctx.limiter.acquire(self.ctx.settings.location_id, 1)

    def rate_headers(self, decision: RateDecision) -> Headers:
        """The five documented headers (notes §2; exact names, sent lower-case as HTTP/1.1 allows)."""
        return [
            (b"x-ratelimit-limit-daily", str(decision.daily_limit).encode()),
            (b"x-ratelimit-daily-remaining", str(decision.daily_remaining).encode()),
            (b"x-ratelimit-interval-milliseconds", str(round(self.ctx.settings.window_seconds * 1000)).encode()),
            (b"x-ratelimit-max", str(decision.limit).encode()),
            (b"x-ratelimit-remaining", str(decision.remaining).encode()),
        ]

    def over_limit(self, decision: RateDecision) -> Reply:
        return Reply.json(429, TOO_MANY_REQUESTS_BODY, self.rate_headers(decision))
