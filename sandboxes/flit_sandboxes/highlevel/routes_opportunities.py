"""Opportunity operations of spec:opportunities (``Version: 2021-07-28``; notes §4.8). Shapes,
checks and the duplicate rule: ``opportunities``.

| route | operationId | success |
| --- | --- | --- |
| GET /opportunities/pipelines?locationId= | get-pipelines | 200 ``{"pipelines": [...]}`` |
| GET /opportunities/search?location_id=&... | search-opportunity | 200 ``{"opportunities": [...], "meta": {...}}`` |
| POST /opportunities/ | create-opportunity | 201 ``{"opportunity": {...}}`` |
| POST /opportunities/upsert | Upsert-opportunity | 200 ``{"opportunity": {...}, "new": bool}`` |
| GET /opportunities/{id} | get-opportunity | 200 ``{"opportunity": {...}}`` |
| PUT /opportunities/{id} | update-opportunity | 200 ``{"opportunity": {...}}`` |
| DELETE /opportunities/{id} | delete-opportunity | 200 ``{"succeded": true}`` (sic, as contacts) |

Search (query names are snake_case as in the spec): ``location_id``* (403 if foreign),
``pipeline_id``, ``pipeline_stage_id``, ``contact_id``, ``assigned_to``, ``id``, ``status``
(``all`` = any), ``q`` (case-insensitive substring of the name or the contact's name/email/phone),
``date``/``endDate`` (``mm-dd-yyyy``, UTC day bounds on ``createdAt``; UNCONFIRMED semantics),
``order`` ``added_asc``/``added_desc`` (default ``added_desc``, UNCONFIRMED), ``limit`` (default
20, at most 100, else 422), ``page`` (default 1) or the cursor ``startAfter`` (``createdAt`` epoch
ms) + ``startAfterId`` taken from ``meta``; ``getNotes``/``getTasks``/``getCalendarEvents=true``
fill ``notes``/``tasks``/``calendarEvents`` from the contact. ``meta`` is
``SearchMetaResponseSchema``: ``{total, nextPageUrl, startAfterId, startAfter, currentPage,
nextPage, prevPage}``; ``startAfter``/``startAfterId`` are the last returned opportunity's,
``nextPage``/``nextPageUrl`` are null on the last page.

Upsert (``UpsertOpportunityDto``: ``pipelineId``, ``locationId``, ``followers``,
``isRemoveAllFollowers``, ``followersActionType`` are *required* by the spec): with ``id`` it
updates that opportunity (400 if unknown); otherwise it updates the ``contactId``'s opportunity in
the pipeline (``contactId`` is undeclared in the DTO but accepted, UNCONFIRMED) or creates one
(``name``, ``status`` and ``contactId`` then needed: 422). Followers: ``isRemoveAllFollowers``
clears them, then ``followers`` are added or removed per ``followersActionType``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.responses import Response

from flit_sandboxes.highlevel import calendars, opportunities
from flit_sandboxes.highlevel.clock import epoch_ms
from flit_sandboxes.highlevel.errors import json_response, unprocessable
from flit_sandboxes.highlevel.routing import Call, Operation

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
FILTERS = {"pipeline_id": "pipelineId", "pipeline_stage_id": "pipelineStageId", "contact_id": "contactId",
           "assigned_to": "assignedTo", "id": "id"}


async def list_pipelines(call: Call) -> Response:
    call.check_location(call.request.query_params.get("locationId"))
    return json_response({"pipelines": call.ctx.store.list(opportunities.PIPELINE)})


def _render(call: Call, opportunity: dict[str, Any]) -> dict[str, Any]:
    return opportunities.render(call.ctx.store, opportunity)


async def create_opportunity(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body["locationId"])
    created = opportunities.create(call.ctx.store, body,
                                   allow_duplicates=call.ctx.settings.allow_duplicate_opportunity)
    return json_response({"opportunity": _render(call, created)}, status=201)


async def get_opportunity(call: Call) -> Response:
    return json_response({"opportunity": _render(call, opportunities.get_or_400(call.ctx.store, call.path("id")))})


async def update_opportunity(call: Call) -> Response:
    store = call.ctx.store
    opportunity = opportunities.get_or_400(store, call.path("id"))
    return json_response({"opportunity": _render(call, opportunities.update(store, opportunity, call.body_object()))})


async def delete_opportunity(call: Call) -> Response:
    opportunity = opportunities.get_or_400(call.ctx.store, call.path("id"))
    call.ctx.store.delete(opportunities.KIND, opportunity["id"])
    return json_response({"succeded": True})


def _followers(current: list[str], body: dict[str, Any]) -> list[str]:
    followers = [] if body["isRemoveAllFollowers"] else list(current)
    if body["followersActionType"] == "add":
        return followers + [f for f in body["followers"] if f not in followers]
    return [f for f in followers if f not in body["followers"]]


async def upsert_opportunity(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body["locationId"])
    store, settings = call.ctx.store, call.ctx.settings
    existing = None
    if body.get("id"):
        existing = opportunities.get_or_400(store, body["id"])
    elif body.get("contactId") and not settings.allow_duplicate_opportunity:
        existing = opportunities.find_for_contact(store, body["contactId"], body["pipelineId"])
    if existing is None:
        missing = [name for name in ("name", "status", "contactId") if not body.get(name)]
        if missing:
            raise unprocessable([f"{name} is required to create an opportunity" for name in missing])
        fields = {key: value for key, value in body.items()
                  if key not in ("followers", "isRemoveAllFollowers", "followersActionType")}
        fields["followers"] = _followers([], body)
        created = opportunities.create(store, fields, allow_duplicates=settings.allow_duplicate_opportunity)
        return json_response({"opportunity": _render(call, created), "new": True})
    changes = {key: value for key, value in body.items() if key not in ("id", "locationId", "contactId")}
    existing["followers"] = _followers(existing.get("followers", []), body)
    updated = opportunities.update(store, existing, changes)
    return json_response({"opportunity": _render(call, updated), "new": False})


def _day_bound(text: str, *, end: bool) -> int:
    try:
        day = datetime.strptime(text, "%m-%d-%Y").replace(tzinfo=timezone.utc)
    except ValueError:
        raise unprocessable(["date and endDate must be mm-dd-yyyy"]) from None
    return int(((day + timedelta(days=1)) if end else day).timestamp() * 1000) - (1 if end else 0)


def _number(query: Any, name: str, default: int) -> int:
    raw = query.get(name)
    try:
        value = float(raw) if raw not in (None, "") else default
    except ValueError:
        raise unprocessable([f"{name} must be a number"]) from None
    if value != int(value):
        raise unprocessable([f"{name} must be an integer"])
    return int(value)


def _selected(call: Call, query: Any) -> list[dict[str, Any]]:
    store = call.ctx.store
    found = []
    for opportunity in store.list(opportunities.KIND):
        if any(query.get(name) and opportunity.get(key) != query[name] for name, key in FILTERS.items()):
            continue
        if query.get("status") not in (None, "", "all") and opportunity["status"] != query["status"]:
            continue
        created = epoch_ms(opportunity["createdAt"])
        if query.get("date") and created < _day_bound(query["date"], end=False):
            continue
        if query.get("endDate") and created > _day_bound(query["endDate"], end=True):
            continue
        rendered = _render(call, opportunity)
        if query.get("q"):
            needle = query["q"].lower()
            haystack = [rendered["name"]] + [rendered["contact"].get(k) for k in ("name", "email", "phone")]
            if not any(needle in str(text or "").lower() for text in haystack):
                continue
        found.append(rendered)
    return found


async def search_opportunities(call: Call) -> Response:
    query = call.request.query_params
    call.check_location(query.get("location_id"))
    limit, page = _number(query, "limit", DEFAULT_LIMIT), _number(query, "page", 1)
    if not 1 <= limit <= MAX_LIMIT or page < 1:
        raise unprocessable([f"limit must be between 1 and {MAX_LIMIT} and page >= 1"])
    descending = query.get("order", "added_desc") != "added_asc"
    found = sorted(_selected(call, query), key=lambda o: (epoch_ms(o["createdAt"]), o["id"]), reverse=descending)
    if query.get("startAfterId") or query.get("startAfter"):
        cursor = (_number(query, "startAfter", 0), query.get("startAfterId", ""))
        keys = [(epoch_ms(o["createdAt"]), o["id"]) for o in found]
        start = next((i for i, key in enumerate(keys) if (key < cursor if descending else key > cursor)), len(found))
    else:
        start = (page - 1) * limit
    selected = found[start:start + limit]
    current = start // limit + 1
    for opportunity in selected:
        _attach_activity(call, query, opportunity)
    more = start + limit < len(found)
    last = selected[-1] if selected else None
    after = {"startAfter": epoch_ms(last["createdAt"]), "startAfterId": last["id"]} if last else {}
    next_url = str(call.request.url.include_query_params(**after, page=current + 1)) if more and last else None
    meta = {"total": len(found), "nextPageUrl": next_url, "startAfterId": after.get("startAfterId"),
            "startAfter": after.get("startAfter"), "currentPage": current, "nextPage": current + 1 if more else None,
            "prevPage": current - 1 if current > 1 else None}
    return json_response({"opportunities": selected, "meta": meta})


def _attach_activity(call: Call, query: Any, opportunity: dict[str, Any]) -> None:
    store, contact_id = call.ctx.store, opportunity["contactId"]
    if query.get("getNotes", "").lower() == "true":
        opportunity["notes"] = store.list("note", parent=contact_id)
    if query.get("getTasks", "").lower() == "true":
        opportunity["tasks"] = store.list("task", parent=contact_id)
    if query.get("getCalendarEvents", "").lower() == "true":
        opportunity["calendarEvents"] = [calendars.event_view(e) for e in store.list(calendars.EVENT)
                                         if e["contactId"] == contact_id]


def operations() -> list[Operation]:
    """Opportunity operations, literal paths before templated ones."""
    spec = "opportunities"
    return [
        Operation("GET", spec, "/opportunities/pipelines", list_pipelines, "get-pipelines"),
        Operation("GET", spec, "/opportunities/search", search_opportunities, "search-opportunity"),
        Operation("POST", spec, "/opportunities/", create_opportunity, "create-opportunity"),
        Operation("POST", spec, "/opportunities/upsert", upsert_opportunity, "Upsert-opportunity"),
        Operation("GET", spec, "/opportunities/{id}", get_opportunity, "get-opportunity"),
        Operation("PUT", spec, "/opportunities/{id}", update_opportunity, "update-opportunity"),
        Operation("DELETE", spec, "/opportunities/{id}", delete_opportunity, "delete-opportunity"),
    ]
