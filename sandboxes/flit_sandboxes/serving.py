"""Serving any sandbox app: in the foreground (CLI) or in a background thread (tests).

Every sandbox app keeps its state object at ``app.state.sandbox`` with a ``close()`` method.
uvicorn's access log stays off everywhere: query strings carry search terms, location IDs and
possibly tokens; each sandbox logs method, route template, status and duration itself.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

STARTUP_TIMEOUT_SECONDS = 30.0
# Idle keep-alive connections stay open this long (the vendors' edges keep them a minute or more;
# uvicorn's default 5 s made a client's idle pooled connection race the server's close, a reset that
# the injected faults, not the emulator's own plumbing, should produce).
KEEP_ALIVE_SECONDS = 75


def assemble_app(ctx: Any, routes: Sequence[BaseRoute], *, gateway: type, gateway_options: dict[str, Any],
                 http_error: Callable) -> Starlette:
    """A sandbox app: ``routes`` behind the vendor's ``gateway`` middleware (auth, faults, limits),
    HTTP errors in the vendor's body shape, ``ctx`` (the sandbox state) at ``app.state.sandbox`` and
    closed on shutdown."""

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        ctx.close()

    app = Starlette(
        routes=list(routes),
        middleware=[Middleware(gateway, ctx=ctx, **gateway_options)],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.sandbox = ctx
    return app


def serve_app(app: Starlette, *, name: str, port: int, host: str = "127.0.0.1") -> None:
    """Run ``app`` with uvicorn in the foreground until interrupted (Ctrl-C / SIGTERM).

    ``name`` (``"pipedrive"``, ``"highlevel"``) labels the request log lines of logger
    ``flit_sandboxes.<name>``; keep ``host`` on the loopback unless the demo needs otherwise.
    """
    request_log = logging.getLogger(f"flit_sandboxes.{name}")
    request_log.setLevel(logging.INFO)
    if not request_log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(f"%(asctime)s {name}-sandbox %(message)s"))
        request_log.addHandler(handler)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info", timeout_graceful_shutdown=5,
                timeout_keep_alive=KEEP_ALIVE_SECONDS)


@contextmanager
def running_app(app: Starlette, *, name: str) -> Iterator[str]:
    """Serve ``app`` from a daemon thread on a free loopback port; yield ``"http://127.0.0.1:PORT"``.

    On exit the server stops and ``app.state.sandbox`` is closed, so its state file can be reopened.

    Raises:
        RuntimeError: the server did not start within 30 s.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, access_log=False, log_level="warning", lifespan="on", timeout_graceful_shutdown=5,
                            timeout_keep_alive=KEEP_ALIVE_SECONDS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"{name}-sandbox-{port}",
                              daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{name} sandbox did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        app.state.sandbox.close()
        sock.close()
