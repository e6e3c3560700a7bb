"""The Ascend v1 resources the sandbox serves, each as SQL over the demo practice plus a renderer.

Source data: the Dentrix-shaped practice of ``flit_sandboxes.dentrix_practice`` (its
``SCHEMA``), attached read-only as ``admin``; a few derived tables are built once at start-up in
the in-memory ``main`` database (``practice.MATERIALISE``). JSON follows what notes/sources.md §2
shows of Ascend: camelCase fields, references ``{"id", "type", "url"}`` (``url`` = the referenced
resource's API URL), ids as JSON integers, dates ``YYYY-MM-DD``. Everything beyond the notes is
UNCONFIRMED (the vendor's OpenAPI document was not readable): field names, enums, the
``lastModified`` field and the endpoint names marked below.

Conventions chosen (UNCONFIRMED):

* ``lastModified``: ``YYYY-MM-DDTHH:MM:SSZ`` from the row's modified-at column (the practice's
  naive timestamps are taken as UTC). Every resource has it and accepts ``filter=lastModified>=``.
* Appointment ``start``/``end``: practice-local wall time ``YYYY-MM-DDTHH:MM:SS`` without an offset
  (the location's ``timezone`` says which zone).
* Money: JSON numbers in dollars with two decimals; ledger amounts are signed as Dentrix stores
  them (charges positive, payments and adjustments negative).
* Enum values are upper-case words (``ACTIVE``, ``COMPLETED`` ...); the Dentrix codes are kept
  beside them where a migration needs them (appointment ``statusCode``/``statusDescription``).

Endpoints (``/v1/...``; [notes] = path seen in public code, [U] = name UNCONFIRMED):

==========================  ===============================  =====================================
path                        rows                             practice source
==========================  ===============================  =====================================
/v1/patients [notes]        one per patient                  v_patient (+ v_patient_referral "in")
/v1/providers [notes]       one per provider                 v_provider, v_referral_specialty
/v1/locations [notes]       one (the practice)               address of the first v_provider row
/v1/operatories [notes]     one per chair                    v_operatory
/v1/appointments [notes]    one per appointment              v_appt, v_appt_status_codes
/v1/agingbalances/report    one per guarantor account        v_guarantor_balance
  [notes]                   (``data.patientReports[]``)
/v1/insurancecarriers [U]   one per carrier                  v_insurance_plans (1 carrier per plan)
/v1/insuranceplans [U]      one per plan                     v_insurance_plans
/v1/patientinsurance [U]    one per covered patient          v_patient_insurance, v_insured
/v1/treatmentplans [U]      one per plan, ``items[]`` nested v_treatment_plan, proccode
/v1/chartnotes [U]          one per clinical note            v_clinical_notes
/v1/transactions [U]        one per ledger row               fullproclog (chartstatus <> 101)
/v1/referralsources [U]     one per referral source          v_referral, v_referral_specialty
/v1/patientreferrals [U]    one per patient referral         v_patient_referral
/v1/documents [U]           one per document (metadata)      v_document
/v1/claims [U]              one per insured finished visit   derived, see ``practice`` module
==========================  ===============================  =====================================

``/v1/agingbalances?patientId=N`` [notes: patientId required] answers one account object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flit_sandboxes import dentrix_practice_codes as C
from flit_sandboxes.ascend.filters import FilterField

Row = Mapping[str, Any]

# --- code maps (UNCONFIRMED vocabularies) ------------------------------------------------------------
APPOINTMENT_STATUS = {
    C.STATUS_SCHEDULED: "UNCONFIRMED",  # notes §2: appointment status UNCONFIRMED|CONFIRMED
    C.STATUS_CONFIRMED: "CONFIRMED",
    C.STATUS_COMPLETE: "COMPLETED",
    C.STATUS_CHECKED_OUT: "CHECKED_OUT",
    C.STATUS_BROKEN: "NO_SHOW",
    C.STATUS_CANCELLED: "CANCELLED",
}
PATIENT_STATUS = {1: "ACTIVE", 2: "NON_PATIENT", 3: "INACTIVE", 4: "ARCHIVED"}
GENDER = {1: "MALE", 2: "FEMALE"}
TRANSACTION_TYPE = {C.CLASS_PROCEDURE: "CHARGE", C.CLASS_PATIENT_PAYMENT: "PATIENT_PAYMENT",
                    C.CLASS_INSURANCE_PAYMENT: "INSURANCE_PAYMENT", C.CLASS_ADJUSTMENT: "ADJUSTMENT"}
TRANSACTION_DESCRIPTION = {C.CLASS_PATIENT_PAYMENT: "Patient payment", C.CLASS_INSURANCE_PAYMENT: "Insurance payment",
                           C.CLASS_ADJUSTMENT: "Adjustment"}
MIME_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
              "dcm": "application/dicom", "tif": "image/tiff"}
LOCATION_ID = 1  # the demo practice is one location


@dataclass(frozen=True)
class RenderContext:
    """What renderers need beyond the row: the API URL for references and location settings."""

    api_url: str  # e.g. "http://127.0.0.1:8080/ascend-gateway/api"
    location_name: str = "Sandbox Dental"
    timezone: str = "America/New_York"

    def ref(self, type_name: str, collection: str, ident: Any) -> dict[str, Any] | None:
        """``{"id", "type", "url"}`` or None when ``ident`` is NULL (notes §2 reference shape)."""
        if ident is None:
            return None
        return {"id": ident, "type": type_name, "url": f"{self.api_url}/v1/{collection}/{ident}"}


@dataclass(frozen=True)
class Resource:
    """One paged collection.

    Attributes:
        path: collection path below the API base (``/v1/patients``).
        type_name: the reference ``type`` of its rows (``PatientV1``).
        source: SQL ``FROM`` clause (joins included) over ``admin.*`` / derived ``main.*`` tables.
        columns: SQL select list the renderer reads (by name).
        id_sql: the row id expression (paging order, ``id`` filter, single GET).
        modified_sql: the modified-at expression (``lastModified`` filter).
        render: ``(row, RenderContext) -> dict`` JSON object of one row.
        where: fixed condition (e.g. ledger rows only), or "".
        filters: filterable fields beyond ``id`` and ``lastModified``.
        items: for nested collections, ``(parent ids) -> {parent id: [item dicts]}`` is filled by
            ``practice.PracticeData`` through ``items_sql``; rows then carry ``items``.
        items_sql: SQL with one ``{ids}`` placeholder returning item rows with a ``parent_id`` column.
        render_item: renderer of one item row.
        wrap: name of the list inside ``data`` (``patientReports``) or None for ``data: [...]``.
    """

    path: str
    type_name: str
    source: str
    columns: str
    id_sql: str
    modified_sql: str
    render: Callable[[Row, RenderContext], dict[str, Any]]
    where: str = ""
    filters: dict[str, FilterField] = field(default_factory=dict)
    items_sql: str | None = None
    render_item: Callable[[Row, RenderContext], dict[str, Any]] | None = None
    wrap: str | None = None

    @property
    def collection(self) -> str:
        """Last path segment (``patients``); the reference URL collection."""
        return self.path.rsplit("/", 1)[-1]

    def all_filters(self) -> dict[str, FilterField]:
        """``id``, ``lastModified`` and the resource's own filter fields."""
        return {"id": FilterField(self.id_sql, "int"), "lastModified": FilterField(self.modified_sql, "ts"),
                **self.filters}


