"""Reading credentials off an ASGI scope (gateways) or a Starlette request's scope (token endpoints).

All return None for what is missing or malformed, never raise; values are decoded as latin-1,
as HTTP headers are.
"""

from __future__ import annotations

import base64

from starlette.types import Scope


def bearer(scope: Scope) -> str | None:
    """The ``Authorization: Bearer`` token of a request, or None."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip().decode("latin-1")
    return None


def header(scope: Scope, wanted: bytes) -> str | None:
    """A request header's value (``wanted`` lower-case bytes), or None."""
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return value.decode("latin-1")
    return None


def basic_credentials(scope: Scope) -> tuple[str | None, str | None]:
    """``(user, password)`` of an ``Authorization: Basic`` header (OAuth client id and secret);
    ``(None, None)`` when absent or undecodable, None for an empty part."""
    value = header(scope, b"authorization") or ""
    if value[:6].lower() != "basic ":
        return None, None
    try:
        user, _, password = base64.b64decode(value[6:].strip()).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return user or None, password or None
