"""Serving the highlevel sandbox: in the foreground (CLI) or in a background thread (tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flit_sandboxes.highlevel.app import create_app
from flit_sandboxes.serving import running_app, serve_app


def load_pipelines_file(path: str | Path) -> list[dict[str, Any]]:
    """Read a ``--pipelines-file``: a JSON list in the ``create_app(pipelines=...)`` format, e.g.
    ``[{"name": "Patient Lifecycle", "stages": ["New Patient", "Active", "Recall", "Inactive"]}]``.

    Raises:
        OSError: unreadable file. ValueError: not JSON or not a list.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError("the pipelines file must hold a JSON list of {name, stages}")
    return data


def serve(port: int, state_path: str | Path, token: str, host: str = "127.0.0.1", *,
          pipelines_file: str | Path | None = None, **settings: Any) -> None:
    """Run the sandbox in the foreground until interrupted; state_path, token and
    settings as create_app. ``pipelines_file``: JSON file read by ``load_pipelines_file`` and
    passed as ``pipelines`` (ignored when None). Raises ValueError as create_app, OSError/ValueError
    for an unreadable pipelines file."""
    if pipelines_file is not None:
        settings["pipelines"] = load_pipelines_file(pipelines_file)
    serve_app(create_app(state_path, token, **settings), name="highlevel", port=port, host=host)


@contextmanager
def running_sandbox(state_path: str | Path, token: str = "test-token", **settings: Any) -> Iterator[str]:
    """The sandbox in a background thread; yields its base URL and closes its state on exit.

    Raises:
        RuntimeError: the server did not start within 30 s.
        ValueError: as create_app.
    """
    with running_app(create_app(state_path, token, **settings), name="highlevel") as url:
        yield url