# --- value helpers ---------------------------------------------------------------------------------------


def ts(value: str | None) -> str | None:
    """Practice ``YYYY-MM-DD HH:MM:SS`` -> ``YYYY-MM-DDTHH:MM:SSZ``."""
    return None if value is None else value.replace(" ", "T") + "Z"


def money(value: float | None) -> float | None:
    """Dollars rounded to cents (None stays None)."""
    return None if value is None else round(float(value), 2)


def address(row: Row, street1: str, street2: str | None, city: str, state: str, postal: str) -> dict[str, Any]:
    """``{"street1", "street2", "city", "state", "postalCode"}`` from the named columns."""
    return {"street1": row[street1], "street2": row[street2] if street2 else None, "city": row[city],
            "state": row[state], "postalCode": row[postal]}


def surfaces(row: Row) -> str | None:
    """Surface letters (``MOD``) from Dentrix's surface flags, or None."""
    letters = "".join(letter for flag, letter in zip(C.SURFACE_FLAGS, C.SURFACE_LETTERS, strict=True) if row[flag])
    return letters or None


def _location(ctx: RenderContext) -> dict[str, Any] | None:
    return ctx.ref("LocationV1", "locations", LOCATION_ID)


# --- renderers ---------------------------------------------------------------------------------------------


def render_patient(r: Row, c: RenderContext) -> dict[str, Any]:
    """PatientV1 (/v1/patients): JSON object of one row."""
    return {
        "id": r["patient_id"], "firstName": r["first_name"], "lastName": r["last_name"],
        "middleInitial": r["mi"], "preferredName": r["preferred_name"], "title": r["salutation"],
        "birthDate": r["birth_date"], "gender": GENDER.get(r["gender"], "UNKNOWN"),
        "status": PATIENT_STATUS.get(r["status"], "UNKNOWN"),
        "emailAddress": r["email"], "mobilePhone": r["mobile_phone"], "homePhone": r["home_phone"],
        "workPhone": r["work_phone"],
        "address": address(r, "address_line1", "address_line2", "city", "state", "zipcode"),
        "guarantor": c.ref("PatientV1", "patients", r["guar_id"]),
        "primaryProvider": c.ref("ProviderV1", "providers", r["pri_provider_id"]),
        "secondaryProvider": c.ref("ProviderV1", "providers", r["sec_provider_id"]),
        "preferredLocation": _location(c),
        "referralSource": c.ref("ReferralSourceV1", "referralsources", r["referral_id"]),
        "firstVisitDate": r["first_visit_date"], "lastVisitDate": r["last_visit_date"],
        "lastModified": ts(r["modified_time_stamp"]),
    }


