"""OpenAPI validation against the bundled HighLevel v2 documents (``vendor_specs/highlevel/apps``).

Each sandbox route is declared with its document (``"contacts"``, ``"locations"``, ``"users"``,
``"calendars"``, ``"opportunities"``, ``"forms"``, ``"custom-fields"``, ...) and the document's own
path template, so validation is by operation through the shared
``openapi_validation.OpenAPIRequestValidator``.

Spec defects patched in the in-memory copy (the files stay verbatim), each contradicting the
spec's own description/examples (notes §4.1, §4.3):

- ``dateOfBirth`` is declared ``type: object`` but documented as a date string
  ("Supported formats: YYYY/MM/DD, ..., example 1990-09-25") -> ``string``.
- custom-field value items (``TextField`` ... ``FileField``) require ``id`` although the text
  variant says "Pass either `id` or `key`", and ``NumericField.field_value`` is ``type: object``
  with example ``100`` -> ``id`` not required, ``field_value`` of any type. The sandbox checks
  id/key and values itself (``custom_fields``).
- ``createAssociationReqDto`` declares ``firstObjectLabel``/``firstObjectKey``/``secondObjectLabel``/
  ``secondObjectKey`` as ``type: object`` with string examples ("student", "custom_objects.children")
  -> ``string``.
- ``UpsertOpportunityDto.monetaryValue`` is ``type: object`` with example ``220`` (``CreateDto`` and
  ``UpdateOpportunityDto`` declare ``number``) -> ``number``.

Also here: the check the vendor applies on top of the schema, "property X should not exist"
(422) for top-level body properties the DTO does not declare (notes §1, issue#262).
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from flit_sandboxes.openapi_validation import OpenAPIRequestValidator, RequestProblem, load_openapi_document
from flit_sandboxes.highlevel.errors import ApiError, unprocessable

SPEC_DIR = Path(__file__).resolve().parent.parent / "vendor_specs" / "highlevel" / "apps"
DOCUMENTS = ("contacts", "locations", "users", "calendars", "objects", "associations", "medias",
             "opportunities", "forms", "custom-fields")
FIELD_VALUE_SCHEMAS = ("TextField", "LargeTextField", "SingleSelectField", "RadioField", "NumericField",
                       "MonetoryField", "CheckboxField", "MultiSelectField", "FileField")
DATE_OF_BIRTH_DTOS = ("CreateContactDto", "UpdateContactDto", "UpsertContactDto")


ASSOCIATION_STRING_PROPERTIES = ("firstObjectLabel", "firstObjectKey", "secondObjectLabel", "secondObjectKey")


def _patched(name: str, document: dict[str, Any]) -> dict[str, Any]:
    if name == "opportunities":
        document = copy.deepcopy(document)
        document["components"]["schemas"]["UpsertOpportunityDto"]["properties"]["monetaryValue"]["type"] = "number"
        return document
    if name == "associations":
        document = copy.deepcopy(document)
        props = document["components"]["schemas"]["createAssociationReqDto"]["properties"]
        for key in ASSOCIATION_STRING_PROPERTIES:
            props[key]["type"] = "string"
        return document
    if name != "contacts":
        return document
    document = copy.deepcopy(document)
    schemas = document["components"]["schemas"]
    for dto in DATE_OF_BIRTH_DTOS:
        prop = schemas.get(dto, {}).get("properties", {}).get("dateOfBirth")
        if prop is not None:
            prop["type"] = "string"
    for field_schema in FIELD_VALUE_SCHEMAS:
        schema = schemas.get(field_schema)
        if schema is None:
            continue
        schema.pop("required", None)
        props = schema.setdefault("properties", {})
        props["field_value"] = {"nullable": True}
        props["fieldValue"] = {"nullable": True}
        props["value"] = {"nullable": True}
    return document


@functools.lru_cache(maxsize=1)
def bundled_documents() -> dict[str, dict[str, Any]]:
    """``{name: patched document}`` (parsed once per process; treat as read-only)."""
    return {name: _patched(name, load_openapi_document(str(SPEC_DIR / f"{name}.json"))) for name in DOCUMENTS}


@functools.lru_cache(maxsize=1)
def bundled_validators() -> dict[str, OpenAPIRequestValidator]:
    """``{name: validator}`` over ``bundled_documents()`` (cached per process)."""
    return {name: OpenAPIRequestValidator(doc) for name, doc in bundled_documents().items()}


def security_kinds(spec: str, method: str, spec_path: str) -> frozenset[str]:
    """Token kinds the operation accepts, from its ``security`` names: ``Agency-Access`` ->
    ``"agency"``; ``bearer``/``Location-Access`` -> ``"location"`` (notes §1)."""
    operation = bundled_documents()[spec]["paths"][spec_path][method.lower()]
    names = {name for requirement in operation.get("security", []) for name in requirement}
    kinds = {"agency" for name in names if name == "Agency-Access"}
    kinds |= {"location" for name in names if name in ("bearer", "Location-Access")}
    return frozenset(kinds or {"location"})


def required_version(spec: str, method: str, spec_path: str) -> str | None:
    """The single ``Version`` header value the operation declares (``2021-07-28``; calendars
    ``2021-04-15``), or None if it declares none."""
    operation = bundled_documents()[spec]["paths"][spec_path][method.lower()]
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "header" and parameter.get("name") == "Version":
            enum = (parameter.get("schema") or {}).get("enum") or []
            return enum[0] if enum else None
    return None


@functools.lru_cache(maxsize=128)
def declared_body_properties(spec: str, method: str, spec_path: str) -> frozenset[str] | None:
    """Top-level properties of the operation's JSON body schema; None if the schema declares
    none (e.g. the empty ``SearchBodyV2DTO``), in which case unknown properties are allowed."""
    document = bundled_documents()[spec]
    operation = document["paths"][spec_path][method.lower()]
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema") or {}
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    properties = schema.get("properties")
    return frozenset(properties) if properties else None


# Undeclared properties the sandbox accepts anyway: integrators send ``parentId`` (folder) when
# creating location custom fields [code]; picklist ``options`` are not in the spec either and how
# the vendor takes them is UNCONFIRMED (notes §4.3). ``UpsertOpportunityDto`` declares no
# ``contactId`` although an opportunity cannot be created without one (UNCONFIRMED how the
# vendor takes it; the sandbox accepts ``contactId`` like ``CreateDto``).
EXTRA_ACCEPTED = {
    ("locations", "POST", "/locations/{locationId}/customFields"): frozenset({"parentId", "options"}),
    ("opportunities", "POST", "/opportunities/upsert"): frozenset({"contactId"}),
}


def unknown_properties(spec: str, method: str, spec_path: str, body: Any) -> list[str]:
    """``"property X should not exist"`` messages for undeclared top-level body keys (issue#262)."""
    declared = declared_body_properties(spec, method, spec_path)
    if declared is None or not isinstance(body, dict):
        return []
    declared = declared | EXTRA_ACCEPTED.get((spec, method.upper(), spec_path), frozenset())
    return [f"property {key} should not exist" for key in body if key not in declared]


def problems_error(problems: list[RequestProblem]) -> ApiError:
    """422 ``UnprocessableDTO`` listing the problems once each (openapi-core can report the same
    schema error several times; messages never include submitted values)."""
    return unprocessable(list(dict.fromkeys(problem.message for problem in problems)))
