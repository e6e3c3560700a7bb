"""Serving the Ascend sandbox: in the foreground (CLI) or in a background thread (tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flit_sandboxes.ascend.app import create_app
from flit_sandboxes.ascend.gateway import API_PREFIX, TOKEN_PATH
from flit_sandboxes.serving import running_app, serve_app

DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret"
DEFAULT_ORGANIZATION_ID = "sandbox-org"


def api_base(url: str) -> str:
    """The API base (``.../ascend-gateway/api``) of a sandbox server URL."""
    return url.rstrip("/") + API_PREFIX


def token_url(url: str) -> str:
    """The token endpoint of a sandbox server URL (``grant_type`` is added by the client)."""
    return url.rstrip("/") + TOKEN_PATH


def serve(port: int, practice_db: str | Path, host: str = "127.0.0.1", *, client_id: str = DEFAULT_CLIENT_ID,
          client_secret: str = DEFAULT_CLIENT_SECRET, organization_id: str = DEFAULT_ORGANIZATION_ID,
          **settings: Any) -> None:
    """Run the sandbox in the foreground until interrupted.

    ``practice_db`` and settings as ``create_app``; the credentials default to the
    ``DEFAULT_*`` demo values. Raises FileNotFoundError / ValueError as ``create_app``.
    """
    app = create_app(practice_db, client_id=client_id, client_secret=client_secret,
                     organization_id=organization_id, **settings)
    serve_app(app, name="ascend", port=port, host=host)


@contextmanager
def running_sandbox(practice_db: str | Path, *, client_id: str = DEFAULT_CLIENT_ID,
                    client_secret: str = DEFAULT_CLIENT_SECRET, organization_id: str = DEFAULT_ORGANIZATION_ID,
                    **settings: Any) -> Iterator[str]:
    """The sandbox in a background thread; yields the server URL ``"http://127.0.0.1:PORT"``.

    Use ``api_base(url)`` and ``token_url(url)`` for the client. Closes the practice on exit.

    Raises:
        RuntimeError: the server did not start within 30 s.
        FileNotFoundError / ValueError: as ``create_app``.
    """
    app = create_app(practice_db, client_id=client_id, client_secret=client_secret,
                     organization_id=organization_id, **settings)
    with running_app(app, name="ascend") as url:
        yield url