def render_provider(r: Row, c: RenderContext) -> dict[str, Any]:
    """ProviderV1 (/v1/providers): JSON object of one row."""
    return {
        "id": r["provider_id"], "shortName": r["provider_code"], "firstName": r["first_name"],
        "lastName": r["last_name"], "middleInitial": r["mi"], "suffix": r["suffix"], "npi": r["npi"],
        "providerType": "HYGIENIST" if r["issecondaryprovider"] else "DENTIST",
        "specialty": r["specialty"], "active": not r["inactive"], "phone": r["work_phone"],
        # v_provider.email is a documented default column of the demo practice (older files lack it)
        "emailAddress": r["email"] if "email" in r.keys() else None,
        "location": _location(c), "lastModified": ts(r["modified_time_stamp"]),
    }


def render_location(r: Row, c: RenderContext) -> dict[str, Any]:
    """LocationV1 (/v1/locations): JSON object of one row."""
    return {
        "id": LOCATION_ID, "name": c.location_name, "timezone": c.timezone,
        "address": address(r, "address_line1", "address_line2", "city", "state", "zip_code"),
        "phone": r["work_phone"], "lastModified": ts(r["modified_time_stamp"]),
    }


def render_operatory(r: Row, c: RenderContext) -> dict[str, Any]:
    """OperatoryV1 (/v1/operatories): JSON object of one row."""
    return {"id": r["op_id"], "name": r["op_title"], "active": True, "location": _location(c),
            "lastModified": ts(r["modified_time_stamp"])}


def render_appointment(r: Row, c: RenderContext) -> dict[str, Any]:
    """AppointmentV1 (/v1/appointments): JSON object of one row."""
    hygiene = str(r["reason"] or "").startswith("Recare")
    return {
        "id": r["appointment_id"], "start": r["start_local"], "end": r["end_local"], "duration": r["length"],
        "status": APPOINTMENT_STATUS.get(r["status_id"], "UNKNOWN"), "statusCode": r["status_id"],
        "statusDescription": r["status_description"], "broken": bool(r["broken"]),
        "bookingType": "RECARE" if hygiene else "TREATMENT",  # notes §2 enum TREATMENT|RECARE|NEW_PATIENT|...
        "reason": r["reason"], "amount": money(r["amount"]),
        "patient": c.ref("PatientV1", "patients", r["patient_id"]),
        "provider": c.ref("ProviderV1", "providers", r["provider_id"]),
        "additionalProvider": c.ref("ProviderV1", "providers", r["addtnl_provider_id"]),
        "operatory": c.ref("OperatoryV1", "operatories", r["operatory_id"]),
        "location": _location(c), "lastModified": ts(r["modified_time_stamp"]),
    }


