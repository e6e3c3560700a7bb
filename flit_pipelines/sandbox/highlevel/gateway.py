"""The ASGI layer in front of the routes: what HighLevel's edge does before a handler runs.

Per request, in order:

1. Authentication: ``Authorization: Bearer <token>`` must carry the sandbox's sub-account
   private integration token (or the optional agency token), else 401 ``UnauthorizedDTO``
   (notes §1, §3). The token kind is put in ``scope["highlevel.token_kind"]`` (``"location"`` /
   ``"agency"``) for the per-operation check in ``routing``. Admin paths need the sub-account token.
2. ``/__sandbox/...`` admin requests go straight to their routes (no limits, faults or stats).
3. Fault injection (rules from ``POST /__sandbox/faults``; the Pipedrive sandbox's
   ``FaultInjector``): delay, injected status (JSON ``{"statusCode", "message", "error"}``), or a
   dropped connection. Faulted requests are not charged.
4. Rate limiting per location (notes §2): ``burst_limit`` requests per ``window_seconds`` and
   ``daily_limit`` per UTC day; 429 when over. Every response (429s too) carries the five
   ``X-RateLimit-*`` headers. No ``Retry-After`` (none documented; UNCONFIRMED).
5. One log line per request: method, route template, status, duration. Never the query string,
   the body or the token.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from flit_pipelines.sandbox.highlevel.context import HighLevelContext
from flit_pipelines.sandbox.highlevel.errors import TOO_MANY_REQUESTS_BODY, UNAUTHORIZED_BODY, dumps, phrase
from flit_pipelines.sandbox.highlevel.routing import Operation
from flit_pipelines.sandbox.pipedrive.faults import FaultRule
from flit_pipelines.sandbox.pipedrive.gateway import OperationMatcher, _drop_connection, _send_body
from flit_pipelines.sandbox.pipedrive.ratelimit import RateDecision

logger = logging.getLogger("flit_pipelines.sandbox.highlevel")

ADMIN_PREFIX = "/__sandbox/"


def rate_headers(decision: RateDecision, window_seconds: float) -> list[tuple[bytes, bytes]]:
    """The five documented headers (notes §2; exact names, sent lower-case as HTTP/1.1 allows)."""
    return [
        (b"x-ratelimit-limit-daily", str(decision.daily_limit).encode()),
        (b"x-ratelimit-daily-remaining", str(decision.daily_remaining).encode()),
        (b"x-ratelimit-interval-milliseconds", str(round(window_seconds * 1000)).encode()),
        (b"x-ratelimit-max", str(decision.limit).encode()),
        (b"x-ratelimit-remaining", str(decision.remaining).encode()),
    ]


class Gateway:
    """ASGI middleware implementing the steps in the module docstring.

    Args:
        app: the Starlette router stack.
        ctx: the app's ``HighLevelContext``.
        operations: the implemented operations (to name requests in stats and logs).
    """

    def __init__(self, app: ASGIApp, ctx: HighLevelContext, operations: Sequence[Operation]):
        self.app = app
        self.ctx = ctx
        self.matcher = OperationMatcher(operations)
        self._token = ctx.settings.token.encode()
        self._agency_token = ctx.settings.agency_token.encode() if ctx.settings.agency_token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        kind = self._token_kind(scope)
        if kind is None or (kind == "agency" and path.startswith(ADMIN_PREFIX)):
            await _send_body(send, 401, dumps(UNAUTHORIZED_BODY))
            self._log(method, "<unauthorised>", 401, started)
            return
        scope = dict(scope)
        scope["highlevel.token_kind"] = kind
        if path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return

        ctx = self.ctx
        op = self.matcher.match(method, path)
        template = op.path if op else "<unmatched>"
        ctx.stats.request(method, template)

        rule = ctx.faults.take(method, path)
        if rule is not None:
            ctx.stats.fault()
            if await self._apply_fault(rule, receive, send):
                self._log(method, template, "dropped" if rule.drop_connection else rule.status, started)
                return

        decision = ctx.limiter.acquire(ctx.settings.location_id, 1)
        headers = rate_headers(decision, ctx.settings.window_seconds)
        if not decision.allowed:
            ctx.stats.limited()
            ctx.stats.status(429)
            await _send_body(send, 429, dumps(TOO_MANY_REQUESTS_BODY), headers)
            self._log(method, template, 429, started)
            return
        status = 500

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = dict(message, headers=list(message.get("headers", [])) + headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)
        ctx.stats.status(status)
        self._log(method, template, status, started)

    def _token_kind(self, scope: Scope) -> str | None:
        """``"location"``, ``"agency"`` or None (missing/unknown token)."""
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                presented = value[7:].strip()
                if hmac.compare_digest(presented, self._token):
                    return "location"
                if self._agency_token is not None and hmac.compare_digest(presented, self._agency_token):
                    return "agency"
                return None
        return None

    async def _apply_fault(self, rule: FaultRule, receive: Receive, send: Send) -> bool:
        """Run the fault; True if the request is finished (answered or dropped)."""
        if rule.delay_seconds:
            await asyncio.sleep(rule.delay_seconds)
        if rule.drop_connection:
            await _drop_connection(receive)
            return True
        if rule.status is None:
            return False
        headers: list[tuple[bytes, bytes]] = []
        if rule.status == 429:
            snapshot = self.ctx.limiter.snapshot(self.ctx.settings.location_id)
            headers = rate_headers(RateDecision(False, snapshot.limit, 0, snapshot.reset_seconds,
                                                snapshot.daily_limit, snapshot.daily_remaining),
                                   self.ctx.settings.window_seconds)
        body = {"statusCode": rule.status, "message": phrase(rule.status), "error": phrase(rule.status)}
        await _send_body(send, rule.status, dumps(body), headers)
        self.ctx.stats.status(rule.status)
        return True

    @staticmethod
    def _log(method: str, template: str, status: int | str | None, started: float) -> None:
        logger.info("%s %s %s %.1fms", method, template, status, (time.perf_counter() - started) * 1000)
