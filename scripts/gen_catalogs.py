"""Generate the destination field catalogs ``flit_pipelines/catalog/{pipedrive,highlevel,salesforce}.yaml``.

Run from the repository root (needs the sandboxes package for the vendor documents it bundles)::

    PYTHONPATH=.:sandboxes python scripts/gen_catalogs.py

Where each fact comes from:

* **Pipedrive**: the request bodies of the published OpenAPI documents (v2 ``addPerson``/``updatePerson``,
  ``addOrganization``, ``addDeal``, ``addActivity``; v1 ``addNote``, ``addFile``), copied in
  ``sandboxes/flit_sandboxes/vendor_specs/pipedrive``. A property of the create body missing from the
  update body is ``create_only``; ``required`` is the create body's ``required``; ``enum`` gives the
  allowed values; "(e.g. city)" in a description is a documented synonym.
* **HighLevel**: ``CreateContactDto`` / ``UpdateContactDto`` (contacts.json: ``gender``,
  ``companyName``, ``locationId`` are create-only), ``CreateTaskParams``, ``NotesDTO``,
  ``AppointmentCreateSchema`` / ``AppointmentEditSchema`` (calendars.json), ``CreateDto`` /
  ``UpdateOpportunityDto`` (opportunities.json), bundled in ``sandboxes/flit_sandboxes/vendor_specs/highlevel``.
* **Salesforce**: no OpenAPI document here; the standard objects the sandbox models after
  notes/salesforce.md §5 (``flit_sandboxes.salesforce.standard_objects``): ``createable`` and
  ``updateable`` give create-only, ``nillable`` + not ``defaulted`` gives required, picklists give
  allowed values.
* **Overlay** (``OVERLAY`` below, each with its source): facts the documents do not carry but the load
  code relies on (``flit_pipelines/destinations/*``): write-only and loader-local fields, the spec's
  pseudo-fields (Pipedrive ``stage`` by name), the proposal's default formatter per field, lookups and
  their target entity, the documented custom-field types and where custom fields live.

The output is deterministic (sorted keys), so a re-run shows in ``git diff`` only what a document changed.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "sandboxes" / "flit_sandboxes" / "vendor_specs"
OUT = ROOT / "flit_pipelines" / "catalog"
EG = re.compile(r"\(e\.g\. ([^)]+)\)")


# --- OpenAPI helpers -----------------------------------------------------------------------------------

def _resolve(doc: dict, schema: dict) -> dict:
    if "$ref" in schema:
        return _resolve(doc, doc["components"]["schemas"][schema["$ref"].split("/")[-1]])
    if "allOf" in schema:
        out: dict[str, Any] = {"properties": {}, "required": []}
        for part in schema["allOf"]:
            r = _resolve(doc, part)
            out["properties"].update(r.get("properties", {}))
            out["required"] += r.get("required") or []
        return out
    return schema


def _body(doc: dict, path: str, method: str) -> dict:
    content = doc["paths"][path][method]["requestBody"]["content"]
    schema = next(iter(content.values()))["schema"]
    return _resolve(doc, schema)


def _type_of(name: str, prop: dict) -> str:
    t, fmt = prop.get("type"), prop.get("format")
    low = name.lower()
    if "email" in low:
        return "email"
    if "phone" in low:
        return "phone"
    if fmt == "date-time" or low.endswith("_time") and "due" not in low:
        return "datetime"
    if fmt == "date" or low.endswith("_date") or low == "birthday":
        return "date"
    if t == "boolean":
        return "bool"
    if t in ("integer", "number"):
        return "number"
    if prop.get("enum"):
        return "enum"
    if t == "array":
        return "list"
    if t == "object":
        return "object"
    return "text"


def _field(name: str, prop: dict, *, required: bool, create_only: bool, source: str) -> dict:
    desc = " ".join((prop.get("description") or "").split())
    out: dict[str, Any] = {"type": _type_of(name, prop), "label": _label(name)}
    if desc:
        out["description"] = desc[:240]
    if required:
        out["required"] = True
    if create_only:
        out["create_only"] = True
    if prop.get("enum"):
        out["values"] = [str(v) for v in prop["enum"]]
    if prop.get("type") == "integer" and out["type"] == "number":
        out["format"] = "int"  # the API refuses 12.0 where it documents an integer
    syn = [{"term": m.strip(), "source": source} for m in EG.findall(desc)]
    if syn:
        out["synonyms"] = syn
    return out


def _label(name: str) -> str:
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name.split(".")[-1]).replace("_", " ")
    return words[:1].upper() + words[1:].lower()


def _entity_from_bodies(doc: dict, create: tuple[str, str], update: tuple[str, str] | None, source: str,
                        skip: set[str], nested: tuple[str, ...] = ()) -> dict[str, dict]:
    body = _body(doc, *create)
    upd = set(_body(doc, *update).get("properties", {})) if update else None
    required = set(body.get("required") or [])
    fields: dict[str, dict] = {}
    for name, prop in body.get("properties", {}).items():
        if name in skip:
            continue
        prop = _resolve(doc, prop)
        create_only = upd is not None and name not in upd
        if name in nested and prop.get("properties"):
            for sub, sprop in prop["properties"].items():
                fields[f"{name}.{sub}"] = _field(f"{name}.{sub}", sprop, required=False, create_only=create_only,
                                                 source=source)
            continue
        fields[name] = _field(name, prop, required=name in required, create_only=create_only, source=source)
    return fields


# --- Pipedrive -------------------------------------------------------------------------------------------

PD_SKIP = {"custom_fields", "visible_to", "label_ids", "marketing_status", "is_archived", "is_deleted", "archive_time",
           "lead_id", "project_id", "product_id", "attendees", "busy", "priority", "pinned_to_lead_flag",
           "pinned_to_deal_flag", "pinned_to_organization_flag", "pinned_to_person_flag", "pinned_to_project_flag",
           "pinned_to_task_flag", "task_id", "im"}
PD_LOOKUPS = {"person_id": "person", "org_id": "organization", "owner_id": "user", "user_id": "user",
              "deal_id": "deal", "participants": "person", "activity_id": "activity"}


def pipedrive() -> dict:
    v2 = yaml.safe_load((SPECS / "pipedrive" / "openapi-v2.yaml").read_text())
    v1 = yaml.safe_load((SPECS / "pipedrive" / "openapi-v1.yaml").read_text())
    src2, src1 = "Pipedrive OpenAPI v2", "Pipedrive OpenAPI v1"
    ents = {
        "person": _entity_from_bodies(v2, ("/persons", "post"), ("/persons/{id}", "patch"), f"{src2} addPerson",
                                      PD_SKIP, nested=("postal_address",)),
        "organization": _entity_from_bodies(v2, ("/organizations", "post"), ("/organizations/{id}", "patch"),
                                            f"{src2} addOrganization", PD_SKIP, nested=("address",)),
        "deal": _entity_from_bodies(v2, ("/deals", "post"), ("/deals/{id}", "patch"), f"{src2} addDeal", PD_SKIP),
        "activity": _entity_from_bodies(v2, ("/activities", "post"), ("/activities/{id}", "patch"),
                                        f"{src2} addActivity", PD_SKIP),
        "note": _entity_from_bodies(v1, ("/notes", "post"), None, f"{src1} addNote", PD_SKIP),
        "file": _entity_from_bodies(v1, ("/files", "post"), None, f"{src1} addFile", PD_SKIP),
        "user": {},
    }
    return _assemble("pipedrive", ents, PD_LOOKUPS, OVERLAY["pipedrive"])


# --- HighLevel ----------------------------------------------------------------------------------------------

HL_SKIP = {"locationId", "customFields", "dndSettings", "inboundDndSettings", "calendarId", "meetingLocationId",
           "overrideLocationConfig", "ignoreDateRange", "toNotify", "ignoreFreeSlotValidation", "rrule", "pipelineId",
           "pipelineStageId", "color", "pinned"}
HL_LOOKUPS = {"assignedTo": "user", "assignedUserId": "user", "contactId": "contact", "userId": "user"}


def highlevel() -> dict:
    def doc(name: str) -> dict:
        return json.loads((SPECS / "highlevel" / "apps" / f"{name}.json").read_text())

    contacts, calendars, opps = doc("contacts"), doc("calendars"), doc("opportunities")
    src = "HighLevel API v2 (highlevel-api-docs)"
    ents = {
        "contact": _entity_from_bodies(contacts, ("/contacts/", "post"), ("/contacts/{contactId}", "put"),
                                       f"{src} CreateContactDto", HL_SKIP),
        "task": _entity_from_bodies(contacts, ("/contacts/{contactId}/tasks", "post"),
                                    ("/contacts/{contactId}/tasks/{taskId}", "put"), f"{src} CreateTaskParams", HL_SKIP),
        "note": _entity_from_bodies(contacts, ("/contacts/{contactId}/notes", "post"),
                                    ("/contacts/{contactId}/notes/{id}", "put"), f"{src} NotesDTO", HL_SKIP),
        "appointment": _entity_from_bodies(calendars, ("/calendars/events/appointments", "post"),
                                           ("/calendars/events/appointments/{eventId}", "put"),
                                           f"{src} AppointmentCreateSchema", HL_SKIP),
        "opportunity": _entity_from_bodies(opps, ("/opportunities/", "post"), ("/opportunities/{id}", "put"),
                                           f"{src} CreateDto", HL_SKIP),
        "file": {},
        "user": {},
        "custom_object_record": {},
    }
    return _assemble("highlevel", ents, HL_LOOKUPS, OVERLAY["highlevel"])


# --- Salesforce ---------------------------------------------------------------------------------------------

SF_TYPES = {"string": "text", "textarea": "long_text", "email": "email", "phone": "phone", "url": "url",
            "date": "date", "datetime": "datetime", "boolean": "bool", "int": "number", "double": "number",
            "currency": "money", "picklist": "enum", "combobox": "text", "reference": "reference", "base64": "file"}
SF_SOURCE = "notes/salesforce.md §5; flit_sandboxes.salesforce.standard_objects"


def salesforce() -> dict:
    sys.path[:0] = [str(ROOT / "sandboxes")]
    from flit_sandboxes.salesforce.standard_objects import standard_objects

    wanted = {"Contact", "Account", "Lead", "Task", "Event", "ContentVersion"}
    sobjects: dict[str, dict] = {}
    for so in standard_objects():
        if so.name not in wanted:
            continue
        fields: dict[str, dict] = {}
        lookups: dict[str, dict] = {}
        for f in so.fields.values():
            if not f.createable or f.name in ("Id", "VersionData"):
                continue
            if f.type == "reference":
                targets = [t for t in f.reference_to if t != "*"]
                lookups[f.name] = {"label": f.label or _label(f.name), "entity": "user" if targets == ["User"] else "sobject",
                                   "objects": targets or ["*"]}
                continue
            out: dict[str, Any] = {"type": SF_TYPES.get(f.type, "text"), "label": f.label or _label(f.name)}
            if not f.nillable and not f.defaulted:
                out["required"] = True
            if not f.updateable:
                out["create_only"] = True
            if f.picklist:
                out["values"] = list(f.picklist)
            if f.length and f.type in ("string", "textarea", "email", "phone", "url"):
                out["max_length"] = f.length
            fields[f.name] = out
        sobjects[so.name] = {"fields": fields, "lookups": lookups}
    ents = {"sobject": {}, "file": {}, "user": {}}
    cat = _assemble("salesforce", ents, {}, OVERLAY["salesforce"])
    file_entity = sobjects.pop("ContentVersion")
    cat["entities"]["file"]["fields"].update(file_entity["fields"])
    cat["entities"]["file"]["lookups"].update(file_entity["lookups"])
    for name, body in sobjects.items():
        over = OVERLAY["salesforce"]["sobjects"].get(name, {})
        for fname, extra in over.get("fields", {}).items():
            body["fields"].setdefault(fname, {}).update(extra)
        body.update({k: v for k, v in over.items() if k != "fields"})
    cat["entities"]["sobject"]["objects"] = sobjects
    return cat


# --- assembly ------------------------------------------------------------------------------------------------

def _assemble(kind: str, ents: dict[str, dict], lookups: dict[str, str], overlay: dict) -> dict:
    entities: dict[str, dict] = {}
    for name, fields in ents.items():
        over = overlay["entities"].get(name, {})
        looks = {}
        for fname in list(fields):
            if fname in lookups:
                f = fields.pop(fname)
                looks[fname] = {"label": f["label"], "entity": lookups[fname], **(
                    {"required": True} if f.get("required") else {})}
        for fname, extra in over.get("fields", {}).items():
            fields.setdefault(fname, {"type": "text", "label": _label(fname)}).update(extra)
        for fname in over.get("drop", []):
            fields.pop(fname, None)
        for lname, extra in over.get("lookups", {}).items():
            looks.setdefault(lname, {"label": _label(lname)}).update(extra)
        entities[name] = {k: v for k, v in over.items() if k not in ("fields", "lookups", "drop")}
        entities[name]["fields"] = fields
        entities[name]["lookups"] = looks
    return {"destination": kind, "generated_by": "scripts/gen_catalogs.py", "documents": overlay["documents"],
            "custom_fields": overlay["custom_fields"], "entities": entities}


GEN = "general usage"


def ADDRESS_SYNONYMS(prefix: str) -> dict:  # noqa: N802 - a table, spelled like one
    """US address words for Pipedrive's Google-style address parts (general usage)."""
    return {f"{prefix}.route": {"synonyms": [{"term": "street address", "source": GEN},
                                             {"term": "address line 1", "source": GEN}]},
            f"{prefix}.postal_code": {"type": "postal_code", "synonyms": [{"term": "zip code", "source": GEN}]},
            f"{prefix}.admin_area_level_1": {"type": "state"},
            f"{prefix}.country": {"type": "country"}}
