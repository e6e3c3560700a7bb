"""Serving the PracticeHub sandbox: in the foreground (CLI) or in a background thread (tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flit_sandboxes.practicehub.app import create_app
from flit_sandboxes.practicehub.gateway import API_PREFIX
from flit_sandboxes.serving import running_app, serve_app

DEFAULT_API_KEY = "sandbox-practicehub-key"
DEFAULT_APP_DETAILS = "flit=migrations@example.com"


def api_base(url: str) -> str:
    """The API base (``<server>/api``) of a sandbox server URL: what ``PracticeHubSource`` takes."""
    return url.rstrip("/") + API_PREFIX


def serve(port: int, state_path: str | Path, host: str = "127.0.0.1", *, api_key: str = DEFAULT_API_KEY,
          **settings: Any) -> None:
    """Run the sandbox in the foreground until interrupted.

    ``state_path`` and ``settings`` (``account``, ``patients``, ``seed``, ``rate_per_second``, ...) as
    ``create_app``; the key defaults to ``DEFAULT_API_KEY``. Raises ValueError as ``create_app``.
    """
    app = create_app(state_path, api_key=api_key, **settings)
    serve_app(app, name="practicehub", port=port, host=host)


@contextmanager
def running_sandbox(state_path: str | Path, *, api_key: str = DEFAULT_API_KEY, **settings: Any) -> Iterator[str]:
    """The sandbox in a background thread; yields the server URL ``"http://127.0.0.1:PORT"``.

    Use ``api_base(url)`` for the client. Closes the state file on exit (it can be reopened).

    Raises:
        RuntimeError: the server did not start within 30 s.
        ValueError: as ``create_app``.
    """
    app = create_app(state_path, api_key=api_key, **settings)
    with running_app(app, name="practicehub") as url:
        yield url
