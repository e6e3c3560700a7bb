"""Small helpers shared by the ``routes_*`` modules: the route table, JSON bodies, errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flit_sandboxes.kernel.responses import json_response
from flit_sandboxes.salesforce.context import SalesforceContext
from flit_sandboxes.salesforce.errors import SfError, json_parser_error
from flit_sandboxes.salesforce.gateway import Operation

API = "/services/data/v{version}"
Handler = Callable[[Request], Awaitable[Response]]


def ctx_of(request: Request) -> SalesforceContext:
    """The app's ``SalesforceContext``."""
    return request.app.state.sandbox


def handled(handler: Handler) -> Handler:
    """Answer ``SfError`` with its Salesforce body."""

    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except SfError as error:
            return error.response()

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


def table(*entries: tuple[str, str, Handler]) -> tuple[list[Route], list[Operation]]:
    """Starlette routes and kernel operations from ``(method, path, handler)`` entries."""
    routes = [Route(path, handled(handler), methods=[method]) for method, path, handler in entries]
    return routes, [Operation(method, path) for method, path, _ in entries]


async def json_body(request: Request, *, limit: int | None = None) -> Any:
    """The request's JSON body; 400 ``JSON_PARSER_ERROR`` when it is not JSON (or too large)."""
    raw = await request.body()
    if limit is not None and len(raw) > limit:
        raise SfError(400, "EXCEEDED_MAX_SIZE_REQUEST", f"Maximum size of request reached. Maximum size of request "
                                                        f"is {limit} bytes.")
    if not raw.strip():
        raise json_parser_error("No content to map due to end-of-input at [line:1, column:0]")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        line, column = getattr(error, "lineno", 1), getattr(error, "colno", 1)
        raise json_parser_error(f"Unexpected character in the request body at [line:{line}, column:{column}]") from None


def no_content() -> Response:
    """204 No Content."""
    return Response(status_code=204)


__all__ = ["API", "ctx_of", "handled", "json_body", "json_response", "no_content", "table"]
