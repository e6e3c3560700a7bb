"""The SMART Backend Services token endpoint of the FHIR sandbox (SMART App Launch 2.x, "Backend Services").

``POST /auth/token`` (form): ``grant_type=client_credentials``, ``scope`` (``system/...``),
``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``, ``client_assertion``.
The assertion is verified as the specification's "Signature Verification" asks:

* header ``alg`` RS384 or ES384 (anything else, ``none`` included: ``invalid_client``), ``typ`` JWT;
* ``iss`` = ``sub`` = a registered client (``clients``: client_id -> JWKS); the signature verifies
  against one of its keys (the header's ``kid`` picks it when given), with PyJWT;
* ``aud`` = this token endpoint's URL; ``exp`` present, in the future and at most 5 minutes ahead;
* ``jti`` not seen before while its assertion could still be valid (replay -> ``invalid_client``).

Answers: 200 ``{"access_token", "token_type": "bearer", "expires_in", "scope"}``; errors 400/401 with
``{"error": "invalid_request" | "unsupported_grant_type" | "invalid_scope" | "invalid_client"}``
(RFC 6749 §5.2). Error bodies never echo the assertion or the client's values.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_sandboxes.fhir.context import FhirContext
from flit_sandboxes.fhir.gateway import TOKEN_PATH, Operation
from flit_sandboxes.fhir.routes import server_url

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS384", "ES384")
MAX_LIFETIME = 300
LEEWAY = 5


def _error(code: str, status: int = 400) -> Response:
    return Response(json.dumps({"error": code}), status_code=status, media_type="application/json")


def _keys(jwks: dict[str, Any], kid: str | None) -> list[Any]:
    keys = jwt.PyJWKSet.from_dict(jwks).keys
    return [k.key for k in keys if kid is None or k.key_id == kid]


def verify_assertion(ctx: FhirContext, assertion: str, audience: str) -> str | None:
    """The client id a valid assertion authenticates (module docstring), or None."""
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    client_id = claims.get("iss")
    jwks = ctx.settings.clients.get(client_id) if isinstance(client_id, str) else None
    if header.get("alg") not in ALGORITHMS or jwks is None or claims.get("sub") != client_id:
        return None
    for key in _keys(jwks, header.get("kid")):
        try:
            verified = jwt.decode(assertion, key, algorithms=[header["alg"]], audience=audience, issuer=client_id,
                                  leeway=LEEWAY, options={"require": ["exp", "jti", "iss", "sub", "aud"]})
        except jwt.PyJWTError:
            continue
        now = time.time()
        if verified["exp"] > now + MAX_LIFETIME + LEEWAY:
            return None
        return client_id if ctx.first_use_of(str(verified["jti"]), float(verified["exp"]), now - LEEWAY) else None
    return None


async def token(request: Request) -> Response:
    """``POST /auth/token`` (module docstring)."""
    ctx: FhirContext = request.app.state.sandbox
    form = await request.form()
    if form.get("grant_type") != "client_credentials":
        return _error("unsupported_grant_type")
    if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
        return _error("invalid_request")
    scope = str(form.get("scope") or "")
    if not scope or not all(s.startswith("system/") for s in scope.split()):
        return _error("invalid_scope")
    client_id = verify_assertion(ctx, str(form["client_assertion"]), f"{server_url(request)}{TOKEN_PATH}")
    if client_id is None:
        ctx.count("assertions_refused")
        return _error("invalid_client", 401)
    ctx.count("tokens_issued")
    return Response(json.dumps({"access_token": ctx.tokens.issue(), "token_type": "bearer",
                                "expires_in": int(ctx.settings.token_ttl_seconds), "scope": scope}),
                    media_type="application/json", headers={"Cache-Control": "no-store"})


def routes_and_operations() -> tuple[list[Route], list[Operation]]:
    """The token route and its operation."""
    return [Route(TOKEN_PATH, token, methods=["POST"])], [Operation("POST", TOKEN_PATH)]
