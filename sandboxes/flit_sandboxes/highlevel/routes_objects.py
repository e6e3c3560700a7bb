"""Custom object operations of spec:objects (``Version: 2021-07-28``; notes §4.4).

| route | operationId | success |
| --- | --- | --- |
| GET /objects/?locationId= | get-object-by-location-id | 200 ``{"objects": [...]}`` (standard + custom) |
| POST /objects/ | create-custom-object-schema | 201 ``{"object": {...}}`` (agency token only) |
| GET /objects/{key}?locationId=&fetchProperties= | get-object-schema-by-key | 200 ``{"object", "cache", "fields"}`` |
| POST /objects/{schemaKey}/records | create-object-record | 201 ``{"record": {...}}`` |
| POST /objects/{schemaKey}/records/search | search-object-records | 200 ``{"records": [...], "total": n}`` |
| GET /objects/{schemaKey}/records/{id} | get-record-by-id | 200 ``{"record": {...}}`` |
| PUT /objects/{schemaKey}/records/{id}?locationId= | update-object-record | 200 ``{"record": {...}}`` |
| DELETE /objects/{schemaKey}/records/{id} | delete-object-record | 200 ``{"id", "success": true}`` |

Record bodies (spec schema empty; shape from [mirror]): ``{locationId*, owner [userId] (<=1),
followers (<=10), properties {}}``; update takes the same minus ``locationId`` (query) and
merges ``properties`` (merge vs replace UNCONFIRMED). Record search (``SearchRecordsBody``, all
fields required by the spec): ``query`` ``"<property>:<text>"`` matches that property, plain text
any string property (case-insensitive substring; UNCONFIRMED); paging by ``page``/``pageLimit``
or by ``searchAfter`` (``[dateAdded epoch ms as string, id]`` from a previous result; ``[]`` =
start). Deleting a record also deletes its relations. ``fetchProperties=true`` lists the primary
display property and the object's Custom Fields V2 fields (``object_fields``).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from flit_sandboxes.highlevel import object_fields, objects
from flit_sandboxes.highlevel.clock import epoch_ms, now_iso
from flit_sandboxes.highlevel.errors import json_response, unprocessable
from flit_sandboxes.highlevel.routing import Call, Operation

MAX_PAGE_LIMIT = 100  # UNCONFIRMED for records search


async def list_objects(call: Call) -> Response:
    location_id = call.request.query_params.get("locationId")
    call.check_location(location_id)
    listed = [objects.standard(key, call.ctx.settings.location_id) for key in objects.STANDARD_KEYS]  # the checked one
    listed += [objects.render(obj) for obj in call.ctx.store.list("object")]
    return json_response({"objects": listed})


async def create_object(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body["locationId"])
    obj = objects.create_schema(call.ctx.store, body)
    return json_response({"object": objects.render(obj)}, status=201)


async def get_object(call: Call) -> Response:
    call.check_location(call.request.query_params.get("locationId"))
    obj = objects.get_or_400(call.ctx.store, call.path("key"))
    fetch = call.request.query_params.get("fetchProperties", "false").lower() == "true"
    fields = object_fields.fields_of(call.ctx.store, obj["key"]) if fetch else []
    return json_response({"object": objects.render(obj), "cache": False, "fields": fields})


def _user_ids(call: Call) -> set[str]:
    return {user["id"] for user in call.ctx.store.list("user") if not user.get("deleted")}


async def create_record(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body.get("locationId"))
    obj = objects.get_or_400(call.ctx.store, call.path("schemaKey"))
    objects.check_record_body(obj, body, _user_ids(call), partial=False)
    stamp = now_iso()
    record = {"owner": body.get("owner", []), "followers": body.get("followers", []),
              "properties": body["properties"], "dateAdded": stamp, "dateUpdated": stamp,
              "locationId": body["locationId"], "objectKey": obj["key"], "objectId": obj["id"]}
    record = call.ctx.store.insert("record", record, parent=obj["key"])
    return json_response({"record": record}, status=201)


def _record(call: Call) -> dict[str, Any]:
    obj = objects.get_or_400(call.ctx.store, call.path("schemaKey"))
    record = call.ctx.store.get("record", call.path("id"))
    if record is None or record["objectKey"] != obj["key"]:
        raise objects.record_not_found(call.path("id"))
    return record


async def get_record(call: Call) -> Response:
    return json_response({"record": _record(call)})


async def update_record(call: Call) -> Response:
    call.check_location(call.request.query_params.get("locationId"))
    record = _record(call)
    body = call.body_object()
    if "locationId" in body:
        raise unprocessable(["property locationId should not exist"])
    obj = objects.get_or_400(call.ctx.store, call.path("schemaKey"))
    objects.check_record_body(obj, body, _user_ids(call), partial=True)
    for key in ("owner", "followers"):
        if key in body:
            record[key] = body[key]
    record["properties"] = {**record["properties"], **body.get("properties", {})}
    record["dateUpdated"] = now_iso()
    call.ctx.store.replace("record", record)
    return json_response({"record": record})


async def delete_record(call: Call) -> Response:
    record = _record(call)
    store = call.ctx.store
    store.delete("record", record["id"])
    for relation in store.list("relation"):
        if record["id"] in (relation["firstRecordId"], relation["secondRecordId"]):
            store.delete("relation", relation["id"])
    return json_response({"id": record["id"], "success": True})


async def search_records(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body["locationId"])
    obj = objects.get_or_400(call.ctx.store, call.path("schemaKey"))
    page, limit = body["page"], body["pageLimit"]
    if page != int(page) or page < 1 or limit != int(limit) or not 1 <= limit <= MAX_PAGE_LIMIT:
        raise unprocessable([f"page must be >= 1 and pageLimit between 1 and {MAX_PAGE_LIMIT}"])
    records = [dict(r, searchAfter=[str(epoch_ms(r["dateAdded"])), r["id"]])
               for r in call.ctx.store.list("record", parent=obj["key"]) if _matches(r, body["query"])]
    total = len(records)
    if body["searchAfter"]:
        index = next((i for i, r in enumerate(records) if r["searchAfter"] == body["searchAfter"]), len(records))
        selected = records[index + 1:index + 1 + int(limit)]
    else:
        start = (int(page) - 1) * int(limit)
        selected = records[start:start + int(limit)]
    return json_response({"records": selected, "total": total})


def _matches(record: dict[str, Any], query: str) -> bool:
    if not query:
        return True
    prop, sep, text = query.partition(":")
    needle = (text if sep else query).lower()
    values = [record["properties"].get(prop)] if sep else list(record["properties"].values())
    return any(isinstance(value, str) and needle in value.lower() for value in values)


def operations() -> list[Operation]:
    """Custom object operations, literal paths before templated ones."""
    spec = "objects"
    return [
        Operation("GET", spec, "/objects/", list_objects, "get-object-by-location-id"),
        Operation("POST", spec, "/objects/", create_object, "create-custom-object-schema"),
        Operation("POST", spec, "/objects/{schemaKey}/records/search", search_records, "search-object-records"),
        Operation("POST", spec, "/objects/{schemaKey}/records", create_record, "create-object-record"),
        Operation("GET", spec, "/objects/{schemaKey}/records/{id}", get_record, "get-record-by-id"),
        Operation("PUT", spec, "/objects/{schemaKey}/records/{id}", update_record, "update-object-record"),
        Operation("DELETE", spec, "/objects/{schemaKey}/records/{id}", delete_record, "delete-object-record"),
        Operation("GET", spec, "/objects/{key}", get_object, "get-object-schema-by-key"),
    ]
