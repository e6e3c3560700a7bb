"""Can a source's or destination's host be reached at all? One TCP connection, no request.

A probe opens a TCP connection to the host and port of a base URL and closes it: no HTTP request, no
credential, nothing a vendor counts against a rate limit. It answers only "is anything listening
there" (DNS resolves, the port accepts); a wrong token or path is the client's error to report.
URLs are named by ``scheme://host[:port]`` only (``display_url``): a path, query or ``user:pass@``
part is never shown.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from flit_pipelines.errors import FlitError

__all__ = ["PROBE_TIMEOUT_SECONDS", "UnreachableError", "display_url", "probe"]

PROBE_TIMEOUT_SECONDS = 5.0


class UnreachableError(FlitError):
    """A source or destination host did not accept a connection. The message names the URL as
    ``scheme://host[:port]`` (never a credential), the setting that holds it and the check to run."""


def display_url(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (no user info, path or query); ``"(not a URL)"`` if it has no host."""
    parts = urlsplit(url.strip())
    if not parts.hostname:
        return "(not a URL)"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def probe(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> str | None:
    """None when ``url``'s host accepts a TCP connection within ``timeout`` seconds, else why not, in
    words ("the host name does not resolve", "connection refused", "no answer within 5 s", ...)."""
    parts = urlsplit(url.strip())
    if not parts.hostname or parts.scheme not in ("http", "https"):
        return "it is not an http(s) URL"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "its port is not a number"
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except socket.gaierror:
        return "the host name does not resolve"
    except ConnectionRefusedError:
        return "connection refused (nothing listens on that port)"
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as exc:  # unreachable network, reset: the class name only
        return f"the connection failed ({type(exc).__name__})"
