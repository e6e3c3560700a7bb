"""Serving the HighLevel sandbox: foreground (CLI) or a background thread (tests).

Same semantics as ``flit_pipelines.sandbox.pipedrive.server``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from flit_pipelines.sandbox.highlevel.app import create_app

STARTUP_TIMEOUT_SECONDS = 30.0


def serve(port: int, state_path: str | Path, token: str, host: str = "127.0.0.1", **settings: Any) -> None:
    """Run the sandbox with uvicorn in the foreground until interrupted.

    Args:
        port: TCP port. host: interface (keep loopback unless needed).
        state_path, token, **settings: as ``create_app``.

    uvicorn's access log is off (query strings carry locationIds/search terms); the sandbox logs
    method, route template, status and duration only.
    """
    app = create_app(state_path, token, **settings)
    request_log = logging.getLogger("flit_pipelines.sandbox.highlevel")
    request_log.setLevel(logging.INFO)
    if not request_log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s highlevel-sandbox %(message)s"))
        request_log.addHandler(handler)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info", timeout_graceful_shutdown=5)


@contextmanager
def running_sandbox(state_path: str | Path, token: str = "test-token", **settings: Any) -> Iterator[str]:
    """Start the sandbox in a daemon thread on a free loopback port and yield its base URL
    (``"http://127.0.0.1:PORT"``); on exit stop it and close the state file so ``state_path``
    can be reopened.

    Raises:
        RuntimeError: the server did not start within 30 s.
        ValueError: as ``create_app``.
    """
    app = create_app(state_path, token, **settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, access_log=False, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"highlevel-sandbox-{port}",
                              daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("HighLevel sandbox did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        app.state.sandbox.close()
        sock.close()
