"""Business rules of the v2 entities: persons, organizations, deals, activities, pipelines, stages.

The OpenAPI documents already enforce types (string vs number, true/false only, ...); this
module adds what the documents state in prose or what the migration guide adds (notes §1, §4,
§7 item 4), each rejected with 400 ``ERR_BAD_REQUEST``:

- required ``name`` (persons: or first_name + last_name), ``title`` (deals), ``name`` +
  ``pipeline_id`` (stages), which the persons document does not mark as required;
- ``person_id`` is read-only on activities: use ``participants[].primary``;
- deal ``status`` is open|won|lost; ``won_time`` only when won, ``lost_time``/``lost_reason`` only
  when lost, ``close_time`` only when won or lost;
- POST cannot create a deleted entity, PATCH cannot delete;
- custom field values match their field's type (see ``custom_fields``);
- referenced ids (owner, org, person, deal, pipeline, stage) must exist (UNCONFIRMED: the vendor's
  status and text for a dangling reference are unknown; 400 keeps client bugs visible).

Messages name fields and rules, never submitted values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flit_sandboxes.pipedrive.clock import (
    now_v2,
    parse_clock_time,
    parse_date,
    parse_rfc3339,
    parse_v1_datetime,
)
from flit_sandboxes.pipedrive.context import SandboxContext
from flit_sandboxes.pipedrive.errors import bad_request
from flit_sandboxes.pipedrive.fixtures import ACTIVITY_TYPE_KEYS, ACTIVITY_TYPES, CURRENCY_CODES
from flit_sandboxes.pipedrive.store import RecordQuery

Doc = dict[str, Any]
ACTIVITY_PERSON_ID_MESSAGE = (
    "'person_id' is a read-only field. Add a primary participant to set 'person_id' instead."
)
VISIBLE_TO = (1, 3, 5, 7)
DEFAULT_VISIBLE_TO = 3  # UNCONFIRMED: the real default follows the company's visibility settings.
DEAL_STATUSES = ("open", "won", "lost")
MARKETING_STATUSES = ("no_consent", "unsubscribed", "subscribed", "archived")
ADDRESS_KEYS = ("value", "country", "admin_area_level_1", "admin_area_level_2", "locality", "sublocality",
                "route", "street_number", "subpremise", "postal_code", "formatted_address")


@dataclass(frozen=True)
class RenderOptions:
    """How to render an entity: ``custom_fields=`` keys, ``include_option_labels``, ``include_fields``."""

    custom_keys: tuple[str, ...] | None = None
    option_labels: bool = False
    include_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class EntityType:
    """One v2 collection: store kind, URL segment, rules and list filters.

    Attributes:
        kind: store kind (``person``).
        collection: URL segment (``persons``).
        field_entity: custom-field entity, or None when the entity takes no custom fields.
        sort_keys: allowed ``sort_by`` values (v2 spec per operation).
        column_filters: integer query filters backed by mirrored store columns.
        apply: ``apply(ctx, doc, body, creating)`` validates ``body`` and writes it into ``doc``.
        defaults: ``defaults(ctx)`` -> a new document skeleton in the vendor's field order.
    """

    kind: str
    collection: str
    field_entity: str | None
    sort_keys: tuple[str, ...]
    column_filters: tuple[str, ...]
    apply: Callable[[SandboxContext, Doc, Doc, bool], None]
    defaults: Callable[[SandboxContext], Doc]

    def create(self, ctx: SandboxContext, body: Doc) -> Doc:
        """Validate ``body``, store a new record and return its document."""
        if body.get("is_deleted") is True:
            raise bad_request("An entity cannot be created as deleted")
        doc = self.defaults(ctx)
        stamp = now_v2()
        doc["add_time"] = doc["update_time"] = stamp
        if "add_time" in body and body["add_time"] is not None:
            doc["add_time"] = _timestamp(body["add_time"], "add_time")
        self.apply(ctx, doc, body, True)
        return ctx.store.insert_record(self.kind, doc)

    def update(self, ctx: SandboxContext, doc: Doc, body: Doc) -> Doc:
        """Validate a PATCH ``body`` against the stored ``doc`` and save the result."""
        if "is_deleted" in body and body["is_deleted"] is not False:
            raise bad_request("PATCH cannot delete an entity; use DELETE")
        updated = dict(doc)
        self.apply(ctx, updated, body, False)
        updated["update_time"] = now_v2()
        return ctx.store.update_record(self.kind, updated)

    def render(self, ctx: SandboxContext, doc: Doc, options: RenderOptions = RenderOptions()) -> Doc:
        """The v2 response object for ``doc``."""
        out = dict(doc)
        if self.field_entity is not None:
            out["custom_fields"] = ctx.fields.render_values(
                self.field_entity, doc.get("custom_fields"),
                only_keys=options.custom_keys, option_labels=options.option_labels,
            )
        if self.kind == "activity" and "attendees" not in options.include_fields:
            out.pop("attendees", None)
        return out


# ------------------------------------------------------------------------ helpers
def _int(body: Doc, key: str, *, nullable: bool = True) -> int | None:
    value = body.get(key)
    if value is None:
        if not nullable:
            raise bad_request(f"{key} must not be null")
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad_request(f"{key} must be an integer")
    return value


def _number(body: Doc, key: str) -> float | int | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise bad_request(f"{key} must be a number")
    return value


def _bool(body: Doc, key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise bad_request(f"{key} must be a boolean (true or false)")
    return value


def _text(body: Doc, key: str, *, required: bool = False, max_length: int | None = None) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise bad_request(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string")
    if required and not value.strip():
        raise bad_request(f"{key} must not be empty")
    if max_length is not None and len(value) > max_length:
        raise bad_request(f"{key} must be at most {max_length} characters")
    return value


def _reference(ctx: SandboxContext, body: Doc, key: str, kind: str) -> int | None:
    value = _int(body, key)
    if value is not None and not ctx.exists(kind, value):
        raise bad_request(f"{key} does not refer to an existing {kind}")
    return value


def _timestamp(value: Any, key: str) -> str:
    try:
        return parse_rfc3339(value)
    except (ValueError, TypeError):
        raise bad_request(f"{key} must be an RFC 3339 timestamp, e.g. 2024-01-01T00:00:00Z") from None


def _date(body: Doc, key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return parse_date(value)
    except (ValueError, TypeError):
        raise bad_request(f"{key} must be a date YYYY-MM-DD") from None


def _visible_to(body: Doc) -> int:
    value = _int(body, "visible_to", nullable=False)
    if value not in VISIBLE_TO:
        raise bad_request("visible_to must be one of 1, 3, 5, 7")
    return value


def _label_ids(body: Doc) -> list[int]:
    value = body.get("label_ids")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise bad_request("label_ids must be an array of integers")
    return value


def _address(body: Doc, key: str) -> Doc | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("value"), str) or set(value) - set(ADDRESS_KEYS):
        raise bad_request(f"{key} must be an address object with at least a string 'value'")
    return {part: value.get(part) for part in ADDRESS_KEYS if part in value}


def _contacts(body: Doc, key: str) -> list[Doc]:
    """emails/phones/im: only ``value`` is required, ``label`` defaults to work, the first entry
    becomes primary when none is (migration guide, notes §4.1)."""
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request(f"{key} must be an array")
    out = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("value"), str) or not item["value"].strip():
            raise bad_request(f"{key}[{index}].value is required")
        primary = item.get("primary", False)
        if not isinstance(primary, bool):
            raise bad_request(f"{key}[{index}].primary must be a boolean (true or false)")
        label = item.get("label") or "work"
        if not isinstance(label, str):
            raise bad_request(f"{key}[{index}].label must be a string")
        out.append({"value": item["value"], "primary": primary, "label": label})
    primaries = [item for item in out if item["primary"]]
    if len(primaries) > 1:
        raise bad_request(f"{key} can have only one primary entry")
    if out and not primaries:
        out[0]["primary"] = True
    return out


def _custom_fields(ctx: SandboxContext, entity: str, doc: Doc, body: Doc) -> None:
    if "custom_fields" not in body:
        return
    values = ctx.fields.validate_values(entity, body["custom_fields"], ctx.exists)
    merged = dict(doc.get("custom_fields") or {})
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    doc["custom_fields"] = merged


def _split_name(name: str) -> tuple[str, str | None]:
    first, _, last = name.strip().partition(" ")
    return first, (last.strip() or None)


# ------------------------------------------------------------------------ persons
def _person_defaults(ctx: SandboxContext) -> Doc:
    return {
        "name": None, "first_name": None, "last_name": None, "owner_id": ctx.me_id, "org_id": None,
        "add_time": None, "update_time": None, "emails": [], "phones": [], "is_deleted": False,
        "visible_to": DEFAULT_VISIBLE_TO, "label_ids": [], "picture_id": None, "postal_address": None,
        "notes": None, "im": [], "birthday": None, "job_title": None, "custom_fields": {},
    }


def _apply_person(ctx: SandboxContext, doc: Doc, body: Doc, creating: bool) -> None:
    if "name" in body:
        doc["name"] = _text(body, "name", required=True)
        doc["first_name"], doc["last_name"] = _split_name(doc["name"])
    elif "first_name" in body or "last_name" in body:
        first = _text(body, "first_name") if "first_name" in body else doc.get("first_name")
        last = _text(body, "last_name") if "last_name" in body else doc.get("last_name")
        if not (first or "").strip() and not (last or "").strip():
            raise bad_request("name is required")
        doc["first_name"], doc["last_name"] = first, last
        doc["name"] = " ".join(part for part in (first, last) if part)
    elif creating:
        raise bad_request("name is required")
    if "owner_id" in body:
        doc["owner_id"] = _reference(ctx, body, "owner_id", "user") or ctx.me_id
    if "org_id" in body:
        doc["org_id"] = _reference(ctx, body, "org_id", "organization")
    for key in ("emails", "phones", "im"):
        if key in body:
            doc[key] = _contacts(body, key)  # a sent list replaces the stored one (notes §4.1)
    if "visible_to" in body:
        doc["visible_to"] = _visible_to(body)
    if "label_ids" in body:
        doc["label_ids"] = _label_ids(body)
    if "postal_address" in body:
        doc["postal_address"] = _address(body, "postal_address")
    if "notes" in body:
        doc["notes"] = _text(body, "notes", max_length=10_000)
    if "birthday" in body:
        doc["birthday"] = _date(body, "birthday")
    if "job_title" in body:
        doc["job_title"] = _text(body, "job_title")
    if "marketing_status" in body:
        status = body["marketing_status"]
        if status not in MARKETING_STATUSES:
            raise bad_request(f"marketing_status must be one of: {', '.join(MARKETING_STATUSES)}")
        doc["marketing_status"] = status
    _custom_fields(ctx, "person", doc, body)


# ------------------------------------------------------------------ organizations
def _organization_defaults(ctx: SandboxContext) -> Doc:
    return {
        "name": None, "owner_id": ctx.me_id, "add_time": None, "update_time": None, "is_deleted": False,
        "visible_to": DEFAULT_VISIBLE_TO, "address": None, "label_ids": [], "website": None, "linkedin": None,
        "industry": None, "annual_revenue": None, "employee_count": None, "custom_fields": {},
    }


def _apply_organization(ctx: SandboxContext, doc: Doc, body: Doc, creating: bool) -> None:
    if "name" in body or creating:
        doc["name"] = _text(body, "name", required=True)
    if "owner_id" in body:
        doc["owner_id"] = _reference(ctx, body, "owner_id", "user") or ctx.me_id
    if "visible_to" in body:
        doc["visible_to"] = _visible_to(body)
    if "label_ids" in body:
        doc["label_ids"] = _label_ids(body)
    if "address" in body:
        doc["address"] = _address(body, "address")
    for key in ("website", "linkedin"):
        if key in body:
            doc[key] = _text(body, key)
    for key in ("industry", "employee_count"):
        if key in body:
            doc[key] = _int(body, key)
    if "annual_revenue" in body:
        doc["annual_revenue"] = _number(body, "annual_revenue")
    _custom_fields(ctx, "organization", doc, body)


# -------------------------------------------------------------------------- deals
def _deal_defaults(ctx: SandboxContext) -> Doc:
    return {
        "title": None, "owner_id": ctx.me_id, "person_id": None, "org_id": None, "pipeline_id": None,
        "stage_id": None, "value": 0, "currency": "EUR", "add_time": None, "update_time": None,
        "stage_change_time": None, "is_deleted": False, "is_archived": False, "archive_time": None,
        "status": "open", "probability": None, "lost_reason": None, "visible_to": DEFAULT_VISIBLE_TO,
        "close_time": None, "won_time": None, "lost_time": None, "expected_close_date": None, "label_ids": [],
        "origin": "API", "origin_id": None, "channel": None, "channel_id": None, "source_lead_id": None,
        "arr": None, "mrr": None, "acv": None, "custom_fields": {},
    }


def _first_stage(ctx: SandboxContext, pipeline_id: int) -> int:
    stages = ctx.store.list_records(
        "stage", RecordQuery(equals={"pipeline_id": pipeline_id}, sort_by="order_nr", limit=1)
    )
    if not stages:
        raise bad_request("The pipeline has no stages")
    return stages[0]["id"]


def _default_pipeline(ctx: SandboxContext) -> int:
    pipelines = ctx.store.list_records("pipeline", RecordQuery(sort_by="id", limit=50))
    if not pipelines:
        raise bad_request("The account has no pipeline")
    return min(pipelines, key=lambda pipeline: (pipeline.get("order_nr") or 0, pipeline["id"]))["id"]


def _apply_deal_placement(ctx: SandboxContext, doc: Doc, body: Doc, creating: bool) -> None:
    previous_stage = doc.get("stage_id")
    if body.get("stage_id") is not None:
        stage_id = _int(body, "stage_id")
        stage = ctx.store.get_record("stage", stage_id)
        if stage is None:
            raise bad_request("stage_id refers to a stage that does not exist")
        if body.get("pipeline_id") is not None and _int(body, "pipeline_id") != stage["pipeline_id"]:
            raise bad_request("stage_id does not belong to pipeline_id")
        doc["stage_id"], doc["pipeline_id"] = stage_id, stage["pipeline_id"]
    elif body.get("pipeline_id") is not None:
        pipeline_id = _reference(ctx, body, "pipeline_id", "pipeline")
        if pipeline_id != doc.get("pipeline_id"):
            doc["pipeline_id"], doc["stage_id"] = pipeline_id, _first_stage(ctx, pipeline_id)
    elif creating:
        doc["pipeline_id"] = _default_pipeline(ctx)
        doc["stage_id"] = _first_stage(ctx, doc["pipeline_id"])
    if not creating and doc["stage_id"] != previous_stage:
        doc["stage_change_time"] = now_v2()


def _apply_deal_status(doc: Doc, body: Doc) -> None:
    """Status and its timestamps (v2 spec descriptions of won_time/lost_time/close_time/lost_reason)."""
    old_status = doc.get("status") or "open"
    status = body.get("status", old_status) or "open"
    if status not in DEAL_STATUSES:
        raise bad_request("status must be one of open, won, lost")
    stamps = {key: _timestamp(body[key], key) for key in ("won_time", "lost_time", "close_time")
              if body.get(key) is not None}
    if "won_time" in stamps and status != "won":
        raise bad_request("won_time can only be set if deal status is won")
    if "lost_time" in stamps and status != "lost":
        raise bad_request("lost_time can only be set if deal status is lost")
    if "close_time" in stamps and status == "open":
        raise bad_request("close_time can only be set if deal status is won or lost")
    if body.get("lost_reason") is not None and status != "lost":
        raise bad_request("lost_reason can only be set if deal status is lost")
    now = now_v2()
    if status != old_status:
        doc["won_time"] = doc["lost_time"] = doc["close_time"] = None
        if status != "lost":
            doc["lost_reason"] = None
        if status == "won":
            doc["won_time"] = stamps.get("won_time", now)
        elif status == "lost":
            doc["lost_time"] = stamps.get("lost_time", now)
        if status != "open":
            doc["close_time"] = stamps.get("close_time", doc["won_time"] or doc["lost_time"])
    else:
        doc.update(stamps)
    doc["status"] = status
    if "lost_reason" in body:
        doc["lost_reason"] = _text(body, "lost_reason")


def _apply_deal(ctx: SandboxContext, doc: Doc, body: Doc, creating: bool) -> None:
    if "title" in body or creating:
        doc["title"] = _text(body, "title", required=True)
    if "owner_id" in body:
        doc["owner_id"] = _reference(ctx, body, "owner_id", "user") or ctx.me_id
    if "person_id" in body:
        doc["person_id"] = _reference(ctx, body, "person_id", "person")
    if "org_id" in body:
        doc["org_id"] = _reference(ctx, body, "org_id", "organization")
    _apply_deal_placement(ctx, doc, body, creating)
    if "value" in body:
        doc["value"] = _number(body, "value") or 0
    if "currency" in body:
        currency = body["currency"]
        if currency not in CURRENCY_CODES:
            raise bad_request("currency must be a currency code listed by GET /v1/currencies")
        doc["currency"] = currency
    _apply_deal_status(doc, body)
    if "probability" in body:
        probability = _number(body, "probability")
        if probability is not None and not 0 <= probability <= 100:
            raise bad_request("probability must be between 0 and 100")
        doc["probability"] = probability
    if "visible_to" in body:
        doc["visible_to"] = _visible_to(body)
    if "label_ids" in body:
        doc["label_ids"] = _label_ids(body)
    if "expected_close_date" in body:
        doc["expected_close_date"] = _date(body, "expected_close_date")
    if "is_archived" in body:
        doc["is_archived"] = _bool(body, "is_archived")
        doc["archive_time"] = now_v2() if doc["is_archived"] else None
    if body.get("archive_time") is not None:
        if not doc["is_archived"]:
            raise bad_request("archive_time can only be set for an archived deal")
        try:  # The v2 spec documents archive_time as "YYYY-MM-DD HH:MM:SS"; accept RFC 3339 too.
            doc["archive_time"] = parse_v1_datetime(body["archive_time"])
        except (ValueError, TypeError):
            doc["archive_time"] = _timestamp(body["archive_time"], "archive_time")
    _custom_fields(ctx, "deal", doc, body)


# --------------------------------------------------------------------- activities
def _activity_defaults(ctx: SandboxContext) -> Doc:
    return {
        "subject": None, "type": None, "owner_id": ctx.me_id, "creator_user_id": ctx.me_id,
        "is_deleted": False, "add_time": None, "update_time": None, "deal_id": None, "lead_id": None,
        "person_id": None, "org_id": None, "project_id": None, "due_date": None, "due_time": None,
        "duration": None, "busy": False, "done": False, "marked_as_done_time": None, "location": None,
        "participants": [], "attendees": [], "conference_meeting_client": None, "conference_meeting_url": None,
        "conference_meeting_id": None, "public_description": None, "priority": None, "note": None,
    }


def _participants(ctx: SandboxContext, body: Doc) -> list[Doc]:
    value = body.get("participants")
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request("participants must be an array")
    out = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise bad_request(f"participants[{index}] must be an object")
        person_id = _reference(ctx, item, "person_id", "person")
        if person_id is None:
            raise bad_request(f"participants[{index}].person_id is required")
        primary = item.get("primary", False)
        if not isinstance(primary, bool):
            raise bad_request(f"participants[{index}].primary must be a boolean (true or false)")
        out.append({"person_id": person_id, "primary": primary})
    primaries = [item for item in out if item["primary"]]
    if len(primaries) > 1:
        raise bad_request("participants can have only one primary participant")
    if out and not primaries:  # UNCONFIRMED: mirrors the emails rule (first becomes primary)
        out[0]["primary"] = True
    return out


def _apply_activity(ctx: SandboxContext, doc: Doc, body: Doc, creating: bool) -> None:
    if "person_id" in body:
        raise bad_request(ACTIVITY_PERSON_ID_MESSAGE)
    if "type" in body or creating:
        activity_type = body.get("type") or "call"  # v1 docs: an unset type is Call (v2 UNCONFIRMED)
        if activity_type not in ACTIVITY_TYPE_KEYS:
            raise bad_request("type must be the key_string of an activity type (GET /v1/activityTypes)")
        doc["type"] = activity_type
    if "subject" in body:
        doc["subject"] = _text(body, "subject")
    if not doc.get("subject"):
        doc["subject"] = next(item["name"] for item in ACTIVITY_TYPES if item["key_string"] == doc["type"])
    if "owner_id" in body:
        doc["owner_id"] = _reference(ctx, body, "owner_id", "user") or ctx.me_id
    if "deal_id" in body:
        doc["deal_id"] = _reference(ctx, body, "deal_id", "deal")
    if "org_id" in body:
        doc["org_id"] = _reference(ctx, body, "org_id", "organization")
    if "lead_id" in body:
        doc["lead_id"] = _text(body, "lead_id")
    if "project_id" in body:
        doc["project_id"] = _int(body, "project_id")
    if "due_date" in body:
        doc["due_date"] = _date(body, "due_date")
    for key in ("due_time", "duration"):
        if key in body:
            try:
                doc[key] = None if body[key] is None else parse_clock_time(body[key])
            except ValueError:
                raise bad_request(f"{key} must be HH:MM or HH:MM:SS") from None
    if "busy" in body:
        doc["busy"] = _bool(body, "busy")
    if "done" in body:
        done = _bool(body, "done")
        if done and not doc.get("done"):
            doc["marked_as_done_time"] = now_v2()
        elif not done:
            doc["marked_as_done_time"] = None
        doc["done"] = done
    if "location" in body:
        doc["location"] = _address(body, "location")
    if "participants" in body:
        doc["participants"] = _participants(ctx, body)
        primary = next((item for item in doc["participants"] if item["primary"]), None)
        doc["person_id"] = primary["person_id"] if primary else None
    if "attendees" in body:
        if not isinstance(body["attendees"], list):
            raise bad_request("attendees must be an array")
        doc["attendees"] = body["attendees"]
    for key in ("public_description", "note"):
        if key in body:
            doc[key] = _text(body, key)
    if "priority" in body:
        doc["priority"] = _int(body, "priority")


# ----------------------------------------------------------- pipelines and stages
def _pipeline_defaults(ctx: SandboxContext) -> Doc:
    return {"name": None, "order_nr": None, "is_deleted": False, "is_deal_probability_enabled": False,
            "add_time": None, "update_time": None}


def _apply_pipeline(ctx: SandboxContext, doc: Doc, body: Doc, creating: bool) -> None:
    if "name" in body or creating:
        doc["name"] = _text(body, "name", required=True)
    if "is_deal_probability_enabled" in body:
        doc["is_deal_probability_enabled"] = _bool(body, "is_deal_probability_enabled")
    if creating:
        doc["order_nr"] = (ctx.store.max_json_value("pipeline", "$.order_nr") or 0) + 1


def _stage_defaults(ctx: SandboxContext) -> Doc:
    return {"order_nr": None, "name": None, "is_deleted": False, "deal_probability": 100, "pipeline_id": None,
            "is_deal_rot_enabled": False, "days_to_rotten": None, "add_time": None, "update_time": None}


def _apply_stage(ctx: SandboxContext, doc: Doc, body: Doc, creating: bool) -> None:
    if "name" in body or creating:
        doc["name"] = _text(body, "name", required=True)
    if "pipeline_id" in body or creating:
        if body.get("pipeline_id") is None:
            raise bad_request("pipeline_id is required")
        pipeline_id = _reference(ctx, body, "pipeline_id", "pipeline")
        if pipeline_id != doc.get("pipeline_id"):
            doc["pipeline_id"] = pipeline_id
            order = ctx.store.max_json_value("stage", "$.order_nr", equals={"pipeline_id": pipeline_id})
            doc["order_nr"] = (order or 0) + 1
    if "deal_probability" in body:
        probability = _int(body, "deal_probability", nullable=False)
        if not 0 <= probability <= 100:
            raise bad_request("deal_probability must be between 0 and 100")
        doc["deal_probability"] = probability
    if "is_deal_rot_enabled" in body:
        doc["is_deal_rot_enabled"] = _bool(body, "is_deal_rot_enabled")
    if "days_to_rotten" in body:
        doc["days_to_rotten"] = _int(body, "days_to_rotten")


ENTITY_TYPES: dict[str, EntityType] = {
    entity.collection: entity
    for entity in (
        EntityType("person", "persons", "person", ("id", "update_time", "add_time"),
                   ("owner_id", "org_id"), _apply_person, _person_defaults),
        EntityType("organization", "organizations", "organization", ("id", "update_time", "add_time"),
                   ("owner_id",), _apply_organization, _organization_defaults),
        EntityType("deal", "deals", "deal", ("id", "update_time", "add_time"),
                   ("owner_id", "person_id", "org_id", "pipeline_id", "stage_id"), _apply_deal, _deal_defaults),
        EntityType("activity", "activities", None, ("id", "update_time", "add_time", "due_date"),
                   ("owner_id", "deal_id", "person_id", "org_id"), _apply_activity, _activity_defaults),
        EntityType("pipeline", "pipelines", None, ("id", "update_time", "add_time"),
                   (), _apply_pipeline, _pipeline_defaults),
        EntityType("stage", "stages", None, ("id", "update_time", "add_time", "order_nr"),
                   ("pipeline_id",), _apply_stage, _stage_defaults),
    )
}
