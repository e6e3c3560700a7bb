"""v2 routes: CRUD of persons, organizations, deals, activities, pipelines, stages, and the
person/organization/deal/activity field definitions (notes/pipedrive.md §3, §4, §4.9).

List endpoints use cursor pagination (``limit`` ≤ 500, ``additional_data.next_cursor`` null on
the last page). Deletes are soft: the record gets ``is_deleted: true``, disappears from lists,
and GET by id answers the documented v2 404 (UNCONFIRMED: the vendor might instead return the
entity with ``is_deleted: true``, notes §7 item 6).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from flit_sandboxes.pipedrive.clock import now_v2, parse_rfc3339
from flit_sandboxes.pipedrive.custom_fields import FIELD_ROUTES, render_field_v2
from flit_sandboxes.pipedrive.entities import ENTITY_TYPES, EntityType, RenderOptions
from flit_sandboxes.pipedrive.errors import bad_request, not_found
from flit_sandboxes.pipedrive.routing import (
    Call,
    Operation,
    apply_cursor,
    cursor_page,
    decode_cursor,
    encode_cursor,
    ok,
    v2_page_size,
)
from flit_sandboxes.pipedrive.store import RecordQuery

MAX_IDS = 100  # `ids` filter: "up to 100 entity ids" (v2 spec).
MAX_CUSTOM_FIELD_KEYS = 15  # `custom_fields` filter: "A maximum of 15 keys is allowed" (v2 spec).
FIELD_NAMESPACES = ("ui_visibility", "important_fields", "required_fields")


def render_options(call: Call) -> RenderOptions:
    """Rendering switches from ``custom_fields``, ``include_option_labels``, ``include_fields``."""
    keys = call.query_csv("custom_fields")
    if keys is not None and len(keys) > MAX_CUSTOM_FIELD_KEYS:
        raise bad_request(f"custom_fields accepts at most {MAX_CUSTOM_FIELD_KEYS} keys")
    return RenderOptions(
        custom_keys=tuple(keys) if keys is not None else None,
        option_labels=call.query_bool("include_option_labels"),
        include_fields=tuple(call.query_csv("include_fields") or ()),
    )


def _ids_filter(call: Call) -> list[int] | None:
    items = call.query_csv("ids")
    if items is None:
        return None
    if len(items) > MAX_IDS:
        raise bad_request(f"ids accepts at most {MAX_IDS} ids")
    if not all(item.isdigit() for item in items):
        raise bad_request("ids must be a comma-separated list of integers")
    return [int(item) for item in items]


def _time_filter(call: Call, name: str) -> str | None:
    raw = call.query.get(name)
    if not raw:
        return None
    try:
        return parse_rfc3339(raw)
    except ValueError:
        raise bad_request(f"{name} must be an RFC 3339 timestamp, e.g. 2025-01-01T10:20:00Z") from None


def _deal_status_filter(call: Call, query: RecordQuery) -> None:
    statuses = call.query_csv("status")
    if not statuses:
        return
    if set(statuses) - {"open", "won", "lost", "deleted"}:
        raise bad_request("status must be a comma-separated list of open, won, lost, deleted")
    live = [status for status in statuses if status != "deleted"]
    if "deleted" in statuses and not live:
        query.only_deleted = True
    else:
        query.include_deleted = "deleted" in statuses
        query.status_in = live


def _list_query(call: Call, entity: EntityType) -> RecordQuery:
    query = RecordQuery(
        ids=_ids_filter(call),
        updated_since=_time_filter(call, "updated_since"),
        updated_until=_time_filter(call, "updated_until"),
    )
    for column in entity.column_filters:
        value = call.query_int(column)
        if value is not None:
            query.equals[column] = value
    deal_id = call.query_int("deal_id") if entity.kind == "person" else None
    if deal_id is not None:
        deal = call.ctx.store.get_record("deal", deal_id)
        linked = [deal["person_id"]] if deal and deal.get("person_id") else []
        query.ids = [i for i in linked if query.ids is None or i in query.ids]
    if entity.kind == "activity":
        if call.query.get("done") is not None:
            query.json_equals["$.done"] = call.query_bool("done")
        if call.query.get("lead_id"):
            query.json_equals["$.lead_id"] = call.query["lead_id"]
    if entity.kind == "deal":
        _deal_status_filter(call, query)
    apply_cursor(call, query, sort_keys=entity.sort_keys)
    return query


def _load(call: Call, entity: EntityType) -> dict[str, Any]:
    doc = call.ctx.store.get_record(entity.kind, call.path_int("id"))
    if doc is None:
        raise not_found()
    return doc


def crud_operations(entity: EntityType) -> list[Operation]:
    """GET list, POST, GET by id, PATCH, DELETE for one v2 collection."""
    base = f"/{entity.collection}"

    async def list_items(call: Call, archived: bool = False) -> Response:
        query = _list_query(call, entity)
        if entity.kind == "deal":
            # Archived deals are not returned by GET /deals since 2025-07-15 (notes §4.4).
            query.json_equals["$.is_archived"] = archived
        page, next_cursor = cursor_page(call.ctx.store.list_records(entity.kind, query), query)
        options = render_options(call)
        return ok([entity.render(call.ctx, doc, options) for doc in page], {"next_cursor": next_cursor})

    async def get_item(call: Call) -> Response:
        return ok(entity.render(call.ctx, _load(call, entity), render_options(call)))

    async def create_item(call: Call) -> Response:
        return ok(entity.render(call.ctx, entity.create(call.ctx, call.body_object())))

    async def update_item(call: Call) -> Response:
        doc = entity.update(call.ctx, _load(call, entity), call.body_object())
        return ok(entity.render(call.ctx, doc))

    async def delete_item(call: Call) -> Response:
        doc = _load(call, entity)
        doc["is_deleted"] = True
        doc["update_time"] = now_v2()
        call.ctx.store.update_record(entity.kind, doc)
        return ok({"id": doc["id"]})

    operations = [
        Operation("GET", "v2", base, list_items, body="none"),
        Operation("POST", "v2", base, create_item),
        Operation("GET", "v2", f"{base}/{{id}}", get_item, body="none"),
        Operation("PATCH", "v2", f"{base}/{{id}}", update_item),
        Operation("DELETE", "v2", f"{base}/{{id}}", delete_item, body="none"),
    ]
    if entity.kind == "deal":
        async def list_archived(call: Call) -> Response:
            return await list_items(call, archived=True)

        operations.insert(0, Operation("GET", "v2", "/deals/archived", list_archived, body="none"))
    return operations


# -------------------------------------------------------------------------- fields
def field_operations(route: str, entity: str) -> list[Operation]:
    """v2 ``/{route}`` field endpoints (``personFields`` ...); activityFields are read-only."""

    async def list_fields(call: Call) -> Response:
        include = call.query_csv("include_fields") or ()
        limit = v2_page_size(call)
        cursor = call.query.get("cursor")
        start = decode_cursor(cursor)["id"] if cursor else 0
        definitions = call.ctx.fields.list(entity)
        page = definitions[start:start + limit]
        more = start + limit < len(definitions)
        next_cursor = encode_cursor("id", "asc", None, start + limit) if more else None
        return ok([render_field_v2(item, include) for item in page], {"next_cursor": next_cursor})

    async def get_field(call: Call) -> Response:
        definition = call.ctx.fields.get(entity, call.request.path_params["field_code"])
        if definition is None:
            raise not_found()
        return ok(render_field_v2(definition, call.query_csv("include_fields") or ()))

    async def create_field(call: Call) -> Response:
        body = call.body_object()
        visibility = body.get("ui_visibility") if isinstance(body.get("ui_visibility"), dict) else {}
        definition = call.ctx.fields.create(
            entity,
            name=body.get("field_name"),
            field_type=body.get("field_type"),
            options=body.get("options"),
            add_visible_flag=visibility.get("add_visible_flag", False) is True,
            description=body.get("description") if isinstance(body.get("description"), str) else None,
        )
        return ok(render_field_v2(definition, FIELD_NAMESPACES))

    async def add_options(call: Call) -> Response:
        added = call.ctx.fields.add_options(entity, call.request.path_params["field_code"], call.body)
        return ok(added, include_additional=True)

    operations = [
        Operation("GET", "v2", f"/{route}", list_fields, body="none"),
        Operation("GET", "v2", f"/{route}/{{field_code}}", get_field, body="none"),
    ]
    if entity != "activity":
        operations += [
            Operation("POST", "v2", f"/{route}", create_field),
            Operation("POST", "v2", f"/{route}/{{field_code}}/options", add_options),
        ]
    return operations


def operations() -> list[Operation]:
    """Every v2 CRUD and field operation, in route-matching order."""
    out: list[Operation] = []
    for entity in ENTITY_TYPES.values():
        out += crud_operations(entity)
    for route, entity in FIELD_ROUTES.items():
        out += field_operations(route, entity)
    return out
