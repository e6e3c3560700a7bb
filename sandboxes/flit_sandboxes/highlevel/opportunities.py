"""Pipelines and opportunities (spec:opportunities; notes §4.8).

The v2 API has no pipeline-create operation (spec:opportunities lists only ``GET
/opportunities/pipelines``), so pipelines are seeded through ``create_app(pipelines=...)``
(``context._pipeline``). Stored ``pipeline``: ``{id, name, stages: [{id, name, position,
showInFunnel, showInPieChart}], showInFunnel, showInPieChart, locationId}`` (the spec types
``stages`` as an array of arrays; the stage object shape is UNCONFIRMED).

Stored ``opportunity``: ``{name, monetaryValue, pipelineId, pipelineStageId, assignedTo, status,
source, lastStatusChangeAt, lastStageChangeAt, lastActionDate, indexVersion, createdAt, updatedAt,
contactId, locationId, lostReasonId, followers, customFieldValues {field id: value}}``. ``render``
gives ``SearchOpportunitiesResponseSchema``: the stored fields plus ``contact {id, name,
companyName, email, phone, tags}``, ``notes``/``tasks``/``calendarEvents`` (empty lists) and
``customFields: [{"id", "fieldValue"}]`` (``CustomFieldResponseSchema``; note ``fieldValue`` here
vs ``value`` on contacts). Custom field values are the location's ``model: "opportunity"`` fields,
sent like contact values (``{id | key, field_value}``).

Checks (400 unless noted; wording UNCONFIRMED except the duplicate): unknown ``pipelineId``
(``"Pipeline with id … not found"``), a ``pipelineStageId`` not in the pipeline (``"Pipeline stage
with id … not found"``), unknown ``contactId`` (``"Contact with id … not found"``), ``status:
"all"`` on a write (422; "all" is a search filter), unknown custom field. Without
``pipelineStageId`` the pipeline's first stage is used (UNCONFIRMED).

Duplicate rule (observed live [code]): unless the location allows duplicate opportunities
(``allow_duplicate_opportunity``; ``settings.allowDuplicateOpportunity``), a second opportunity for
the same contact in the same pipeline (any status) is refused with 400 ``{"statusCode": 400,
"message": "Can not create duplicate opportunity for the contact.", "error": "Bad Request",
"code": "OPPORTUNITY_NO_DUPLICATE", "meta": {"existingId": "…"}}``.
"""

from __future__ import annotations

from typing import Any

from flit_sandboxes.highlevel import contacts, custom_fields
from flit_sandboxes.highlevel.clock import now_iso
from flit_sandboxes.highlevel.errors import ApiError, bad_request, unprocessable
from flit_sandboxes.highlevel.store import HighLevelStore

PIPELINE = "pipeline"
KIND = "opportunity"
WRITABLE_STATUSES = ("open", "won", "lost", "abandoned")
DUPLICATE_MESSAGE = "Can not create duplicate opportunity for the contact."
DUPLICATE_CODE = "OPPORTUNITY_NO_DUPLICATE"
SCALARS = ("name", "monetaryValue", "assignedTo", "lostReasonId")


def not_found(opportunity_id: str) -> ApiError:
    """400 for an unknown opportunity id (modelled on contacts; UNCONFIRMED)."""
    return bad_request(f"Opportunity with id {opportunity_id} not found")


def get_or_400(store: HighLevelStore, opportunity_id: str) -> dict[str, Any]:
    """The stored opportunity, or ``not_found``."""
    opportunity = store.get(KIND, opportunity_id)
    if opportunity is None:
        raise not_found(opportunity_id)
    return opportunity


def _stage(store: HighLevelStore, pipeline_id: str, stage_id: str | None) -> str:
    """The stage id to store: ``stage_id`` checked against the pipeline, or its first stage."""
    pipeline = store.get(PIPELINE, pipeline_id)
    if pipeline is None:
        raise bad_request(f"Pipeline with id {pipeline_id} not found")
    if stage_id is None:
        return pipeline["stages"][0]["id"]
    if all(stage["id"] != stage_id for stage in pipeline["stages"]):
        raise bad_request(f"Pipeline stage with id {stage_id} not found")
    return stage_id


