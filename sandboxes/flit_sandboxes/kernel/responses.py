"""Response helpers shared by every sandbox: JSON encoding, reason phrases and raw ASGI sends.

``send_body`` and ``drop_connection`` work below Starlette (the gateway answers before any route
runs); ``json_response`` is for route handlers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Send

Headers = Sequence[tuple[bytes, bytes]]


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON, as the vendor APIs send it."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with ``application/json`` content type."""
    return Response(dumps(payload), status_code=status, media_type="application/json", headers=headers)


def phrase(status: int) -> str:
    """The HTTP reason phrase of ``status`` ("Error" for codes ``http.HTTPStatus`` does not know)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@dataclass(frozen=True)
class Reply:
    """A complete answer the gateway sends itself (401, 429, injected fault, ...).

    ``body`` is the encoded bytes; ``headers`` come after content-type and content-length.
    """

    status: int
    body: bytes
    headers: Headers = ()
    content_type: bytes = b"application/json"

    @classmethod
    def json(cls, status: int, payload: Any, headers: Headers = ()) -> Reply:
        """A JSON reply (``dumps(payload)``)."""
        return cls(status, dumps(payload), headers)

    async def send(self, send: Send) -> None:
        """Send it as the whole response."""
        await send_body(send, self.status, self.body, self.headers, content_type=self.content_type)


async def send_body(send: Send, status: int, body: bytes, headers: Headers = (), *,
                    content_type: bytes = b"application/json") -> None:
    """Send a complete response: status, content-type, content-length, ``headers``, then ``body``."""
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *headers],
    })
    await send({"type": "http.response.body", "body": body})


async def drop_connection(receive: Receive) -> None:
    """Close the client's TCP connection without sending a response.

    ASGI has no "abort" message, so this reaches uvicorn's per-request cycle object (the owner
    of the bound ``receive``) for its transport, closes it and marks the cycle disconnected so
    uvicorn does not try to send a 500.

    Raises:
        ConnectionAbortedError: not running under uvicorn (still no valid response for the client).
    """
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("sandbox fault: drop_connection is only supported under uvicorn")
    transport.close()
    if cycle is not None and hasattr(cycle, "disconnected"):
        cycle.disconnected = True
    await asyncio.sleep(0)