OVERLAY: dict[str, dict] = {
    "pipedrive": {
        "documents": ["sandboxes/flit_sandboxes/vendor_specs/pipedrive/openapi-v2.yaml",
                      "sandboxes/flit_sandboxes/vendor_specs/pipedrive/openapi-v1.yaml", "notes/pipedrive.md"],
        "custom_fields": {
            "source": "notes/pipedrive.md 4.9 (v2 *Fields field_type); destinations/pipedrive/bodies.py",
            "types": {"text": "varchar", "long_text": "text", "number": "double", "money": "monetary", "date": "date",
                      "enum": "enum", "multi_enum": "set", "phone": "phone", "bool": "enum", "email": "varchar",
                      "url": "varchar", "datetime": "date"},
            "all_types": ["varchar", "text", "double", "monetary", "date", "enum", "set", "phone", "varchar_auto",
                          "time", "daterange", "timerange", "address", "user", "org", "people"],
            "entities": ["person", "organization", "deal"],
            "placement": "Pipedrive has no custom-field folders; category groups fields in the design document only",
            "naming": "label",
        },
        "entities": {
            "person": {
                "label": "Person", "custom_fields": True,
                "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                               ("patient", "client", "person", "contact")],
                "fields": {
                    "name": {"type": "text", "label": "Name", "compose": ["first name", "last name"],
                             "synonyms": [{"term": "full name", "source": GEN}]},
                    "emails": {"type": "email", "many": True, "format": "contact_list", "label": "Emails"},
                    "phones": {"type": "phone", "many": True, "format": "contact_list", "label": "Phones"},
                    "birthday": {"type": "date", "format": "date", "label": "Birthday",
                                 "synonyms": [{"term": "birth date", "source": GEN}]},
                    **ADDRESS_SYNONYMS("postal_address"),
                    "postal_address.value": {"compose_of": ["postal_address.route", "postal_address.locality",
                                                            "postal_address.admin_area_level_1",
                                                            "postal_address.postal_code"]},
                    "notes": {"type": "long_text"},
                    "add_time": {"type": "datetime", "format": "datetime_rfc3339"},
                },
            },
            "organization": {
                "label": "Organization", "custom_fields": True,
                "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                               ("organization", "clinic", "practice", "location")],
                "fields": {
                    **ADDRESS_SYNONYMS("address"),
                    "address.value": {"compose_of": ["address.route", "address.locality", "address.admin_area_level_1",
                                                     "address.postal_code"]},
                    "add_time": {"type": "datetime", "format": "datetime_rfc3339"},
                    "website": {"type": "url"},
                },
            },
            "deal": {
                "label": "Deal", "custom_fields": True,
                "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                               ("treatment plan", "care plan", "claim", "invoice", "billing")],
                "fields": {
                    "stage": {"type": "text", "label": "Stage",
                              "description": "stage name in the target's pipeline; the loader resolves stage_id",
                              "source": "destinations/pipedrive/bodies.py"},
                    "status": {"type": "enum", "values": ["open", "won", "lost"], "source": "notes/pipedrive.md 4.4"},
                    "value": {"type": "money", "format": "money"},
                    "currency": {"type": "text"},
                    "won_time": {"type": "datetime", "format": "datetime_rfc3339", "requires": "status won",
                                 "source": "notes/pipedrive.md 7 (deal rules)"},
                    "lost_time": {"type": "datetime", "format": "datetime_rfc3339", "requires": "status lost",
                                  "source": "notes/pipedrive.md 7 (deal rules)"},
                    "lost_reason": {"requires": "status lost", "source": "sandbox: 'can only be set if deal status is lost'"},
                    "add_time": {"type": "datetime", "format": "datetime_rfc3339"},
                    "close_time": {"type": "datetime", "format": "datetime_rfc3339", "requires": "status won or lost",
                                   "source": "Pipedrive OpenAPI v2 addDeal close_time description"},
                    "expected_close_date": {"type": "date", "format": "date"},
                },
                "drop": ["pipeline_id", "stage_id"],
            },
            "activity": {
                "label": "Activity", "custom_fields": False,
                "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                               ("appointment", "visit", "activity", "meeting")],
                "fields": {
                    "due_date": {"type": "date", "format": "date", "label": "Due date",
                                 "synonyms": [{"term": "start date", "source": GEN}, {"term": "start", "source": GEN}]},
                    "due_time": {"type": "datetime", "format": "time_hhmm", "label": "Due time", "with": "due_date",
                                 "source": "notes/pipedrive.md 4.5: due_date + due_time carry one start time"},
                    "duration": {"type": "duration", "format": "duration_hhmm"},
                    "done": {"type": "bool"},
                    "note": {"type": "long_text", "escape": "html"},
                    "type": {"type": "enum", "values": ["call", "meeting", "task", "deadline", "email", "lunch"],
                             "source": "notes/pipedrive.md 4.5 (activity types of a new company)"},
                },
            },
            "note": {"label": "Note", "custom_fields": False,
                     "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                                    ("note", "clinical note", "progress note")],
                     "fields": {"content": {"type": "long_text", "escape": "html"},
                                "add_time": {"type": "datetime", "format": "v1_datetime"}}},
            "file": {
                "label": "File", "custom_fields": False,
                "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                               ("document", "attachment", "file")],
                "fields": {
                    "file": {"write_only": True, "type": "file", "source": "destinations/pipedrive/readback.py"},
                    "file_name": {"type": "text", "local": True, "format": "basename", "with": "file_path",
                                  "source": "destinations/pipedrive: the upload's name is the file's base name"},
                    "file_path": {"type": "path", "local": True, "label": "File path",
                                  "source": "flit_pipelines/files: one payload key for a document's path"},
                    "size": {"type": "number", "local": True},
                    "title": {"type": "text", "local": True},
                    "mime": {"type": "text", "local": True, "label": "MIME type"},
                },
            },
            "user": {"label": "User", "custom_fields": False, "match_only": True, "open": True,
                     "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                                    ("provider", "practitioner", "staff", "user")],
                     "description": "users are matched by e-mail, never created; fields are report columns"},
        },
    },
    "highlevel": {
        "documents": ["sandboxes/flit_sandboxes/vendor_specs/highlevel/apps/contacts.json",
                      "sandboxes/flit_sandboxes/vendor_specs/highlevel/apps/calendars.json",
                      "sandboxes/flit_sandboxes/vendor_specs/highlevel/apps/opportunities.json", "notes/highlevel.md"],
        "custom_fields": {
            "source": "notes/highlevel.md 4.3 (Custom Fields V2 dataType enum)",
            "types": {"text": "TEXT", "long_text": "LARGE_TEXT", "number": "NUMERICAL", "money": "MONETORY",
                      "date": "DATE", "datetime": "DATE", "enum": "SINGLE_OPTIONS", "multi_enum": "MULTIPLE_OPTIONS",
                      "phone": "PHONE", "email": "EMAIL", "bool": "SINGLE_OPTIONS", "url": "TEXT"},
            "all_types": ["TEXT", "LARGE_TEXT", "NUMERICAL", "PHONE", "MONETORY", "CHECKBOX", "SINGLE_OPTIONS",
                          "MULTIPLE_OPTIONS", "DATE", "TEXTBOX_LIST", "FILE_UPLOAD", "RADIO", "EMAIL"],
            "entities": ["contact", "opportunity", "custom_object_record"],
            "placement": "folders (category -> folder; contact-field folders are UNCONFIRMED upstream)",
            "naming": "underscore",
        },
        "entities": {
            "contact": {
                "label": "Contact", "custom_fields": True,
                "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                               ("patient", "client", "contact", "person")],
                "fields": {
                    "gender": {"type": "enum", "values": ["male", "female"],
                               "source": "CreateContactDto example; destinations/highlevel/destination.py"},
                    "dateOfBirth": {"type": "date", "format": "date"},
                    "phone": {"type": "phone", "format": "e164"},
                    "email": {"type": "email"},
                    "website": {"type": "url"},
                    "dnd": {"type": "bool"},
                    "tags": {"type": "list", "description": "comma-separated tag names"},
                    "country": {"type": "country"},
                    "postalCode": {"type": "postal_code", "synonyms": [{"term": "zip code", "source": GEN}]},
                    "state": {"type": "state"},
                    "address1": {"synonyms": [{"term": "street address", "source": GEN},
                                              {"term": "address line 1", "source": GEN}]},
                    "name": {"synonyms": [{"term": "full name", "source": GEN}]},
                },
            },
            "appointment": {
                "label": "Appointment", "custom_fields": False,
                "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                               ("appointment", "visit", "booking")],
                "fields": {"startTime": {"type": "datetime", "format": "datetime_offset"},
                           "endTime": {"type": "datetime", "format": "datetime_offset"},
                           "description": {"type": "long_text"}},
            },
            "task": {"label": "Task", "custom_fields": False,
                     "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                                    ("task", "missed appointment", "follow up")],
                     "fields": {"dueDate": {"type": "datetime", "format": "datetime_offset"},
                                "body": {"type": "long_text"}},
                     "lookups": {"contactId": {"entity": "contact", "required": True,
                                               "source": "path parameter /contacts/{contactId}/tasks"}}},
            "note": {"label": "Note", "custom_fields": False,
                     "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                                    ("note", "clinical note", "progress note")],
                     "fields": {"body": {"type": "long_text"}},
                     "lookups": {"contactId": {"entity": "contact", "required": True,
                                               "source": "path parameter /contacts/{contactId}/notes"}}},
            "opportunity": {"label": "Opportunity", "custom_fields": True,
                            "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                                           ("opportunity", "treatment plan", "lifecycle")],
                            "fields": {"stage": {"type": "text", "label": "Stage",
                                                 "description": "stage name; the loader resolves pipelineStageId",
                                                 "source": "destinations/highlevel/bodies.py"},
                                       "monetaryValue": {"type": "money", "format": "money"}}},
            "file": {"label": "File", "custom_fields": False,
                     "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                                    ("document", "attachment", "file")],
                     "source": "notes/highlevel.md 4.7; destinations/highlevel/bodies.py ENTITY_FIELDS",
                     "fields": {"file_path": {"type": "path", "local": True, "write_only": True},
                                "file_name": {"type": "text", "local": True},
                                "url": {"type": "url"}, "size": {"type": "number", "local": True},
                                "mime": {"type": "text", "local": True}, "file": {"type": "file", "write_only": True}},
                     "lookups": {"contactId": {"entity": "contact", "required": True}}},
            "user": {"label": "User", "custom_fields": False, "match_only": True, "open": True, "also_as": "contact",
                     "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                                    ("provider", "practitioner", "staff", "user")],
                     "description": "users are matched by e-mail, never created; fields are report columns; "
                                    "providers also become staff contacts (seed table: Provider)"},
            "custom_object_record": {"label": "Custom object record", "custom_fields": True, "open": True,
                                     "description": "fields are the custom object's own properties (spec:objects)"},
        },
    },
    "salesforce": {
        "documents": ["notes/salesforce.md", "sandboxes/flit_sandboxes/salesforce/standard_objects.py"],
        "custom_fields": {
            "source": "notes/salesforce.md 3.2 (CustomField metadata types)",
            "types": {"text": "Text", "long_text": "LongTextArea", "number": "Number", "money": "Currency",
                      "date": "Date", "datetime": "DateTime", "enum": "Picklist", "multi_enum": "MultiselectPicklist",
                      "phone": "Phone", "email": "Email", "bool": "Checkbox", "url": "Url"},
            "all_types": ["Text", "LongTextArea", "TextArea", "Number", "Currency", "Percent", "Date", "DateTime",
                          "Checkbox", "Picklist", "MultiselectPicklist", "Email", "Phone", "Url"],
            "entities": ["sobject"],
            "placement": "category -> field-level-security group of the permission set",
            "naming": "api__c",
        },
        "entities": {
            "sobject": {"label": "sObject", "custom_fields": True,
                        "description": "options.sobject names the object; custom objects (__c) are open"},
            "file": {"label": "File (ContentVersion)", "custom_fields": True,
                     "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                                    ("document", "attachment", "file")],
                     "fields": {"file_path": {"type": "path", "local": True, "write_only": True,
                                              "source": "destinations/salesforce/destination.py FILE_ROUTING"},
                                "PathOnClient": {"synonyms": [{"term": "file name", "source":
                                                               "notes/salesforce.md §4 (sets the file type/extension)"}]}}},
            "user": {"label": "User", "custom_fields": False, "match_only": True, "open": True,
                     "also_as": "sobject/Contact",
                     "seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                                    ("provider", "practitioner", "staff", "user")],
                     "description": "users are matched by e-mail, never created; fields are report columns; "
                                    "practitioners also become Contacts (seed table: Practitioner)"},
        },
        "sobjects": {
            "Contact": {"seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                                       ("patient", "client", "contact", "practitioner")],
                        "fields": {"Birthdate": {"format": "date"},
                            "Salutation": {"synonyms": [{"term": "title", "source": GEN},
                                                        {"term": "prefix", "source": GEN}]},
                            "Title": {"synonyms": [{"term": "job title", "source": GEN},
                                                   {"term": "occupation", "source": GEN}]},
                            "MailingStreet": {
                            "synonyms": [{"term": "street address", "source": GEN},
                                         {"term": "address line 1", "source": GEN}]},
                            "MailingPostalCode": {"type": "postal_code",
                                                  "synonyms": [{"term": "zip code", "source": GEN},
                                                               {"term": "postal code", "source": GEN}]},
                            "MailingCity": {"synonyms": [{"term": "city", "source": GEN}]},
                            "MailingState": {"type": "state", "synonyms": [{"term": "state", "source": GEN}]},
                            "MailingCountry": {"type": "country", "synonyms": [{"term": "country", "source": GEN}]}}},
            "Event": {"seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                                     ("appointment", "visit", "event", "meeting")],
                      "fields": {"StartDateTime": {"format": "datetime_rfc3339"},
                                 "EndDateTime": {"format": "datetime_rfc3339"},
                                 "ActivityDateTime": {"format": "datetime_rfc3339"}}},
            "Task": {"seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                                    ("task", "follow up", "to do")],
                     "fields": {"ActivityDate": {"format": "date"}}},
            "Account": {"seed_terms": [{"term": t, "source": "seed table (ARCHITECTURE.md)"} for t in
                                       ("organization", "clinic", "practice", "account")]},
            "Lead": {"seed_terms": [{"term": "lead", "source": "seed table (ARCHITECTURE.md)"}]},
        },
    },
}


def main() -> int:
    """Write the three catalogs; returns 0."""
    OUT.mkdir(parents=True, exist_ok=True)
    for kind, build in (("pipedrive", pipedrive), ("highlevel", highlevel), ("salesforce", salesforce)):
        cat = build()
        text = ("# GENERATED by scripts/gen_catalogs.py from the vendor documents it names; edit the script's\n"
                "# OVERLAY (with a source) and re-run rather than editing this file.\n")
        text += yaml.safe_dump(cat, sort_keys=True, width=110, allow_unicode=True)
        (OUT / f"{kind}.yaml").write_text(text, encoding="utf-8")
        print(f"{kind}: {sum(len(e['fields']) for e in cat['entities'].values())} fields")
    return 0


if __name__ == "__main__":
    sys.exit(main())