def render_aging(r: Row, c: RenderContext) -> dict[str, Any]:
    """AgingReceivableV1 (aging report row / per-patient account): JSON object of one row."""
    buckets = [money(r[k]) or 0.0 for k in ("balance_0_30_days", "balance_31_60_days", "balance_61_90_days",
                                            "balance_91_plus_days")]
    return {
        "patient": c.ref("PatientV1", "patients", r["patient_id"]),
        "guarantor": c.ref("PatientV1", "patients", r["guar_id"]),
        "balance0To30Days": buckets[0], "balance31To60Days": buckets[1], "balance61To90Days": buckets[2],
        "balanceOver90Days": buckets[3], "totalBalance": round(sum(buckets), 2),
        "location": _location(c), "lastModified": ts(r["modified_time_stamp"]),
    }


def render_carrier(r: Row, c: RenderContext) -> dict[str, Any]:
    """InsuranceCarrierV1 (/v1/insurancecarriers): JSON object of one row."""
    return {"id": r["ins_id"], "name": r["ins_co_name"], "payerId": r["payor_id"],
            "address": address(r, "address_line1", "address_line2", "city", "state", "zipcode"),
            "lastModified": ts(r["modified_time_stamp"])}


def render_plan(r: Row, c: RenderContext) -> dict[str, Any]:
    """InsurancePlanV1 (/v1/insuranceplans): JSON object of one row."""
    return {"id": r["ins_id"], "carrier": c.ref("InsuranceCarrierV1", "insurancecarriers", r["ins_id"]),
            "carrierName": r["ins_co_name"], "groupName": r["group_name"], "groupNumber": r["group_number"],
            "lastModified": ts(r["modified_time_stamp"])}


def _coverage(r: Row, c: RenderContext, p: str, rank: str) -> dict[str, Any] | None:
    if r[f"{p}_insured_id"] is None:
        return None
    return {
        "rank": rank, "insuredId": r[f"{p}_insured_id"],
        "carrier": c.ref("InsuranceCarrierV1", "insurancecarriers", r[f"{p}_plan_id"]),
        "plan": c.ref("InsurancePlanV1", "insuranceplans", r[f"{p}_plan_id"]),
        "carrierName": r[f"{p}_carrier_name"], "groupName": r[f"{p}_group_name"],
        "groupNumber": r[f"{p}_group_number"], "memberId": r[f"{p}_member_id"],
        "subscriber": c.ref("PatientV1", "patients", r[f"{p}_subscriber_id"]),
    }


def render_patient_insurance(r: Row, c: RenderContext) -> dict[str, Any]:
    """PatientInsuranceV1 (/v1/patientinsurance); primary/secondary null when absent: JSON object of one row."""
    return {"id": r["patient_id"], "patient": c.ref("PatientV1", "patients", r["patient_id"]),
            "primary": _coverage(r, c, "p", "PRIMARY"), "secondary": _coverage(r, c, "s", "SECONDARY"),
            "lastModified": ts(r["modified"])}


def render_treatment_plan(r: Row, c: RenderContext) -> dict[str, Any]:
    """TreatmentPlanV1 (/v1/treatmentplans); ``items`` filled by PracticeData: JSON object of one row."""
    return {"id": r["plan_id"], "patient": c.ref("PatientV1", "patients", r["patient_id"]),
            "provider": c.ref("ProviderV1", "providers", r["provider_id"]), "createdDate": r["plan_date"],
            "status": r["status"], "totalFee": money(r["total_fee"]), "items": [],
            "lastModified": ts(r["modified"])}


def render_plan_item(r: Row, c: RenderContext) -> dict[str, Any]:
    """one treatment plan item (``items[]``): JSON object of one row."""
    return {"id": r["plan_item_id"], "sequence": r["item_order"], "procedureCode": r["adacode"],
            "description": r["description"], "tooth": r["tooth"], "surfaces": r["surfaces"],
            "fee": money(r["fee"]), "status": str(r["status"]).upper(),
            "transaction": c.ref("TransactionV1", "transactions", r["procid"]) if r["status"] == "completed" else None,
            "lastModified": ts(r["modified_time_stamp"])}


