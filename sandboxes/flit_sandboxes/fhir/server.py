"""Serving the FHIR sandbox: in the foreground (CLI) or in a background thread (tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flit_sandboxes.fhir.app import create_app
from flit_sandboxes.serving import running_app, serve_app


def fhir_base(url: str) -> str:
    """The FHIR base (``<server>/fhir``) of a sandbox server URL: what ``FHIR_BASE_URL`` takes."""
    return url.rstrip("/") + "/fhir"


def serve(port: int, state_path: str | Path, host: str = "127.0.0.1", **settings: Any) -> None:
    """Run the sandbox in the foreground until interrupted (``settings`` as ``create_app``)."""
    serve_app(create_app(state_path, **settings), name="fhir", port=port, host=host)


@contextmanager
def running_sandbox(state_path: str | Path, **settings: Any) -> Iterator[str]:
    """The sandbox in a background thread; yields ``"http://127.0.0.1:PORT"`` (``fhir_base`` for the
    client). Raises RuntimeError when it does not start, ValueError as ``create_app``."""
    with running_app(create_app(state_path, **settings), name="fhir") as url:
        yield url
