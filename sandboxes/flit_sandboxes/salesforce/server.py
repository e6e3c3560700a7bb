"""Serving the Salesforce sandbox: in the foreground (CLI) or in a background thread (tests), and a
``requests`` session that lets simple-salesforce talk to it.

simple-salesforce always builds ``https://{instance}/...`` URLs from ``instance_url``, while the sandbox serves
plain HTTP on the loopback: ``client_session(url)`` returns a ``requests.Session`` whose adapter for
``https://127.0.0.1:PORT`` sends the same request over ``http://``. Pass it as ``Salesforce(session=...)``.
simple-salesforce's own client-credentials login only targets ``https://{domain}.salesforce.com``: either get
the token with ``fetch_token(url, client_id, client_secret)`` (``POST /services/oauth2/token``) and use
``Salesforce(instance_url=url, session_id=token, version="60.0", session=client_session(url))``, or let
simple-salesforce log in itself with ``Salesforce(consumer_key=..., consumer_secret=..., domain="flit.my",
session=client_session(url, my_domain="flit"))``: requests to ``https://flit.my.salesforce.com`` then reach the
sandbox too, and the token's ``instance_url`` (the sandbox URL) carries every later call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter

from flit_sandboxes.salesforce.app import create_app
from flit_sandboxes.serving import running_app, serve_app

DEFAULT_CLIENT_ID = "sandbox-connected-app"
DEFAULT_CLIENT_SECRET = "sandbox-connected-app-secret"
DEFAULT_API_VERSION = "60.0"


def serve(port: int, state_path: str | Path, host: str = "127.0.0.1", *, client_id: str = DEFAULT_CLIENT_ID,
          client_secret: str = DEFAULT_CLIENT_SECRET, **settings: Any) -> None:
    """Run the sandbox in the foreground until interrupted (settings as ``create_app``)."""
    app = create_app(state_path, client_id=client_id, client_secret=client_secret, **settings)
    serve_app(app, name="salesforce", port=port, host=host)


@contextmanager
def running_sandbox(state_path: str | Path, *, client_id: str = DEFAULT_CLIENT_ID,
                    client_secret: str = DEFAULT_CLIENT_SECRET, **settings: Any) -> Iterator[str]:
    """The sandbox in a background thread; yields the instance URL ``"http://127.0.0.1:PORT"``.

    Raises:
        RuntimeError: the server did not start within 30 s.
        ValueError: as ``create_app``.
    """
    app = create_app(state_path, client_id=client_id, client_secret=client_secret, **settings)
    with running_app(app, name="salesforce") as url:
        yield url


def token_url(url: str) -> str:
    """The OAuth token endpoint of a sandbox (instance) URL."""
    return url.rstrip("/") + "/services/oauth2/token"


def fetch_token(url: str, client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET,
                timeout: float = 10.0) -> dict[str, Any]:
    """The client-credentials token response (raises ``requests.HTTPError`` on 4xx)."""
    response = requests.post(token_url(url), data={"grant_type": "client_credentials", "client_id": client_id,
                                                   "client_secret": client_secret}, timeout=timeout)
    response.raise_for_status()
    return response.json()


class _HttpsToHttp(HTTPAdapter):
    """Sends ``https://host:port/...`` requests to ``http://host:port/...`` (the sandbox has no TLS), or every
    request of the mounted prefix to ``target`` (a My Domain host standing for the sandbox)."""

    def __init__(self, prefix: str | None = None, target: str | None = None):
        super().__init__()
        self.prefix, self.target = prefix, target

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if request.url and self.prefix and self.target and request.url.startswith(self.prefix):
            request.url = self.target + request.url[len(self.prefix):]
        elif request.url and request.url.startswith("https://"):
            request.url = "http://" + request.url[len("https://"):]
        return super().send(request, *args, **kwargs)


def client_session(url: str, session: requests.Session | None = None, *,
                   my_domain: str | None = None) -> requests.Session:
    """A session (new or ``session``) on which simple-salesforce's ``https://`` URLs reach the sandbox at ``url``;
    with ``my_domain``, ``https://<my_domain>.my.salesforce.com`` (simple-salesforce's client-credentials token
    URL for ``domain="<my_domain>.my"``) reaches it as well."""
    parsed = urlparse(url)
    session = session or requests.Session()
    session.mount(f"https://{parsed.hostname}:{parsed.port}", _HttpsToHttp())
    if my_domain:
        prefix = f"https://{my_domain}.my.salesforce.com"
        session.mount(prefix, _HttpsToHttp(prefix, url.rstrip("/")))
    return session