def render_chart_note(r: Row, c: RenderContext) -> dict[str, Any]:
    """ChartNoteV1 (/v1/chartnotes): JSON object of one row."""
    return {"id": r["note_id"], "date": r["note_date"], "text": r["note_text"],
            "patient": c.ref("PatientV1", "patients", r["patient_id"]),
            "provider": c.ref("ProviderV1", "providers", r["provider_id"]),
            "appointment": c.ref("AppointmentV1", "appointments", r["appointment_id"]),
            "lastModified": ts(r["modified_time_stamp"])}


def render_transaction(r: Row, c: RenderContext) -> dict[str, Any]:
    """TransactionV1 (/v1/transactions); amount signed as Dentrix stores it: JSON object of one row."""
    cls = r["proclogclass"]
    return {
        "id": r["procid"], "type": TRANSACTION_TYPE.get(cls, "OTHER"), "date": r["procdate"],
        "amount": money(r["amt"]), "procedureCode": r["adacode"],
        "description": r["description"] or TRANSACTION_DESCRIPTION.get(cls),
        "tooth": r["toothrangestart"], "surfaces": surfaces(r), "checkNumber": r["checknum"],
        "patient": c.ref("PatientV1", "patients", r["patid"]),
        "guarantor": c.ref("PatientV1", "patients", r["guarid"]),
        "provider": c.ref("ProviderV1", "providers", r["provid"]),
        "lastModified": ts(r["automodifiedtimestamp"]),
    }


def render_referral_source(r: Row, c: RenderContext) -> dict[str, Any]:
    """ReferralSourceV1 (/v1/referralsources): JSON object of one row."""
    return {"id": r["referral_id"], "name": r["practice_name"], "firstName": r["first_name"],
            "lastName": r["last_name"], "specialty": r["specialty"], "phone": r["phone"], "email": r["email"],
            "address": address(r, "address_line1", None, "city", "state", "zip_code"),
            "lastModified": ts(r["modified_time_stamp"])}


def render_patient_referral(r: Row, c: RenderContext) -> dict[str, Any]:
    """PatientReferralV1 (/v1/patientreferrals): JSON object of one row."""
    return {"id": r["patient_referral_id"], "patient": c.ref("PatientV1", "patients", r["patient_id"]),
            "referralSource": c.ref("ReferralSourceV1", "referralsources", r["referral_id"]),
            "date": r["referral_date"], "direction": str(r["direction"]).upper(),
            "lastModified": ts(r["modified_time_stamp"])}


def render_document(r: Row, c: RenderContext) -> dict[str, Any]:
    """DocumentV1 (/v1/documents) with its ``downloadUrl``: JSON object of one row."""
    ext = str(r["file_type"] or "").lower()
    return {"id": r["document_id"], "patient": c.ref("PatientV1", "patients", r["patient_id"]),
            "date": r["doc_date"], "category": r["category"], "description": r["description"],
            "fileName": r["file_name"], "fileType": ext, "mimeType": MIME_TYPES.get(ext, "application/octet-stream"),
            "fileSize": r["file_size"], "downloadUrl": f"{c.api_url}/v1/documents/{r['document_id']}/content",
            "lastModified": ts(r["modified_time_stamp"])}


def render_claim(r: Row, c: RenderContext) -> dict[str, Any]:
    """ClaimV1 (/v1/claims); derivation in ``practice``: JSON object of one row."""
    return {
        "id": r["claim_id"], "patient": c.ref("PatientV1", "patients", r["patient_id"]),
        "provider": c.ref("ProviderV1", "providers", r["provider_id"]),
        "appointment": c.ref("AppointmentV1", "appointments", r["claim_id"]),
        "carrier": c.ref("InsuranceCarrierV1", "insurancecarriers", r["plan_id"]),
        "plan": c.ref("InsurancePlanV1", "insuranceplans", r["plan_id"]),
        "subscriber": c.ref("PatientV1", "patients", r["subscriber_id"]), "memberId": r["member_id"],
        "serviceDate": r["service_date"], "billedAmount": money(r["billed"]), "paidAmount": money(r["paid"]),
        "paidDate": r["paid_date"], "status": "PAID" if r["paid"] and r["paid"] > 0 else "SUBMITTED",
        "lastModified": ts(r["modified"]),
    }


