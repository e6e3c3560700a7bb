"""The Salesforce edge: the kernel ``Gateway`` pipeline with Salesforce's hooks.

Paths (notes §0): the sandbox's base URL stands for the My Domain instance URL. ``/services/oauth2/token``
(token endpoint) and ``GET /services/data`` (version list) need no token; everything below
``/services/data/vXX.X/`` needs ``Authorization: Bearer <token>``.

Per request, in order:

1. Trailing slashes are dropped (simple-salesforce calls ``.../sobjects/Contact/``, ``.../limits/``).
2. ``/__sandbox/...`` admin requests need a valid token (401 otherwise); no limits, faults or stats.
3. API requests without a valid token: 401 ``[{"message": "Session expired or invalid", "errorCode":
   "INVALID_SESSION_ID"}]`` (notes §8 item 1) with ``WWW-Authenticate: Token`` (UNCONFIRMED header);
   simple-salesforce refreshes its session on exactly this body.
4. Faults (``POST /__sandbox/faults``): ``path_prefix`` is matched below ``/services/data/vXX.X`` (``/jobs/ingest``)
   or against the full path for ``/services/oauth2/token``; ``lose_response`` executes the call and
   drops the connection instead of answering (a Bulk job created, a ContentVersion stored, the
   answer lost). Injected bodies: 401 as above, 403
   ``REQUEST_LIMIT_EXCEEDED``, 500 ``UNKNOWN_EXCEPTION``, 503 ``SERVER_UNAVAILABLE``, others
   ``[{"errorCode": "HTTP_<status>"}]`` (UNCONFIRMED codes/texts).
5. Daily API allowance: each ``/services/data/vXX.X/...`` request costs 1 of ``api_daily_limit``; every
   answer carries ``Sforce-Limit-Info: api-usage=<used>/<max>`` (notes §0); once spent, 403
   ``[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]`` (notes §7).
6. Versions: ``v21.0``-``v30.0`` and older -> 410 ``GONE`` (notes §0; body UNCONFIRMED); versions below
   ``min_api_version`` (default 31.0, as real orgs; a knob to pin a newer floor) or above ``max_api_version``
   (67.0, Summer '26) -> 404 ``NOT_FOUND``.
7. One log line per request (``flit_sandboxes.salesforce``): method, route template, status, duration.
   Never the query string (SOQL carries patient values), bodies or tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.types import Scope

from flit_sandboxes.kernel.gateway import Gateway
from flit_sandboxes.kernel.ratelimit import RateDecision
from flit_sandboxes.kernel.responses import Headers, Reply, phrase
from flit_sandboxes.salesforce.context import api_path
from flit_sandboxes.salesforce.errors import INVALID_SESSION

TOKEN_PATH = "/services/oauth2/token"
DATA_PREFIX = "/services/data/v"
_VERSION = re.compile(r"^/services/data/v(\d+)\.(\d+)(?:/|$)")
LIMIT_EXCEEDED = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
_FAULT_BODIES = {
    401: INVALID_SESSION,
    403: LIMIT_EXCEEDED,
    500: [{"message": "An unexpected error occurred. Please include this ErrorId if you contact support: "
                      "1234567890-12345 (-1234567890)", "errorCode": "UNKNOWN_EXCEPTION"}],
    503: [{"message": "Server temporarily unavailable", "errorCode": "SERVER_UNAVAILABLE"}],
}


@dataclass(frozen=True)
class Operation:
    """An implemented operation, for naming requests in stats and logs (``OperationMatcher``)."""

    method: str
    path: str


def bearer(scope: Scope) -> str | None:
    """The bearer token of a request, or None."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip().decode("latin-1")
    return None


def api_version(path: str) -> float | None:
    """The ``NN.N`` of a ``/services/data/vNN.N/...`` path, or None."""
    match = _VERSION.match(path)
    return float(f"{match[1]}.{match[2]}") if match else None


class SalesforceGateway(Gateway):
    """The kernel pipeline with Salesforce's token check, limits header and bodies (module docstring)."""

    name = "salesforce"

    def __init__(self, app: Any, ctx: Any, operations: Any):
        super().__init__(app, ctx, operations)
        self._refused = False  # admit() -> check() hand-over; no await happens between the two

    def rewrite(self, scope: Scope) -> Scope:
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            return dict(scope, path=path.rstrip("/") or "/")
        return scope

    def authenticate(self, scope: Scope, *, admin: bool) -> Scope | Reply:
        if not admin and not scope["path"].startswith(DATA_PREFIX):
            return scope
        if self.ctx.tokens.valid(bearer(scope)):
            return scope
        if not admin:
            self.ctx.stats.status(401)
        return Reply.json(401, INVALID_SESSION, [(b"www-authenticate", b"Token")])

    def fault_path(self, path: str) -> str | None:
        if path == TOKEN_PATH:
            return path
        return api_path(path) if path.startswith(DATA_PREFIX) else None

    def fault_reply(self, status: int) -> Reply:
        body = _FAULT_BODIES.get(status) or [{"message": phrase(status), "errorCode": f"HTTP_{status}"}]
        return Reply.json(status, body)

    def admit(self, op: Any, path: str) -> RateDecision | None:
        self._refused = False
        if not path.startswith(DATA_PREFIX):
            return None
        if self.ctx.limiter.snapshot().daily_remaining <= 0:
            self._refused = True
            return None
        return self.ctx.limiter.acquire("org", 1)

    def rate_headers(self, decision: RateDecision) -> Headers:
        return [limit_header(decision)]

    def over_limit(self, decision: RateDecision) -> Reply:
        return Reply.json(403, LIMIT_EXCEEDED, [limit_header(decision)])

    def check(self, scope: Scope, path: str) -> Reply | None:
        if self._refused:
            self._refused = False
            return Reply.json(403, LIMIT_EXCEEDED, [limit_header(self.ctx.limiter.snapshot())])
        version = api_version(path)
        if version is None:
            return None
        settings = self.ctx.settings
        if version <= 30.0:
            return Reply.json(410, [{"message": f"API version {version:.1f} has been retired and is no longer "
                                                "available.", "errorCode": "GONE"}])
        if not settings.min_api_version <= version <= settings.max_api_version:
            return Reply.json(404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
        return None


def limit_header(decision: RateDecision) -> tuple[bytes, bytes]:
    """``Sforce-Limit-Info: api-usage=<used>/<max>``."""
    used = decision.daily_limit - decision.daily_remaining
    return b"sforce-limit-info", f"api-usage={used}/{decision.daily_limit}".encode()
