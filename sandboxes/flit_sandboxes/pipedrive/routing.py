"""Operation table plumbing: one ``Operation`` per vendor operation the sandbox implements.

Each operation is declared with the OpenAPI document's own path template (``/persons/{id}``)
and its API version, which gives the sandbox route (``/api/v2/persons/{id}``), the token cost
(``x-token-cost``) and the validation target in one place. ``endpoint`` wraps a handler with
OpenAPI validation, JSON parsing and error rendering.

Also here: the two pagination styles (notes §3) shared by the handlers.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from flit_sandboxes.pipedrive.context import SandboxContext
from flit_sandboxes.pipedrive.errors import ApiError, bad_request, error_response, json_response
from flit_sandboxes.pipedrive.store import RecordQuery
from flit_sandboxes.pipedrive.validation import problems_error

logger = logging.getLogger("flit_sandboxes.pipedrive")

V2_DEFAULT_LIMIT = 100
V2_MAX_LIMIT = 500  # "Please note that a maximum value of 500 is allowed" (v2 spec `limit`).
V1_DEFAULT_LIMIT = 100
V1_MAX_LIMIT = 500  # UNCONFIRMED for v1 offset endpoints (notes §3); larger values are clamped.

Handler = Callable[["Call"], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    """One implemented vendor operation.

    Attributes:
        method: HTTP method, upper case.
        api: ``"v1"`` or ``"v2"``.
        spec_path: path template in that API's OpenAPI document (also the route's template).
        handler: coroutine ``handler(call) -> Response``.
        search: counts against the Search API burst limit.
        body: ``"json"`` (parsed and validated here), ``"form"`` (multipart or urlencoded; the
            handler parses and validates it) or ``"none"``.
    """

    method: str
    api: str
    spec_path: str
    handler: Handler
    search: bool = False
    body: str = "json"

    @property
    def path(self) -> str:
        """The sandbox route, e.g. ``/api/v2/persons/{id}``."""
        return f"/api/{self.api}{self.spec_path}"


@dataclass
class Call:
    """One request as handlers see it: the Starlette request, the app context and the parsed body."""

    request: Request
    ctx: SandboxContext
    op: Operation
    body: Any

    @property
    def query(self) -> QueryParams:
        return self.request.query_params

    def path_int(self, name: str = "id") -> int:
        """Integer path parameter (400 if it is not one; relevant when validation is off)."""
        raw = self.request.path_params.get(name, "")
        if not raw.isdigit():
            raise bad_request(f"path parameter '{name}' must be an integer")
        return int(raw)

    def query_int(self, name: str, default: int | None = None) -> int | None:
        """Integer query parameter or ``default``."""
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise bad_request(f"query parameter '{name}' must be an integer") from None

    def query_bool(self, name: str, default: bool = False) -> bool:
        """Boolean query parameter (``true``/``false``; v1 also uses ``1``/``0``)."""
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise bad_request(f"query parameter '{name}' must be a boolean")

    def query_csv(self, name: str) -> list[str] | None:
        """Comma-separated query parameter as a list of non-empty items, or None if absent."""
        raw = self.query.get(name)
        if raw is None:
            return None
        return [item.strip() for item in raw.split(",") if item.strip()]

    def body_object(self) -> dict[str, Any]:
        """The JSON body as an object (``{}`` when empty)."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise bad_request("request body must be a JSON object")
        return self.body


