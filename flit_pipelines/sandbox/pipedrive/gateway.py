"""The ASGI layer in front of the routes: what Pipedrive's edge does before an API handler runs.

Per request, in order:

1. ``/v1/...`` is served as ``/api/v1/...`` (legacy alias, notes §1).
2. Authentication: ``x-api-token`` header, ``?api_token=`` or ``Authorization: Bearer`` must carry
   the sandbox token, else 401 with the integrators' body (notes §3). Admin paths need it too.
3. ``/__sandbox/...`` admin requests go straight to their routes.
4. Fault injection (``faults``): delay, injected status, or a dropped connection.
5. Rate limiting (``ratelimit``): burst windows and the daily token budget, charged with the
   operation's ``x-token-cost``; 429 when over. Every response then carries the five headers.
6. One log line per request: method, route template, status, duration. Never the query string
   or body: they carry patient data and the token.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Sequence
from http import HTTPStatus
from re import Pattern
from typing import Any
from urllib.parse import parse_qs

from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from flit_pipelines.sandbox.pipedrive.context import SandboxContext
from flit_pipelines.sandbox.pipedrive.errors import ERROR_INFO, OVER_LIMIT_BODY, UNAUTHORIZED_BODY, dumps
from flit_pipelines.sandbox.pipedrive.faults import FaultRule
from flit_pipelines.sandbox.pipedrive.ratelimit import DEFAULT_TOKEN_COST, RateDecision
from flit_pipelines.sandbox.pipedrive.routing import Operation

logger = logging.getLogger("flit_pipelines.sandbox.pipedrive")

ADMIN_PREFIX = "/__sandbox/"
HTML_FAULT_STATUSES = (403, 502, 503, 504)  # served by Cloudflare in front of the API: HTML, not JSON
_CLOUDFLARE_PAGE = (
    "<!DOCTYPE html><html><head><title>{status} | api.pipedrive.com | Cloudflare</title></head>"
    "<body><h1>Error {status}</h1><p>{phrase}</p><p>Cloudflare Ray ID: sandbox</p></body></html>"
)


class OperationMatcher:
    """Find the implemented ``Operation`` for a method + canonical path (for cost and stats)."""

    def __init__(self, operations: Sequence[Operation]):
        self._by_method: dict[str, list[tuple[Pattern[str], Operation]]] = {}
        for op in operations:
            regex, _, _ = compile_path(op.path)
            self._by_method.setdefault(op.method, []).append((regex, op))
            if op.method == "GET":  # Starlette serves HEAD for GET routes
                self._by_method.setdefault("HEAD", []).append((regex, op))

    def match(self, method: str, path: str) -> Operation | None:
        for regex, op in self._by_method.get(method, ()):
            if regex.match(path):
                return op
        return None


class Gateway:
    """ASGI middleware implementing the steps in the module docstring.

    Args:
        app: the Starlette router stack.
        ctx: the app's ``SandboxContext``.
        operations: the implemented operations (to price and name requests).
    """

    def __init__(self, app: ASGIApp, ctx: SandboxContext, operations: Sequence[Operation]):
        self.app = app
        self.ctx = ctx
        self.matcher = OperationMatcher(operations)
        self._token = ctx.settings.token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        if path == "/v1" or path.startswith("/v1/"):
            path = "/api" + path
            scope = dict(scope, path=path, raw_path=b"/api" + scope.get("raw_path", path[4:].encode()))
        method: str = scope["method"]
        if not self._authorised(scope):
            await _send_body(send, 401, dumps(UNAUTHORIZED_BODY))
            self._log(method, "<unauthorised>", 401, started)
            return
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

        cost = ctx.costs.cost(op.api, op.method, op.spec_path) if op else DEFAULT_TOKEN_COST
        decision = ctx.limiter.acquire(ctx.settings.token, cost, search=op.search if op else False)
        if not decision.allowed:
            ctx.stats.limited()
            ctx.stats.status(429)
            await _send_body(send, 429, dumps(OVER_LIMIT_BODY), decision.headers())
            self._log(method, template, 429, started)
            return

        extra_headers = decision.headers()
        status = 500

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = dict(message, headers=list(message.get("headers", [])) + extra_headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)
        ctx.stats.status(status)
        self._log(method, template, status, started)

    # --------------------------------------------------------------------- auth
    def _authorised(self, scope: Scope) -> bool:
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
        return presented is not None and hmac.compare_digest(presented, self._token)

    # ------------------------------------------------------------------- faults
    async def _apply_fault(self, rule: FaultRule, receive: Receive, send: Send) -> bool:
        """Run the fault; True if the request is finished (answered or dropped)."""
        if rule.delay_seconds:
            await asyncio.sleep(rule.delay_seconds)
        if rule.drop_connection:
            await _drop_connection(receive)
            return True
        if rule.status is None:
            return False
        status = rule.status
        if status == 429:
            snapshot = self.ctx.limiter.snapshot(self.ctx.settings.token)
            headers = RateDecision(False, snapshot.limit, 0, snapshot.reset_seconds, snapshot.daily_limit,
                                   snapshot.daily_remaining).headers()
            await _send_body(send, 429, dumps(OVER_LIMIT_BODY), headers)
        elif status in HTML_FAULT_STATUSES:
            phrase = _phrase(status)
            page = _CLOUDFLARE_PAGE.format(status=status, phrase=phrase).encode()
            await _send_body(send, status, page, content_type=b"text/html; charset=UTF-8")
        else:
            body = {"success": False, "error": _phrase(status), "errorCode": status, "error_info": ERROR_INFO}
            await _send_body(send, status, dumps(body))
        self.ctx.stats.status(status)
        return True

    @staticmethod
    def _log(method: str, template: str, status: int | str | None, started: float) -> None:
        logger.info("%s %s %s %.1fms", method, template, status, (time.perf_counter() - started) * 1000)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _send_body(
    send: Send,
    status: int,
    body: bytes,
    headers: Sequence[tuple[bytes, bytes]] = (),
    *,
    content_type: bytes = b"application/json",
) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *headers],
    })
    await send({"type": "http.response.body", "body": body})


async def _drop_connection(receive: Receive) -> None:
    """Close the client's TCP connection without sending a response.

    ASGI has no "abort" message, so this reaches uvicorn's per-request cycle object (the owner
    of the bound ``receive``) for its transport, closes it and marks the cycle disconnected so
    uvicorn does not try to send a 500. Under another server it raises, which still yields no
    valid API response for the client.
    """
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("sandbox fault: drop_connection is only supported under uvicorn")
    transport.close()
    if hasattr(cycle, "disconnected"):
        cycle.disconnected = True
    await asyncio.sleep(0)