def _status(body: dict[str, Any]) -> None:
    if "status" in body and body["status"] not in WRITABLE_STATUSES:
        raise unprocessable([f"status must be one of: {', '.join(WRITABLE_STATUSES)}"])


def find_for_contact(store: HighLevelStore, contact_id: str, pipeline_id: str) -> dict[str, Any] | None:
    """The contact's (oldest) opportunity in the pipeline, if any."""
    return next((o for o in store.list(KIND) if o["contactId"] == contact_id and o["pipelineId"] == pipeline_id),
                None)


def create(store: HighLevelStore, body: dict[str, Any], *, allow_duplicates: bool) -> dict[str, Any]:
    """Create from a validated ``CreateDto`` body (checks in the module docstring)."""
    _status(body)
    stage_id = _stage(store, body["pipelineId"], body.get("pipelineStageId"))
    contacts.get_or_400(store, body["contactId"])
    if not allow_duplicates:
        existing = find_for_contact(store, body["contactId"], body["pipelineId"])
        if existing is not None:
            raise ApiError(400, DUPLICATE_MESSAGE, code=DUPLICATE_CODE, meta={"existingId": existing["id"]})
    values = custom_fields.resolve_values(store, body.get("customFields") or [], model="opportunity")
    stamp = now_iso()
    doc = {key: body.get(key) for key in SCALARS}
    doc.update(pipelineId=body["pipelineId"], pipelineStageId=stage_id, status=body["status"], source="",
               lastStatusChangeAt=stamp, lastStageChangeAt=stamp, lastActionDate=stamp, indexVersion=1,
               createdAt=stamp, updatedAt=stamp, contactId=body["contactId"], locationId=body["locationId"],
               followers=list(body.get("followers") or []), customFieldValues=values)
    return store.insert(KIND, doc, parent=body["locationId"])


def update(store: HighLevelStore, opportunity: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Apply an ``UpdateOpportunityDto``-like body (a new ``pipelineId`` without a stage moves the
    opportunity to that pipeline's first stage; custom field values merge by id)."""
    _status(body)
    stamp = now_iso()
    pipeline_id = body.get("pipelineId") or opportunity["pipelineId"]
    if "pipelineStageId" in body or pipeline_id != opportunity["pipelineId"]:
        stage_id = _stage(store, pipeline_id, body.get("pipelineStageId"))
        if stage_id != opportunity["pipelineStageId"]:
            opportunity["lastStageChangeAt"] = stamp
        opportunity.update(pipelineId=pipeline_id, pipelineStageId=stage_id)
    if "status" in body and body["status"] != opportunity["status"]:
        opportunity.update(status=body["status"], lastStatusChangeAt=stamp)
    for key in SCALARS:
        if key in body:
            opportunity[key] = body[key]
    values = custom_fields.resolve_values(store, body.get("customFields") or [], model="opportunity")
    opportunity["customFieldValues"] = {**opportunity.get("customFieldValues", {}), **values}
    opportunity.update(updatedAt=stamp, lastActionDate=stamp)
    store.replace(KIND, opportunity)
    return opportunity


def render(store: HighLevelStore, opportunity: dict[str, Any]) -> dict[str, Any]:
    """``SearchOpportunitiesResponseSchema`` view of a stored opportunity."""
    out = {key: value for key, value in opportunity.items() if key != "customFieldValues"}
    contact = store.get(contacts.KIND, opportunity["contactId"]) or {"id": opportunity["contactId"]}
    out["contact"] = {"id": contact["id"], "name": contacts.full_name(contact),
                      "companyName": contact.get("companyName", ""), "email": contact.get("email", ""),
                      "phone": contact.get("phone", ""), "tags": contact.get("tags", [])}
    out.update(notes=[], tasks=[], calendarEvents=[])
    out["customFields"] = [{"id": entry["id"], "fieldValue": entry["value"]}
                           for entry in custom_fields.render_values(opportunity.get("customFieldValues", {}))]
    return out
