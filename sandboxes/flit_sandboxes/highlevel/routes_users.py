"""User operations of spec:users (``Version: 2021-07-28``; notes §4.2). Users are seeded through
``create_app(users=...)``; deleted users are never listed.

| route | operationId | success |
| --- | --- | --- |
| GET /users/?locationId= | get-user-by-location | 200 ``{"users": [...]}`` (deprecated upstream) |
| GET /users/search?companyId*&locationId&query&skip&limit&... | search-users | 200 ``{"users": [...], "count": n}`` |

Search (Agency or Location access): ``companyId`` must be the sandbox's ``company_id`` and
``locationId`` (optional) its location, else 403 (UNCONFIRMED for companyId). ``query`` matches
the full name, email or phone (case-insensitive substring); ``type`` (``account``), ``role``
and ``ids`` (comma-separated) filter; default order is first then last name ("Default is based
on the first and last name"), ``sort`` names another user property, ``sortDirection`` ``asc``/
``desc``. ``skip``/``limit`` are strings (defaults 0/25; non-numeric -> 422). ``count`` is the
number of matches before paging (UNCONFIRMED; the spec example is 1231).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from flit_sandboxes.highlevel.errors import forbidden_location, json_response, unprocessable
from flit_sandboxes.highlevel.routing import Call, Operation

DEFAULT_LIMIT = 25


def _active_users(call: Call) -> list[dict[str, Any]]:
    return [user for user in call.ctx.store.list("user") if not user.get("deleted")]


async def list_users(call: Call) -> Response:
    call.check_location(call.request.query_params.get("locationId"))
    return json_response({"users": _active_users(call)})


def _matches(user: dict[str, Any], query: dict[str, str]) -> bool:
    needle = query.get("query", "").lower()
    if needle and not any(needle in str(user.get(key) or "").lower() for key in ("name", "email", "phone")):
        return False
    if query.get("type") and user["roles"].get("type") != query["type"]:
        return False
    if query.get("role") and user["roles"].get("role") != query["role"]:
        return False
    ids = {item.strip() for item in query.get("ids", "").split(",") if item.strip()}
    return not ids or user["id"] in ids


async def search_users(call: Call) -> Response:
    query = dict(call.request.query_params)
    if query["companyId"] != call.ctx.settings.company_id:
        raise forbidden_location()
    if query.get("locationId"):
        call.check_location(query["locationId"])
    try:
        skip, limit = int(query.get("skip") or 0), int(query.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        raise unprocessable(["skip and limit must be numeric strings"]) from None
    if skip < 0 or limit < 1:
        raise unprocessable(["skip must be >= 0 and limit >= 1"])
    users = [user for user in _active_users(call) if _matches(user, query)]
    sort = query.get("sort")
    users.sort(key=lambda u: str(u.get(sort) or "").lower() if sort else
               (u.get("firstName", "").lower(), u.get("lastName", "").lower()),
               reverse=query.get("sortDirection", "asc").lower() == "desc")
    return json_response({"users": users[skip:skip + limit], "count": len(users)})


def operations() -> list[Operation]:
    """User operations, literal paths first."""
    return [
        Operation("GET", "users", "/users/search", search_users, "search-users"),
        Operation("GET", "users", "/users/", list_users, "get-user-by-location"),
    ]
