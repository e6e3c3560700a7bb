"""Custom Fields V2 operations of spec:custom-fields (``Version: 2021-07-28``; notes §4.3).
Keys, stored shapes and checks: ``object_fields``.

| route | operationId | success |
| --- | --- | --- |
| POST /custom-fields/ | create-custom-field | 201 ``{"field": ICustomField}`` |
| POST /custom-fields/folder | create-custom-field-folder | 201 ``ICustomFieldFolder`` (unwrapped, per spec) |
| GET /custom-fields/object-key/{objectKey}?locationId= | get-custom-fields-by-object-key | 200 ``{fields, folders}`` |
| GET /custom-fields/{id} | get-custom-field-by-id | 200 ``{"field": ...}`` (a field or a folder) |

Errors: 403 foreign ``locationId``; 400 object not supported/unknown, duplicate fieldKey, unknown
folder, unknown id (``"Custom field with id … not found"``, wording UNCONFIRMED); 422 validation.
These are *not* the contact custom fields (``/locations/{locationId}/customFields``).
"""

from __future__ import annotations

from starlette.responses import Response

from flit_sandboxes.highlevel import object_fields
from flit_sandboxes.highlevel.errors import bad_request, json_response
from flit_sandboxes.highlevel.routing import Call, Operation


async def create_field(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body["locationId"])
    return json_response({"field": object_fields.create_field(call.ctx.store, body)}, status=201)


async def create_folder(call: Call) -> Response:
    body = call.body_object()
    call.check_location(body["locationId"])
    return json_response(object_fields.create_folder(call.ctx.store, body), status=201)


async def list_by_object(call: Call) -> Response:
    call.check_location(call.request.query_params.get("locationId"))
    store = call.ctx.store
    key = object_fields.object_key(store, call.path("objectKey"))
    return json_response({"fields": object_fields.fields_of(store, key),
                          "folders": object_fields.folders_of(store, key)})


async def get_by_id(call: Call) -> Response:
    store, item_id = call.ctx.store, call.path("id")
    found = store.get(object_fields.FIELD, item_id) or store.get(object_fields.FOLDER, item_id)
    if found is None:
        raise bad_request(f"Custom field with id {item_id} not found")
    return json_response({"field": found})


def operations() -> list[Operation]:
    """Custom Fields V2 operations, literal paths before templated ones."""
    spec = "custom-fields"
    return [
        Operation("POST", spec, "/custom-fields/", create_field, "create-custom-field"),
        Operation("POST", spec, "/custom-fields/folder", create_folder, "create-custom-field-folder"),
        Operation("GET", spec, "/custom-fields/object-key/{objectKey}", list_by_object,
                  "get-custom-fields-by-object-key"),
        Operation("GET", spec, "/custom-fields/{id}", get_by_id, "get-custom-field-by-id"),
    ]
