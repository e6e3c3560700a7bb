"""The FHIR server's edge: the kernel ``Gateway`` pipeline with bearer tokens and OperationOutcome errors.

The sandbox's FHIR base is ``<server>/fhir``; its SMART token endpoint ``<server>/auth/token``.
Per request:

1. ``/fhir/metadata`` and ``/fhir/.well-known/smart-configuration`` are public (FHIR clients read them
   before they hold a token); ``/auth/token`` authenticates by its JWT assertion (``smart``).
2. Every other ``/fhir/...`` request needs ``Authorization: Bearer <token>``: the static ``--token``
   or a token the token endpoint issued and that has not expired. Missing, unknown or expired -> 401
   with ``WWW-Authenticate: Bearer error="invalid_token"`` and an OperationOutcome (code ``login``;
   ``expired`` for an expired token). The 401 is counted, the request is not.
3. ``/__sandbox/...`` admin requests need the admin token (``--admin-token``) or the static token.
4. Faults (``path_prefix`` like ``/fhir/Patient`` or ``/fhir/$export-status``): injected 5xx answer an
   OperationOutcome with issue code ``transient`` (a client may retry), 429 ``throttled`` with
   ``Retry-After: 1``, 4xx ``processing``.
5. ``rate_per_second`` per token; over it 429 ``throttled`` with ``Retry-After`` in whole seconds.
6. One log line per request: method, route template, status, duration; never the query or a token.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from starlette.types import Scope

from flit_sandboxes.kernel.auth import bearer
from flit_sandboxes.kernel.gateway import Gateway
from flit_sandboxes.kernel.ratelimit import RateDecision
from flit_sandboxes.kernel.responses import Reply, dumps, json_response, phrase

FHIR_PREFIX = "/fhir"
TOKEN_PATH = "/auth/token"
PUBLIC = ("/fhir/metadata", "/fhir/.well-known/smart-configuration")
FHIR_JSON = b"application/fhir+json"


@dataclass(frozen=True)
class Operation:
    """An implemented operation, for naming requests in stats and logs."""

    method: str
    path: str


def outcome(code: str, text: str, severity: str = "error") -> dict[str, Any]:
    """An OperationOutcome with one issue (``code`` from the FHIR IssueType value set)."""
    return {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": code,
                                                            "details": {"text": text}}]}


def outcome_response(status: int, code: str, text: str, headers: dict[str, str] | None = None):
    """A route's error answer: ``status`` with an OperationOutcome (``application/fhir+json``)."""
    resp = json_response(outcome(code, text), status=status, headers=headers)
    resp.headers["content-type"] = "application/fhir+json"
    return resp


def _reply(status: int, code: str, text: str, headers: list[tuple[bytes, bytes]] | None = None) -> Reply:
    return Reply(status, dumps(outcome(code, text)), headers or [], content_type=FHIR_JSON)


def _equal(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


class FhirGateway(Gateway):
    """The kernel pipeline with the FHIR server's hooks (module docstring)."""

    name = "fhir"

    def authenticate(self, scope: Scope, *, admin: bool) -> Scope | Reply:
        path = scope["path"]
        token = bearer(scope)
        settings = self.ctx.settings
        if admin:
            if _equal(token, settings.admin_token) or _equal(token, settings.token):
                return scope
            return _reply(401, "login", "admin token required")
        if path in PUBLIC or path == TOKEN_PATH or not path.startswith(FHIR_PREFIX + "/"):
            return scope
        self.ctx.authenticated()  # counts toward an admin-requested expiry before the check
        if _equal(token, settings.token):
            return scope
        state = self.ctx.tokens.check(token)
        if state == "valid":
            return scope
        self.ctx.stats.status(401)
        code, text = ("expired", "access token expired") if state == "expired" else ("login", "bearer token required")
        return _reply(401, code, text, [(b"www-authenticate", b'Bearer error="invalid_token"')])

    def fault_path(self, path: str) -> str | None:
        return path if path.startswith(FHIR_PREFIX + "/") or path == TOKEN_PATH else None

    def fault_reply(self, status: int) -> Reply:
        if status == 429:
            return _reply(429, "throttled", "too many requests", [(b"retry-after", b"1")])
        return _reply(status, "transient" if status >= 500 else "processing", phrase(status))

    def admit(self, op: Any, path: str) -> RateDecision | None:
        if not (path.startswith(FHIR_PREFIX + "/") or path == TOKEN_PATH):
            return None
        return self.ctx.limiter.acquire("server", 1)

    def over_limit(self, decision: RateDecision) -> Reply:
        return _reply(429, "throttled", f"rate limit: {self.ctx.settings.rate_per_second:g} requests per second",
                      [(b"retry-after", str(decision.reset_seconds).encode())])
