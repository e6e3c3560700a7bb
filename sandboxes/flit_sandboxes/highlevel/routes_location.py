"""Location-scoped operations of spec:locations: the sub-account itself and its custom fields.

| route | operationId | success |
| --- | --- | --- |
| GET /locations/{locationId} | get-location | 200 ``{"location": {...}}`` |
| GET /locations/{locationId}/customFields?model= | get-custom-fields | 200 ``{"customFields": [...]}`` |
| POST /locations/{locationId}/customFields | create-custom-field | 201 ``{"customField": {...}}`` |
| GET /locations/{locationId}/customFields/{id} | get-custom-field | 200 ``{"customField": {...}}`` |

``GET /locations/{locationId}`` renders ``GetLocationByIdSchema`` from the settings: ``id``,
``companyId`` (``company_id``), ``name`` (``location_name``), ``timezone``, ``settings``
``{allowDuplicateContact, allowDuplicateOpportunity, allowFacebookNameMerge: false,
disableContactTimezone: false}``; address/contact fields are empty strings (UNCONFIRMED filler).

Custom field folders (notes §4.3): how contact fields are put into folders is UNCONFIRMED.
``POST .../customFields`` accepts the undeclared ``parentId`` integrators send [code] (see
``validation.EXTRA_ACCEPTED``), stores it as given (not checked against any folder) and returns it
in the field; without ``parentId`` the field has none. Custom Fields V2 folders
(``routes_custom_fields``) are a separate thing for custom objects.

Errors: 403 foreign location; 400 unknown custom field; 422 validation.
"""

from __future__ import annotations

from starlette.responses import Response

from flit_sandboxes.highlevel import custom_fields
from flit_sandboxes.highlevel.errors import bad_request, json_response
from flit_sandboxes.highlevel.routing import Call, Operation


async def get_location(call: Call) -> Response:
    location_id = call.path("locationId")
    call.check_location(location_id)
    settings = call.ctx.settings
    blank = dict.fromkeys(("domain", "address", "city", "state", "logoUrl", "country", "postalCode", "website",
                           "firstName", "lastName", "email", "phone"), "")
    location = {
        "id": location_id, "companyId": settings.company_id, "name": settings.location_name, **blank,
        "timezone": settings.timezone,
        "business": {"name": settings.location_name, "timezone": settings.timezone},
        "social": {},
        "settings": {"allowDuplicateContact": settings.allow_duplicate_contact,
                     "allowDuplicateOpportunity": settings.allow_duplicate_opportunity,
                     "allowFacebookNameMerge": False, "disableContactTimezone": False},
    }
    return json_response({"location": location})


async def list_custom_fields(call: Call) -> Response:
    call.check_location(call.path("locationId"))
    model = call.request.query_params.get("model")
    return json_response({"customFields": custom_fields.list_definitions(call.ctx.store, model)})


async def create_custom_field(call: Call) -> Response:
    location_id = call.path("locationId")
    call.check_location(location_id)
    field = custom_fields.create_definition(call.ctx.store, location_id, call.body_object())
    return json_response({"customField": field}, status=201)


async def get_custom_field(call: Call) -> Response:
    call.check_location(call.path("locationId"))
    field = call.ctx.store.get(custom_fields.KIND, call.path("id"))
    if field is None:
        raise bad_request(f"Custom field with id {call.path('id')} not found")
    return json_response({"customField": field})


def operations() -> list[Operation]:
    """Location and custom field operations, literal paths first."""
    return [
        Operation("GET", "locations", "/locations/{locationId}", get_location, "get-location"),
        Operation("GET", "locations", "/locations/{locationId}/customFields", list_custom_fields, "get-custom-fields"),
        Operation("POST", "locations", "/locations/{locationId}/customFields", create_custom_field,
                  "create-custom-field"),
        Operation("GET", "locations", "/locations/{locationId}/customFields/{id}", get_custom_field,
                  "get-custom-field"),
    ]