def endpoint(op: Operation) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``op.handler`` into a Starlette endpoint: validate, parse, run, render errors."""

    async def run(request: Request) -> Response:
        ctx: SandboxContext = request.app.state.sandbox
        try:
            body: Any = None
            if op.body == "json":
                raw = await request.body()
                if ctx.settings.validate:
                    problems = ctx.validators[op.api].validate(
                        op.method,
                        op.spec_path,
                        path_params=request.path_params,
                        query=request.query_params,
                        content_type=request.headers.get("content-type"),
                        body=raw,
                    )
                    if problems:
                        raise problems_error(problems)
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except (ValueError, UnicodeDecodeError):
                        raise bad_request("request body is not valid JSON") from None
            elif ctx.settings.validate:  # "none"/"form": parameters here, a form body in the handler
                problems = ctx.validators[op.api].validate(
                    op.method, op.spec_path, path_params=request.path_params, query=request.query_params,
                    check_body=False,
                )
                if problems:
                    raise problems_error(problems)
            return await op.handler(Call(request, ctx, op, body))
        except ApiError as error:
            return error_response(op.api, error)
        except Exception:  # a sandbox bug: answer like the vendor's 500 instead of a bare text page
            logger.exception("handler %s %s failed", op.method, op.path)
            return error_response(op.api, ApiError(500, "Internal server error"))

    run.__name__ = f"{op.method.lower()}_{op.api}_{op.spec_path.strip('/').replace('/', '_')}"
    return run


# ------------------------------------------------------------------- responses
def ok(data: Any, additional_data: Any = None, *, include_additional: bool = False) -> Response:
    """``{"success": true, "data": ...}`` (+ ``additional_data`` when given or asked for)."""
    payload: dict[str, Any] = {"success": True, "data": data}
    if additional_data is not None or include_additional:
        payload["additional_data"] = additional_data
    return json_response(payload)


# ------------------------------------------------------------------ pagination
def v2_page_size(call: Call) -> int:
    """``limit`` for v2 lists: default 100, 1..500 (400 outside; the vendor's out-of-range
    behaviour is UNCONFIRMED, rejecting makes client bugs visible)."""
    limit = call.query_int("limit", V2_DEFAULT_LIMIT)
    if limit is None or not 1 <= limit <= V2_MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {V2_MAX_LIMIT}")
    return limit


def encode_cursor(sort_by: str, direction: str, value: Any, last_id: int) -> str:
    """Opaque v2 cursor; same JSON-in-base64 layout as the vendor's example cursor."""
    payload = {"field": sort_by, "fieldValue": value, "sortDirection": direction, "id": last_id}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """Inverse of ``encode_cursor``. Raises ApiError(400) for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
            raise ValueError
        return payload
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request("cursor is invalid") from None


def apply_cursor(call: Call, query: RecordQuery, *, sort_keys: tuple[str, ...]) -> None:
    """Fill ``sort_by``/``descending``/``after``/``limit`` of ``query`` from v2 list parameters."""
    query.limit = v2_page_size(call)
    cursor = call.query.get("cursor")
    if cursor:
        payload = decode_cursor(cursor)
        sort_by, direction = payload.get("field"), payload.get("sortDirection")
        if sort_by not in sort_keys or direction not in ("asc", "desc"):
            raise bad_request("cursor is invalid")
        query.after = (payload.get("fieldValue"), payload["id"])
    else:
        sort_by = call.query.get("sort_by") or "id"
        direction = call.query.get("sort_direction") or "asc"
        if sort_by not in sort_keys:
            raise bad_request(f"sort_by must be one of: {', '.join(sort_keys)}")
        if direction not in ("asc", "desc"):
            raise bad_request("sort_direction must be asc or desc")
    query.sort_by = sort_by
    query.descending = direction == "desc"


def cursor_page(rows: list[dict[str, Any]], query: RecordQuery) -> tuple[list[dict[str, Any]], str | None]:
    """Split the ``limit + 1`` rows of a keyset query into the page and the next cursor."""
    page = rows[: query.limit]
    if len(rows) <= query.limit or not page:
        return page, None
    last = page[-1]
    value = last["id"] if query.sort_by == "id" else last.get(query.sort_by)
    if query.sort_by == "due_date":
        value = value or ""
    elif query.sort_by == "order_nr":
        value = value or 0
    return page, encode_cursor(query.sort_by, "desc" if query.descending else "asc", value, last["id"])


def offset_page_params(call: Call, *, max_limit: int = V1_MAX_LIMIT) -> tuple[int, int]:
    """``(start, limit)`` of a v1 list request (``limit`` clamped to ``max_limit``)."""
    start = call.query_int("start", 0) or 0
    limit = call.query_int("limit", V1_DEFAULT_LIMIT) or V1_DEFAULT_LIMIT
    if start < 0 or limit < 1:
        raise bad_request("start must be >= 0 and limit >= 1")
    return start, min(limit, max_limit)


def v1_pagination(start: int, limit: int, more: bool) -> dict[str, Any]:
    """v1 ``additional_data.pagination`` (notes §3)."""
    pagination: dict[str, Any] = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        pagination["next_start"] = start + limit
    return {"pagination": pagination}
