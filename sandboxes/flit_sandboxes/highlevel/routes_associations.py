"""Associations and relations of spec:associations (``Version: 2021-07-28``; notes §4.5).

- POST /associations/ (create-association) -> 201 ``{locationId, id, key, firstObjectLabel,
  firstObjectKey, secondObjectLabel, secondObjectKey, associationType: "USER_DEFINED"}``
- GET /associations/key/{key_name}?locationId= (get-association-key-by-key-name) -> 200 the association
- POST /associations/relations (create-relation) -> 201
  ``{id, associationId, firstRecordId, secondRecordId, locationId}``
- GET /associations/relations/{recordId}?locationId=&skip=&limit=[&associationIds=]
  (get-relations-by-record-id) -> 200 ``{"relations": [...], "total": n}``
- DELETE /associations/relations/{relationId}?locationId= (delete-relation) -> 200 the deleted relation

The spec reuses the association DTO as the response of the relation operations; the relation
shapes above are UNCONFIRMED (notes §4.5). Object keys must be ``contact`` or an existing custom
object key; ``firstRecordId``/``secondRecordId`` must be records of the association's first/second
object, in that order. Duplicate association keys and duplicate relations -> 400 (UNCONFIRMED).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from flit_sandboxes.highlevel import contacts, objects
from flit_sandboxes.highlevel.errors import bad_request, json_response, unprocessable
from flit_sandboxes.highlevel.routing import Call, Operation

MAX_LIMIT = 100  # UNCONFIRMED


def _object_exists(call: Call, key: str) -> bool:
    return key == "contact" or objects.find(call.ctx.store, key) is not None


def _record_exists(call: Call, object_key: str, record_id: str) -> bool:
    store = call.ctx.store
    if object_key == "contact":
        return store.get(contacts.KIND, record_id) is not None
    record = store.get("record", record_id)
    return record is not None and record["objectKey"] == object_key


async def create_association(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body["locationId"])
    missing = [name for name in ("firstObjectKey", "secondObjectKey") if not _object_exists(call, body[name])]
    if missing:
        raise bad_request(f"{', '.join(missing)}: object not found")
    if any(a["key"] == body["key"] for a in call.ctx.store.list("association")):
        raise bad_request(f"Association with key {body['key']} already exists")
    association = {name: body[name] for name in ("locationId", "key", "firstObjectLabel", "firstObjectKey",
                                                 "secondObjectLabel", "secondObjectKey")}
    association["associationType"] = "USER_DEFINED"
    association = call.ctx.store.insert("association", association, parent=body["locationId"])
    return json_response(association, status=201)


async def get_association_by_key(call: Call) -> Response:
    call.check_location(call.request.query_params.get("locationId"))
    key = call.path("key_name")
    found = next((a for a in call.ctx.store.list("association") if a["key"] == key), None)
    if found is None:
        raise bad_request(f"Association with key {key} not found")
    return json_response(found)


async def create_relation(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body["locationId"])
    store = call.ctx.store
    association = store.get("association", body["associationId"])
    if association is None:
        raise bad_request(f"Association with id {body['associationId']} not found")
    problems = [f"{field} is not a record of {association[key]}"
                for field, key in (("firstRecordId", "firstObjectKey"), ("secondRecordId", "secondObjectKey"))
                if not _record_exists(call, association[key], body[field])]
    if problems:
        raise unprocessable(problems)
    pair = (body["associationId"], body["firstRecordId"], body["secondRecordId"])
    if any((r["associationId"], r["firstRecordId"], r["secondRecordId"]) == pair for r in store.list("relation")):
        raise bad_request("Relation already exists")
    relation = {"associationId": pair[0], "firstRecordId": pair[1], "secondRecordId": pair[2],
                "locationId": body["locationId"]}
    return json_response(store.insert("relation", relation, parent=pair[0]), status=201)


async def list_relations(call: Call) -> Response:
    query = call.request.query_params
    call.check_location(query.get("locationId"))
    try:
        skip, limit = int(query["skip"]), int(query["limit"])
    except (KeyError, ValueError):
        raise unprocessable(["skip and limit must be integers"]) from None
    if skip < 0 or not 1 <= limit <= MAX_LIMIT:
        raise unprocessable([f"skip must be >= 0 and limit between 1 and {MAX_LIMIT}"])
    record_id = call.path("recordId")
    wanted = {item for item in query.get("associationIds", "").split(",") if item}
    relations: list[dict[str, Any]] = [
        r for r in call.ctx.store.list("relation")
        if record_id in (r["firstRecordId"], r["secondRecordId"]) and (not wanted or r["associationId"] in wanted)
    ]
    return json_response({"relations": relations[skip:skip + limit], "total": len(relations)})


async def delete_relation(call: Call) -> Response:
    call.check_location(call.request.query_params.get("locationId"))
    relation = call.ctx.store.get("relation", call.path("relationId"))
    if relation is None:
        raise bad_request(f"Relation with id {call.path('relationId')} not found")
    call.ctx.store.delete("relation", relation["id"])
    return json_response(relation)


def operations() -> list[Operation]:
    """Association and relation operations, literal paths first."""
    spec = "associations"
    return [
        Operation("POST", spec, "/associations/", create_association, "create-association"),
        Operation("POST", spec, "/associations/relations", create_relation, "create-relation"),
        Operation("GET", spec, "/associations/key/{key_name}", get_association_by_key,
                  "get-association-key-by-key-name"),
        Operation("GET", spec, "/associations/relations/{recordId}", list_relations, "get-relations-by-record-id"),
        Operation("DELETE", spec, "/associations/relations/{relationId}", delete_relation, "delete-relation"),
    ]
