"""v2 search: persons/search, organizations/search, itemSearch/field (notes §4.1, §6, §7 item 11).

These count against the separate Search API burst limit (10 requests / 2 s, notes §8).

- ``persons/search``: ``term`` (≥ 2 chars, 1 with ``exact_match``), ``fields`` among
  custom_fields, email, notes, phone, name (default all), ``exact_match`` is case-insensitive.
  Items carry ``emails``/``phones`` as plain strings and a ``result_score``. Non-exact matching
  is a case-insensitive substring match (the vendor's relevance ranking is not reproduced).
- ``itemSearch/field``: exact/beginning/middle match, **case-sensitive**, only on searchable
  field types. Items are ``{"id", "name", "<field key>": value}``: the shape of the examples of
  both the v1 and v2 documents and of the v1 schema. UNCONFIRMED: the v2 schema instead
  describes ``{result_score, item}``; a client should accept either.

All three page with an opaque cursor over the ordered result list.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from flit_sandboxes.pipedrive.custom_fields import SEARCHABLE_TYPES
from flit_sandboxes.pipedrive.errors import bad_request
from flit_sandboxes.pipedrive.routing import Call, Operation, decode_cursor, encode_cursor, ok, v2_page_size

PERSON_SEARCH_FIELDS = ("custom_fields", "email", "notes", "phone", "name")
ORGANIZATION_SEARCH_FIELDS = ("address", "custom_fields", "notes", "name")
ITEM_SEARCH_STANDARD = {
    "person": {"name": "name", "email": "emails", "phone": "phones"},
    "organization": {"name": "name", "address": "address"},
    "deal": {"title": "title"},
}
ITEM_SEARCH_KINDS = {"person": "person", "organization": "organization", "deal": "deal"}


def _paginate(call: Call, results: list[Any]) -> tuple[list[Any], str | None]:
    limit = v2_page_size(call)
    cursor = call.query.get("cursor")
    start = decode_cursor(cursor)["id"] if cursor else 0
    page = results[start:start + limit]
    more = start + limit < len(results)
    return page, encode_cursor("offset", "asc", None, start + limit) if more else None


def _term(call: Call, exact: bool) -> str:
    term = call.query.get("term") or ""
    if len(term.strip()) < (1 if exact else 2):
        raise bad_request("term must be at least 2 characters long (1 with exact match)")
    return term.strip()


def _fields(call: Call, allowed: tuple[str, ...]) -> tuple[str, ...]:
    fields = call.query_csv("fields")
    if not fields:
        return allowed
    if set(fields) - set(allowed):
        raise bad_request(f"fields must be a comma-separated list of: {', '.join(allowed)}")
    return tuple(fields)


def _matches(value: Any, term: str, exact: bool) -> bool:
    if value is None:
        return False
    text = str(value["value"] if isinstance(value, dict) and "value" in value else value).lower()
    return text == term if exact else term in text


def _searchable_custom_values(call: Call, entity: str, doc: dict[str, Any]) -> list[tuple[str, Any]]:
    values = doc.get("custom_fields") or {}
    return [
        (definition["key"], values[definition["key"]])
        for definition in call.ctx.fields.custom(entity)
        if definition["field_type"] in SEARCHABLE_TYPES and values.get(definition["key"]) is not None
    ]


def _organization_ref(call: Call, org_id: int | None) -> dict[str, Any] | None:
    if not org_id:
        return None
    org = call.ctx.store.get_record("organization", org_id)
    if org is None:
        return None
    address = (org.get("address") or {}).get("value")
    return {"id": org["id"], "name": org["name"], "address": address}


async def search_persons(call: Call) -> Response:
    """GET /api/v2/persons/search (operationId searchPersons, cost 20)."""
    exact = call.query_bool("exact_match")
    term = _term(call, exact)
    fields = _fields(call, PERSON_SEARCH_FIELDS)
    org_filter = call.query_int("organization_id")
    needle = term.lower()
    results: list[dict[str, Any]] = []
    for doc in call.ctx.store.scan_records("person", contains=needle):
        if org_filter is not None and doc.get("org_id") != org_filter:
            continue
        matched_custom: list[str] = []
        candidates: list[Any] = []
        if "name" in fields:
            candidates.append(doc.get("name"))
        if "email" in fields:
            candidates += [item["value"] for item in doc.get("emails") or []]
        if "phone" in fields:
            candidates += [item["value"] for item in doc.get("phones") or []]
        if "notes" in fields:
            candidates.append(doc.get("notes"))
        hit = any(_matches(value, needle, exact) for value in candidates)
        hit_exact = any(_matches(value, needle, True) for value in candidates)
        if "custom_fields" in fields:
            for _key, value in _searchable_custom_values(call, "person", doc):
                if _matches(value, needle, exact):
                    hit = True
                    hit_exact = hit_exact or _matches(value, needle, True)
                    matched_custom.append(str(value["value"] if isinstance(value, dict) else value))
        if not hit:
            continue
        results.append({
            "result_score": 1.0 if hit_exact else 0.5,
            "item": {
                "id": doc["id"],
                "type": "person",
                "name": doc.get("name"),
                "phones": [item["value"] for item in doc.get("phones") or []],
                "emails": [item["value"] for item in doc.get("emails") or []],
                "visible_to": doc.get("visible_to"),
                "owner": {"id": doc.get("owner_id")},
                "organization": _organization_ref(call, doc.get("org_id")),
                "custom_fields": matched_custom,
                "notes": [doc["notes"]] if "notes" in fields and _matches(doc.get("notes"), needle, exact) else [],
            },
        })
    results.sort(key=lambda item: (-item["result_score"], item["item"]["id"]))
    page, next_cursor = _paginate(call, results)
    return ok({"items": page}, {"next_cursor": next_cursor})


async def search_organizations(call: Call) -> Response:
    """GET /api/v2/organizations/search (operationId searchOrganization, cost 20)."""
    exact = call.query_bool("exact_match")
    term = _term(call, exact)
    fields = _fields(call, ORGANIZATION_SEARCH_FIELDS)
    needle = term.lower()
    results: list[dict[str, Any]] = []
    for doc in call.ctx.store.scan_records("organization", contains=needle):
        candidates: list[Any] = []
        if "name" in fields:
            candidates.append(doc.get("name"))
        if "address" in fields:
            candidates.append(doc.get("address"))
        custom_values = _searchable_custom_values(call, "organization", doc) if "custom_fields" in fields else []
        matched_custom = [
            str(value["value"] if isinstance(value, dict) else value)
            for _key, value in custom_values
            if _matches(value, needle, exact)
        ]
        if not matched_custom and not any(_matches(value, needle, exact) for value in candidates):
            continue
        hit_exact = any(_matches(value, needle, True) for value in candidates)
        results.append({
            "result_score": 1.0 if hit_exact else 0.5,
            "item": {
                "id": doc["id"],
                "type": "organization",
                "name": doc.get("name"),
                "address": (doc.get("address") or {}).get("value"),
                "visible_to": doc.get("visible_to"),
                "owner": {"id": doc.get("owner_id")},
                "custom_fields": matched_custom,
                "notes": [],
            },
        })
    results.sort(key=lambda item: (-item["result_score"], item["item"]["id"]))
    page, next_cursor = _paginate(call, results)
    return ok({"items": page}, {"next_cursor": next_cursor})


async def search_by_field(call: Call) -> Response:
    """GET /api/v2/itemSearch/field (operationId searchItemByField, cost 20)."""
    entity_type = call.query.get("entity_type") or ""
    field = call.query.get("field") or ""
    match = call.query.get("match") or "exact"
    if match not in ("exact", "beginning", "middle"):
        raise bad_request("match must be one of exact, beginning, middle")
    term = call.query.get("term") or ""
    if len(term) < (1 if match == "exact" else 2):
        raise bad_request("term must be at least 2 characters long (1 with exact match)")
    kind = ITEM_SEARCH_KINDS.get(entity_type)
    if kind is None:
        if entity_type in ("lead", "product", "project"):
            page, next_cursor = _paginate(call, [])
            return ok(page, {"next_cursor": next_cursor})
        raise bad_request("entity_type must be one of deal, lead, person, organization, product, project")
    standard = ITEM_SEARCH_STANDARD[kind].get(field)
    definition = call.ctx.fields.get(kind, field)
    if standard is None:
        if definition is None or not definition["is_custom"]:
            raise bad_request("field must be the key of a searchable field of the entity type")
        if definition["field_type"] not in SEARCHABLE_TYPES:
            raise bad_request("fields of this type are not searchable")

    def hit(value: Any) -> bool:  # case-sensitive, per the v2 spec's `match` description
        if value is None:
            return False
        text = str(value["value"] if isinstance(value, dict) and "value" in value else value)
        if match == "exact":
            return text == term
        if match == "beginning":
            return text.startswith(term)
        return term in text

    results = []
    for doc in call.ctx.store.scan_records(kind, contains=term):
        if standard is not None:
            raw = doc.get(standard)
            values = [item["value"] for item in raw] if isinstance(raw, list) else [raw]
        else:
            values = [(doc.get("custom_fields") or {}).get(field)]
        found = next((value for value in values if hit(value)), None)
        if found is None:
            continue
        results.append({"id": doc["id"], "name": doc.get("title" if kind == "deal" else "name"), field: found})
    page, next_cursor = _paginate(call, results)
    return ok(page, {"next_cursor": next_cursor})


def operations() -> list[Operation]:
    """Search operations; registered before ``/{collection}/{id}`` so ``search`` is not an id."""
    return [
        Operation("GET", "v2", "/persons/search", search_persons, search=True, body="none"),
        Operation("GET", "v2", "/organizations/search", search_organizations, search=True, body="none"),
        Operation("GET", "v2", "/itemSearch/field", search_by_field, search=True, body="none"),
    ]
