"""The ASGI layer in front of a sandbox's routes: the vendor edge as one pipeline with hooks.

Per HTTP request, in order (a vendor subclass overrides the hooks named here):

1. ``rewrite`` may change the scope (Pipedrive serves ``/v1/...`` as ``/api/v1/...``).
2. ``/__sandbox/...`` admin requests: ``authenticate(scope, admin=True)``, then straight to the
   routes: no stats, faults, limits or log line.
3. ``authenticate(scope, admin=False)``: a ``Reply`` (401) is sent and logged as
   ``<unauthorised>``, not counted; a scope goes on (it may carry what the routes need).
4. The request is counted under its route template (``<unmatched>`` when no operation matches).
5. Faults: the rule for ``fault_path(path)`` (None: never faulted) fires: a delay, then a dropped
   connection or ``fault_reply(status)`` (its wait headers from ``wait_headers`` when the rule sets
   ``retry_after``, its body replaced by the rule's ``body``, or by ``echo_reply`` quoting the request
   when it sets ``echo``); a faulted request is not charged. A
   ``lose_response`` rule lets the request go on through steps 6-8 and then drops the connection
   instead of sending the routes' answer (logged as ``lost``).
6. Limits: ``admit(op, path)`` (None: not limited) charges ``ctx.limiter``; a refusal is answered
   with ``over_limit(decision)``. ``rate_headers(decision)`` go on the routes' response.
7. ``check(scope, path)`` may answer instead of the routes (e.g. a required header); counted.
8. The routes answer; the status is counted.

One log line per request (admin ones excepted) on logger ``flit_sandboxes.<name>``:
method, route template, status (or ``dropped``) and duration. Never the query string, the body or
credentials: they carry patient data and tokens.

``ctx`` is the sandbox's state object (a ``kernel.state.SandboxState``: ``faults``, ``stats``,
``limiter``) plus whatever the vendor hooks read (settings, tokens).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from contextvars import ContextVar
from collections.abc import Sequence
from dataclasses import dataclass, replace
from re import Pattern
from typing import Any

from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from flit_sandboxes.kernel.faults import FaultRule
from flit_sandboxes.kernel.ratelimit import RateDecision
from flit_sandboxes.kernel.responses import Headers, Reply, drop_connection

ADMIN_PREFIX = "/__sandbox/"


# the User-Agent of the request being served (each request runs in its own task, so its own context)
_CLIENT: ContextVar[str] = ContextVar("sandbox_client", default="")


@dataclass(frozen=True)
class Operation:
    """An implemented operation as the gateway sees it: method and Starlette route template.

    Sandboxes with richer operation tables pass their own objects; any with ``method`` and
    ``path`` attributes will do.
    """

    method: str
    path: str


class OperationMatcher:
    """Find the implemented operation for a method + path (to price and name requests)."""

    def __init__(self, operations: Sequence[Any]):
        self._by_method: dict[str, list[tuple[Pattern[str], Any]]] = {}
        for op in operations:
            regex, _, _ = compile_path(op.path)
            self._by_method.setdefault(op.method, []).append((regex, op))
            if op.method == "GET":  # Starlette serves HEAD for GET routes
                self._by_method.setdefault("HEAD", []).append((regex, op))

    def match(self, method: str, path: str) -> Any:
        """The first operation whose template matches, or None."""
        for regex, op in self._by_method.get(method, ()):
            if regex.match(path):
                return op
        return None


class Gateway(abc.ABC):
    """ASGI middleware running the steps in the module docstring; subclass per vendor.

    Args:
        app: the Starlette router stack.
        ctx: the sandbox's state object, a ``SandboxState`` subclass (see module docstring).
        operations: the implemented operations (``Operation`` or alike; to name requests in stats
            and logs).
    """

    name = "sandbox"  # logger suffix: flit_sandboxes.<name>

    def __init__(self, app: ASGIApp, ctx: Any, operations: Sequence[Any]):
        self.app = app
        self.ctx = ctx
        self.matcher = OperationMatcher(operations)
        self.logger = logging.getLogger(f"flit_sandboxes.{self.name}")

    # -------------------------------------------------------------------- hooks
    def rewrite(self, scope: Scope) -> Scope:
        """The scope the rest of the pipeline sees (default: unchanged)."""
        return scope

    @abc.abstractmethod
    def authenticate(self, scope: Scope, *, admin: bool) -> Scope | Reply:
        """The scope to go on with, or the refusal to send (the vendor's 401 body)."""

    def fault_path(self, path: str) -> str | None:
        """The path fault rules are matched against; None: this request is never faulted."""
        return path

    @abc.abstractmethod
    def fault_reply(self, status: int) -> Reply:
        """The answer of an injected ``status`` fault (the vendor's error body)."""

    def echo_reply(self, status: int, text: str, headers: Headers) -> Reply:
        """The error answer of an ``echo`` fault: ``text`` quotes the request (body and credential
        headers) inside the vendor's error shape; default ``{"message": text}``."""
        return Reply.json(status, {"message": text}, headers)

    def wait_headers(self, seconds: int) -> Headers:
        """The headers that tell a client to wait ``seconds`` (a fault's ``retry_after``); default
        ``Retry-After``. They replace headers of the same names on the fault's answer."""
        return [(b"retry-after", str(seconds).encode())]

    def admit(self, op: Any, path: str) -> RateDecision | None:
        """Charge ``ctx.limiter`` for the request (``op`` may be None); None: not rate limited."""
        return None

    def rate_headers(self, decision: RateDecision) -> Headers:
        """Headers added to the routes' response after admission (default: none)."""
        return ()

    @abc.abstractmethod
    def over_limit(self, decision: RateDecision) -> Reply:
        """The 429 for a refused ``decision`` (the vendor's body and headers)."""

    def check(self, scope: Scope, path: str) -> Reply | None:
        """A last refusal before the routes (default: none)."""
        return None

    # ----------------------------------------------------------------- pipeline
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        _CLIENT.set(next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"user-agent"), ""))
        scope = self.rewrite(scope)
        path: str = scope["path"]
        method: str = scope["method"]
        admin = path.startswith(ADMIN_PREFIX)
        op = self.matcher.match(method, path)
        template = op.path if op else "<unmatched>"
        outcome = self.authenticate(scope, admin=admin)
        if isinstance(outcome, Reply):
            await outcome.send(send)
            self._log(method, "<unauthorised>", outcome.status, started)
            return
        scope = outcome
        if admin:
            await self.app(scope, receive, send)
            return

        stats = self.ctx.stats
        stats.request(method, template)
        fault_path = self.fault_path(path)
        rule = self.ctx.faults.take(method, fault_path) if fault_path is not None else None
        lose: FaultRule | None = None
        if rule is not None:
            stats.fault()
            if rule.lose_response:
                lose = rule
            elif await self._apply_fault(rule, scope, receive, send):
                self._log(method, template, "dropped" if rule.drop_connection else rule.status, started)
                return

        extra_headers: Headers = ()
        decision = self.admit(op, path)
        if decision is not None:
            if not decision.allowed:
                stats.limited()
                stats.status(429)
                await self.over_limit(decision).send(send)
                self._log(method, template, 429, started)
                return
            extra_headers = self.rate_headers(decision)

        refusal = self.check(scope, path)
        if refusal is not None:
            await refusal.send(send)
            stats.status(refusal.status)
            self._log(method, template, refusal.status, started)
            return
        if lose is not None:
            await self._lose(lose, scope, receive, template, started)
            return
        await self._forward(scope, receive, send, template, started, extra_headers)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, template: str, started: float,
                       extra_headers: Headers) -> None:
        status = 500  # if the routes never start a response

        async def send_observed(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if extra_headers:
                    message = dict(message, headers=[*message.get("headers", []), *extra_headers])
            await send(message)

        await self.app(scope, receive, send_observed)
        self.ctx.stats.status(status)
        self._log(scope["method"], template, status, started)

    async def _lose(self, rule: FaultRule, scope: Scope, receive: Receive, template: str, started: float) -> None:
        """Execute the request with the routes (their answer goes nowhere), hold it ``delay_seconds``,
        then close the connection: the write happened, the client never hears of it."""
        status = 500

        async def swallow(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, swallow)
        self.ctx.stats.status(status)
        if rule.delay_seconds:
            await asyncio.sleep(rule.delay_seconds)
        await drop_connection(receive)
        self._log(scope["method"], template, f"lost (executed: {status})", started)

    async def _apply_fault(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> bool:
        """Run the fault; True if the request is finished (answered or dropped)."""
        if rule.delay_seconds:
            await asyncio.sleep(rule.delay_seconds)
        if rule.drop_connection:
            await drop_connection(receive)
            return True
        if rule.status is None:
            return False
        reply = self.fault_reply(rule.status)
        if rule.body is not None:
            reply = Reply.json(rule.status, rule.body, reply.headers)
        if rule.echo:
            reply = self.echo_reply(rule.status, await _echo_text(scope, receive), reply.headers)
        if rule.retry_after is not None:
            waits = list(self.wait_headers(rule.retry_after))
            names = {name for name, _ in waits}
            reply = replace(reply, headers=[*(h for h in reply.headers if h[0] not in names), *waits])
        await reply.send(send)
        self.ctx.stats.status(rule.status)
        return True

    def _log(self, method: str, template: str, status: int | str | None, started: float) -> None:
        took = time.perf_counter() - started
        self.logger.info("%s %s %s %.1fms", method, template, status, took * 1000)
        if template != "<unauthorised>":
            ended = time.time()
            self.ctx.stats.record(ended - took, ended, method, template, status, _CLIENT.get())


_ECHOED_HEADERS = (b"authorization", b"x-api-token", b"x-practicehub-key")


async def _echo_text(scope: Scope, receive: Receive) -> str:
    """What an echoing vendor quotes: the request's JSON or form body (not multipart uploads) and
    its credential headers, at most 2,000 characters of body."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    headers = dict(scope.get("headers", ()))
    ctype = headers.get(b"content-type", b"").decode("latin-1")
    body = "" if ctype.startswith("multipart/") else b"".join(chunks).decode("utf-8", "replace")[:2000]
    creds = "; ".join(f"{k.decode()}: {v.decode('latin-1')}" for k, v in headers.items() if k in _ECHOED_HEADERS)
    return f"invalid request body {body}" + (f" (request headers: {creds})" if creds else "")