# --- the table ---------------------------------------------------------------------------------------------

_LOC = FilterField("1", "int")
_START = ("a.appointment_date || ' ' || printf('%02d:%02d:00', a.start_hour, a.start_minute)")

RESOURCES: tuple[Resource, ...] = (
    Resource(
        "/v1/patients", "PatientV1",
        "admin.v_patient p LEFT JOIN main.referral_in r ON r.patient_id = p.patient_id",
        "p.*, r.referral_id AS referral_id", "p.patient_id", "p.modified_time_stamp", render_patient,
        filters={"guarantor.id": FilterField("p.guar_id", "int"),
                 "primaryProvider.id": FilterField("p.pri_provider_id", "int"),
                 "lastName": FilterField("p.last_name", "text"), "location.id": _LOC}),
    Resource(
        "/v1/providers", "ProviderV1",
        "admin.v_provider v LEFT JOIN admin.v_referral_specialty s ON s.defid = v.specialty_id",
        "v.*, s.description AS specialty", "v.provider_id", "v.modified_time_stamp", render_provider,
        filters={"location.id": _LOC}),
    Resource(
        "/v1/locations", "LocationV1",
        "(SELECT 1 AS location_id, * FROM admin.v_provider ORDER BY provider_id LIMIT 1) l", "l.*", "l.location_id",
        "l.modified_time_stamp",
        render_location),
    Resource(
        "/v1/operatories", "OperatoryV1", "admin.v_operatory o", "o.*", "o.op_id", "o.modified_time_stamp",
        render_operatory, filters={"location.id": _LOC}),
    Resource(
        "/v1/appointments", "AppointmentV1",
        "admin.v_appt a LEFT JOIN admin.v_appt_status_codes s ON s.defid = a.status_id",
        f"a.*, s.descript AS status_description, replace({_START}, ' ', 'T') AS start_local, "
        f"strftime('%Y-%m-%dT%H:%M:%S', {_START}, '+' || a.length || ' minutes') AS end_local",
        "a.appointment_id", "a.modified_time_stamp", render_appointment,
        filters={"patient.id": FilterField("a.patient_id", "int"), "provider.id": FilterField("a.provider_id", "int"),
                 "operatory.id": FilterField("a.operatory_id", "int"), "start": FilterField(_START, "ts"),
                 "location.id": _LOC}),
    Resource(
        "/v1/agingbalances/report", "AgingReceivableV1", "admin.v_guarantor_balance g",
        "g.*, g.guar_id AS patient_id", "g.guar_id", "g.modified_time_stamp", render_aging,
        filters={"patient.id": FilterField("g.guar_id", "int"), "location.id": _LOC}, wrap="patientReports"),
    Resource(
        "/v1/insurancecarriers", "InsuranceCarrierV1", "admin.v_insurance_plans i", "i.*", "i.ins_id",
        "i.modified_time_stamp", render_carrier, filters={"name": FilterField("i.ins_co_name", "text")}),
    Resource(
        "/v1/insuranceplans", "InsurancePlanV1", "admin.v_insurance_plans i", "i.*", "i.ins_id",
        "i.modified_time_stamp", render_plan, filters={"carrier.id": FilterField("i.ins_id", "int")}),
    Resource(
        "/v1/patientinsurance", "PatientInsuranceV1",
        "admin.v_patient_insurance pi"
        " LEFT JOIN admin.v_insured i1 ON i1.insured_id = pi.primary_insured_id"
        " LEFT JOIN admin.v_insurance_plans p1 ON p1.ins_id = i1.ins_plan_id"
        " LEFT JOIN admin.v_insured i2 ON i2.insured_id = pi.secondary_insured_id"
        " LEFT JOIN admin.v_insurance_plans p2 ON p2.ins_id = i2.ins_plan_id",
        "pi.patient_id, "
        "max(pi.modified_time_stamp, coalesce(i1.modified_time_stamp, ''), coalesce(i2.modified_time_stamp, ''))"
        " AS modified, "
        "i1.insured_id AS p_insured_id, i1.ins_plan_id AS p_plan_id, i1.id_num AS p_member_id, "
        "i1.ins_party_id AS p_subscriber_id, p1.ins_co_name AS p_carrier_name, p1.group_name AS p_group_name, "
        "p1.group_number AS p_group_number, "
        "i2.insured_id AS s_insured_id, i2.ins_plan_id AS s_plan_id, i2.id_num AS s_member_id, "
        "i2.ins_party_id AS s_subscriber_id, p2.ins_co_name AS s_carrier_name, p2.group_name AS s_group_name, "
        "p2.group_number AS s_group_number",
        "pi.patient_id",
        "max(pi.modified_time_stamp, coalesce(i1.modified_time_stamp, ''), coalesce(i2.modified_time_stamp, ''))",
        render_patient_insurance, filters={"patient.id": FilterField("pi.patient_id", "int")}),
    Resource(
        "/v1/treatmentplans", "TreatmentPlanV1", "main.tplan t", "t.*", "t.plan_id", "t.modified",
        render_treatment_plan,
        filters={"patient.id": FilterField("t.patient_id", "int"), "provider.id": FilterField("t.provider_id", "int"),
                 "status": FilterField("t.status", "text")},
        items_sql="SELECT i.*, i.plan_id AS parent_id FROM main.tplan_item i WHERE i.plan_id IN ({ids}) "
                  "ORDER BY i.plan_id, i.item_order, i.plan_item_id",
        render_item=render_plan_item),
    Resource(
        "/v1/chartnotes", "ChartNoteV1", "admin.v_clinical_notes n", "n.*", "n.note_id", "n.modified_time_stamp",
        render_chart_note,
        filters={"patient.id": FilterField("n.patient_id", "int"), "provider.id": FilterField("n.provider_id", "int"),
                 "appointment.id": FilterField("n.appointment_id", "int"), "date": FilterField("n.note_date", "date")}),
    Resource(
        "/v1/transactions", "TransactionV1",
        "admin.fullproclog f LEFT JOIN admin.proccode pc ON pc.proccodeid = f.proccodeid",
        "f.*, pc.adacode AS adacode, pc.description AS description", "f.procid", "f.automodifiedtimestamp",
        render_transaction, where=f"f.chartstatus <> {C.CHART_TREATMENT_PLANNED}",
        filters={"patient.id": FilterField("f.patid", "int"), "guarantor.id": FilterField("f.guarid", "int"),
                 "date": FilterField("f.procdate", "date")}),
    Resource(
        "/v1/referralsources", "ReferralSourceV1",
        "admin.v_referral r LEFT JOIN admin.v_referral_specialty s ON s.defid = r.specialty_id",
        "r.*, s.description AS specialty", "r.referral_id", "r.modified_time_stamp", render_referral_source),
    Resource(
        "/v1/patientreferrals", "PatientReferralV1", "admin.v_patient_referral pr", "pr.*",
        "pr.patient_referral_id", "pr.modified_time_stamp", render_patient_referral,
        filters={"patient.id": FilterField("pr.patient_id", "int"),
                 "referralSource.id": FilterField("pr.referral_id", "int")}),
    Resource(
        "/v1/documents", "DocumentV1", "admin.v_document d", "d.*", "d.document_id", "d.modified_time_stamp",
        render_document, filters={"patient.id": FilterField("d.patient_id", "int"),
                                  "category": FilterField("d.category", "text")}),
    Resource(
        "/v1/claims", "ClaimV1", "main.claim c", "c.*", "c.claim_id", "c.modified", render_claim,
        filters={"patient.id": FilterField("c.patient_id", "int"),
                 "serviceDate": FilterField("c.service_date", "date"), "status": FilterField(
                     "CASE WHEN c.paid > 0 THEN 'PAID' ELSE 'SUBMITTED' END", "text")}),
)
BY_PATH: dict[str, Resource] = {r.path: r for r in RESOURCES}
