"""The PracticeHub edge: the kernel ``Gateway`` pipeline with PracticeHub's key, app details and limit.

The sandbox's base URL stands for ``https://{account}.neptune.practicehub.io`` (notes/sources.md §3
"Base URL"); the API lives under ``/api``. Per request, in order:

1. Paths outside ``/api/`` (and not admin) are counted and answered 404 by the router.
2. ``/__sandbox/...`` admin requests need the API key; no limits, faults or stats.
3. API requests:

   a. ``x-practicehub-key: <key>`` (notes §3 "Auth"); ``Authorization: Bearer <key>`` is accepted
      too, because the vendor's polling guide shows that form (notes §3 "Inconsistency").
      Missing or wrong -> 401 (the docs only say unauthenticated requests "will fail": status and
      body UNCONFIRMED). The 401 status is counted, the request is not;
   b. fault injection (rules match the path, e.g. ``path_prefix: "/api/patients"``): delay,
      injected status (429 with ``Retry-After: 1``, others the error body), or a dropped connection.
      Faulted requests are not charged;
   c. the account's rate limit (``context``): over it -> 429 with ``Retry-After`` in whole seconds
      (the issue's 1 request/s; 429 and the header are UNCONFIRMED: no rate-limit page exists);
   d. ``x-app-details: <appname>=<contact email>`` (notes §3): missing or not of that form -> 400
      (UNCONFIRMED: the docs do not say what happens without it).
4. One log line per request (``flit_sandboxes.practicehub``): method, route template, status,
   duration. Never the query string, the key or the app details.

Error body (UNCONFIRMED): ``{"error": {"status": <int>, "message": "<text>"}}``; messages never
contain submitted values.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import Scope

from flit_sandboxes.kernel.gateway import Gateway
from flit_sandboxes.kernel.ratelimit import RateDecision
from flit_sandboxes.kernel.responses import Reply, json_response, phrase

API_PREFIX = "/api"
KEY_HEADER = b"x-practicehub-key"
APP_DETAILS_HEADER = b"x-app-details"
_APP_DETAILS = re.compile(r"^[^=\s]+=[^@\s=]+@[^@\s=]+$")


@dataclass(frozen=True)
class Operation:
    """An implemented operation, for naming requests in stats and logs (``OperationMatcher``)."""

    method: str
    path: str


def error_body(status: int, message: str) -> dict[str, Any]:
    """The sandbox's error body (UNCONFIRMED shape, module docstring)."""
    return {"error": {"status": status, "message": message}}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A route's error answer in the error body shape."""
    return json_response(error_body(status, message), status=status, headers=headers)


def header(scope: Scope, wanted: bytes) -> str | None:
    """A request header's value (``wanted`` lower-case bytes), or None."""
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return value.decode("latin-1")
    return None


def presented_key(scope: Scope) -> str | None:
    """The API key of a request: ``x-practicehub-key``, else a bearer token, else None."""
    key = header(scope, KEY_HEADER)
    if key:
        return key.strip()
    auth = header(scope, b"authorization") or ""
    if auth[:7].lower() != "bearer ":
        return None
    return auth[7:].strip() or None


def valid_app_details(value: str | None) -> bool:
    """``<appname>=<contact email>``, e.g. ``mywonderfulapp=help@practicehub.io`` (notes §3)."""
    return value is not None and bool(_APP_DETAILS.match(value.strip()))


def _in_api(path: str) -> bool:
    return path.startswith(API_PREFIX + "/")


class PracticeHubGateway(Gateway):
    """The kernel pipeline with PracticeHub's hooks (module docstring).

    Args: as ``kernel.gateway.Gateway``; ``ctx`` is the app's ``PracticeHubContext``.
    """

    name = "practicehub"

    def authenticate(self, scope: Scope, *, admin: bool) -> Scope | Reply:
        if not admin and not _in_api(scope["path"]):
            return scope
        key = presented_key(scope)
        if key is not None and hmac.compare_digest(key.encode(), self.ctx.settings.api_key.encode()):
            return scope
        if not admin:
            self.ctx.stats.status(401)
        message = "API key missing" if key is None else "API key invalid"
        return Reply.json(401, error_body(401, message))

    def fault_path(self, path: str) -> str | None:
        return path if _in_api(path) else None

    def fault_reply(self, status: int) -> Reply:
        headers = [(b"retry-after", b"1")] if status == 429 else []
        return Reply.json(status, error_body(status, phrase(status)), headers)

    def admit(self, op: Any, path: str) -> RateDecision | None:
        return self.ctx.limiter.acquire(self.ctx.settings.account, 1) if _in_api(path) else None

    def over_limit(self, decision: RateDecision) -> Reply:
        rate = self.ctx.settings.rate_per_second
        return Reply.json(429, error_body(429, f"Rate limit exceeded: {rate:g} request(s) per second per account"),
                          [(b"retry-after", str(decision.reset_seconds).encode())])

    def check(self, scope: Scope, path: str) -> Reply | None:
        if not _in_api(path) or not self.ctx.settings.require_app_details:
            return None
        if not valid_app_details(header(scope, APP_DETAILS_HEADER)):
            return Reply.json(400, error_body(400, "x-app-details header must be <appname>=<contact email>"))
        return None
