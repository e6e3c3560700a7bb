"""Serving the pipedrive sandbox: in the foreground (CLI) or in a background thread (tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flit_sandboxes.pipedrive.app import create_app
from flit_sandboxes.serving import running_app, serve_app


def serve(port: int, state_path: str | Path, token: str, host: str = "127.0.0.1", **settings: Any) -> None:
    """Run the sandbox in the foreground until interrupted; state_path, token and
    settings as create_app. Raises ValueError as create_app."""
    serve_app(create_app(state_path, token, **settings), name="pipedrive", port=port, host=host)


@contextmanager
def running_sandbox(state_path: str | Path, token: str = "test-token", **settings: Any) -> Iterator[str]:
    """The sandbox in a background thread; yields its base URL and closes its state on exit.

    Raises:
        RuntimeError: the server did not start within 30 s.
        ValueError: as create_app.
    """
    with running_app(create_app(state_path, token, **settings), name="pipedrive") as url:
        yield url
