"""Contact operations of spec:contacts (``Version: 2021-07-28``; notes §4.1).

| route | operationId | success |
| --- | --- | --- |
| POST /contacts/ | create-contact | 201 ``{"contact": {...}}`` |
| GET /contacts/{contactId} | get-contact | 200 ``{"contact": {...}}`` |
| PUT /contacts/{contactId} | update-contact | 200 ``{"succeded": true, "contact": {...}}`` (sic) |
| DELETE /contacts/{contactId} | delete-contact | 200 ``{"succeded": true}`` (sic) |
| POST /contacts/upsert | upsert-contact | 200 ``{"new": bool, "contact": {...}, "traceId"}`` |
| GET /contacts/search/duplicate?locationId=&email=&number= | get-duplicate-contact | 200 ``{"contact": ...}`` |
| POST /contacts/search | search-contacts-advanced | 200 ``{"contacts": [...], "total": n}`` |
| POST /contacts/{contactId}/tags | add-tags | 201 ``{"tags": [...]}`` |
| DELETE /contacts/{contactId}/tags | remove-tags | 200 ``{"tags": [...]}`` |

The duplicate lookup's response is unspecified in the spec; ``{"contact": ... | null}`` is what
integrators read (UNCONFIRMED). It checks email first, then phone (spec description for
locations allowing duplicates; the sandbox uses the configured priority either way).

Errors: 400 unknown contact (``"Contact with id … not found"``), 400 duplicate (``contacts``),
403 foreign ``locationId``, 422 validation (``routing``).
"""

from __future__ import annotations

from starlette.responses import Response

import uuid

from flit_sandboxes.highlevel import contacts, search
from flit_sandboxes.highlevel.errors import json_response
from flit_sandboxes.highlevel.routing import Call, Operation


async def create_contact(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body.get("locationId"))
    settings = call.ctx.settings
    contact = contacts.create(call.ctx.store, body, allow_duplicates=settings.allow_duplicate_contact,
                              priority=settings.duplicate_priority)
    return json_response({"contact": contacts.render(contact)}, status=201)


async def upsert_contact(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body.get("locationId"))
    settings = call.ctx.settings
    contact, created = contacts.upsert(call.ctx.store, body, allow_duplicates=settings.allow_duplicate_contact,
                                       priority=settings.duplicate_priority)
    return json_response({"new": created, "contact": contacts.render(contact), "traceId": str(uuid.uuid4())})


async def find_duplicate(call: Call) -> Response:
    query = call.request.query_params
    call.check_location(query.get("locationId"))
    probe = {"email": query.get("email"), "phone": query.get("number")}
    found = contacts.find_duplicate(call.ctx.store, probe, call.ctx.settings.duplicate_priority)
    return json_response({"contact": contacts.render(found[0]) if found else None})


async def get_contact(call: Call) -> Response:
    contact = contacts.get_or_400(call.ctx.store, call.path("contactId"))
    return json_response({"contact": contacts.render(contact)})


async def update_contact(call: Call) -> Response:
    contact = contacts.get_or_400(call.ctx.store, call.path("contactId"))
    contact = contacts.update(call.ctx.store, contact, call.body_object())
    return json_response({"succeded": True, "contact": contacts.render(contact)})


async def delete_contact(call: Call) -> Response:
    store = call.ctx.store
    contact = contacts.get_or_400(store, call.path("contactId"))
    store.delete(contacts.KIND, contact["id"])
    for kind in ("note", "task"):
        store.delete_children(kind, contact["id"])
    return json_response({"succeded": True})


async def search_contacts(call: Call) -> Response:
    request = search.parse_request(call.body_object())
    call.check_location(request["locationId"])
    rendered = [contacts.render(contact) for contact in call.ctx.store.list(contacts.KIND)]
    page, total = search.run(rendered, request)
    return json_response({"contacts": page, "total": total})


async def add_tags(call: Call) -> Response:
    store = call.ctx.store
    contact = contacts.get_or_400(store, call.path("contactId"))
    tags = list(contact.get("tags", []))
    tags.extend(tag for tag in call.body_object()["tags"] if tag not in tags)
    contacts.update(store, contact, {"tags": tags})
    return json_response({"tags": tags}, status=201)


async def remove_tags(call: Call) -> Response:
    store = call.ctx.store
    contact = contacts.get_or_400(store, call.path("contactId"))
    removed = set(call.body_object()["tags"])
    tags = [tag for tag in contact.get("tags", []) if tag not in removed]
    contacts.update(store, contact, {"tags": tags})
    return json_response({"tags": tags})


def operations() -> list[Operation]:
    """Contact operations, literal paths before templated ones."""
    return [
        Operation("POST", "contacts", "/contacts/", create_contact, "create-contact"),
        Operation("POST", "contacts", "/contacts/upsert", upsert_contact, "upsert-contact"),
        Operation("GET", "contacts", "/contacts/search/duplicate", find_duplicate, "get-duplicate-contact"),
        Operation("POST", "contacts", "/contacts/search", search_contacts, "search-contacts-advanced"),
        Operation("POST", "contacts", "/contacts/{contactId}/tags", add_tags, "add-tags"),
        Operation("DELETE", "contacts", "/contacts/{contactId}/tags", remove_tags, "remove-tags"),
        Operation("GET", "contacts", "/contacts/{contactId}", get_contact, "get-contact"),
        Operation("PUT", "contacts", "/contacts/{contactId}", update_contact, "update-contact"),
        Operation("DELETE", "contacts", "/contacts/{contactId}", delete_contact, "delete-contact"),
    ]
