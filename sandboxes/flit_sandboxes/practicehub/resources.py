"""The PracticeHub resources the sandbox serves: table columns, JSON shape and filters in one table.

notes/sources.md §3 (cited as notes §3) confirms only ``/api/patients`` and ``/api/appointments``
and no field names. Every other path, every field name and every enum here is the sandbox's
UNCONFIRMED choice, in the style the documented page envelope suggests (snake_case keys):

* ids are JSON integers; references are flat ``<thing>_id`` integers;
* timestamps ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), dates ``YYYY-MM-DD``;
* money: JSON numbers in dollars with two decimals, plus ``currency``;
* every record has ``created_at`` and ``updated_at``; ``updated_at`` drives ``?updated=``.

A ``Field`` names one JSON key (dotted = nested object) and the column holding it; from the same
list the store gets its DDL and the SQL ``json_object(...)`` that renders a row, so the JSON text
of a page is built by SQLite without a Python loop per row.

==========================  ==========================================================  ============
path                        one row per                                                 patient key
==========================  ==========================================================  ============
/api/patients [notes]       patient                                                     id
/api/practitioners          practitioner (clinician)                                    -
/api/patient_practitioners  patient-practitioner association (primary / secondary)      patient_id
/api/appointments [notes]   appointment (booked/confirmed/arrived/completed/            patient_id
                            cancelled/no_show)
/api/treatment_notes        treatment note of a completed appointment: ICD-10           patient_id
                            ``diagnoses[]`` and CPT ``procedures[]``
/api/insurances             insurance policy of a patient                               patient_id
/api/invoices               invoice (a treatment note's charges, or a no-show fee)       patient_id
/api/policy_documents       compliance document of a patient (privacy notice, consent)  patient_id
/api/attachments            file metadata + ``download_url`` (owner: patient, invoice   patient_id
                            or treatment note); bytes at ``/api/attachments/{id}/download``
                            (policy documents likewise: ``/api/policy_documents/{id}/download``)
==========================  ==========================================================  ============
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["int", "text", "real", "bool", "json", "url"]
_SQL_TYPES = {"int": "INTEGER", "text": "TEXT", "real": "REAL", "bool": "INTEGER", "json": "TEXT"}


@dataclass(frozen=True)
class Field:
    """One JSON key of a record.

    Attributes:
        name: JSON key; dots nest (``address.city`` -> ``{"address": {"city": ...}}``).
        column: table column (default: ``name`` with dots as underscores).
        kind: ``int``/``text``/``real`` as stored; ``bool`` stored 0/1, sent ``true``/``false``;
            ``json`` stored as JSON text, sent as JSON; ``url`` not stored: ``<server>`` + ``column``
            with ``{id}`` replaced (the request's host, so links work behind any port).
    """

    name: str
    kind: Kind = "text"
    column: str = ""

    @property
    def col(self) -> str:
        """The table column."""
        return self.column or self.name.replace(".", "_")


@dataclass(frozen=True)
class Resource:
    """One paged collection ``/api/<name>`` backed by table ``<name>``.

    Attributes:
        name: collection and table name.
        fields: the JSON keys in order; ``id``, ``created_at`` and ``updated_at`` are added.
        patient_column: the column linking a row to a patient (None: reference data).
        filters: extra query filters ``name -> column`` taking ``gte:/lte:/gt:/lt:/eq:`` values.
    """

    name: str
    fields: tuple[Field, ...]
    patient_column: str | None = "patient_id"
    filters: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """``/api/<name>``."""
        return f"/api/{self.name}"

    @property
    def all_fields(self) -> tuple[Field, ...]:
        """``id``, the resource's fields, ``created_at``, ``updated_at``: the JSON keys in order."""
        return (Field("id", "int"), *self.fields, Field("created_at"), Field("updated_at"))

    @property
    def stored(self) -> tuple[Field, ...]:
        """The fields that are table columns (all but ``url`` ones)."""
        return tuple(f for f in self.all_fields if f.kind != "url")

    def ddl(self) -> str:
        """``CREATE TABLE`` and indexes (``updated_at`` for the delta filter, the patient key)."""
        cols = ", ".join(
            f"{f.col} INTEGER PRIMARY KEY" if f.name == "id" else
            f"{f.col} {_SQL_TYPES[f.kind]}" + (" NOT NULL" if f.name in ("created_at", "updated_at") else "")
            for f in self.stored)
        out = [f"CREATE TABLE IF NOT EXISTS {self.name} ({cols});",
               f"CREATE INDEX IF NOT EXISTS {self.name}_updated ON {self.name} (updated_at);"]
        if self.patient_column:
            out.append(f"CREATE INDEX IF NOT EXISTS {self.name}_patient ON {self.name} ({self.patient_column});")
        return "\n".join(out)

    def json_sql(self) -> str:
        """SQL rendering one row as JSON object text; uses the named parameter ``:server``."""
        return _object_sql(self.all_fields)


def _value_sql(f: Field) -> str:
    if f.kind == "bool":
        return f"json(CASE WHEN {f.col} IS NULL THEN 'null' WHEN {f.col} THEN 'true' ELSE 'false' END)"
    if f.kind == "json":
        return f"json(coalesce({f.col}, 'null'))"
    if f.kind == "url":
        head, _, tail = f.col.partition("{id}")
        return f":server || '{head}' || id || '{tail}'"
    return f.col


def _object_sql(fields: tuple[Field, ...]) -> str:
    """``json_object(...)`` over ``fields``, nesting dotted names in first-seen order."""
    groups: dict[str, list[Field] | Field] = {}
    for f in fields:
        head, dot, rest = f.name.partition(".")
        if dot:
            groups.setdefault(head, [])
            groups[head].append(Field(rest, f.kind, f.col))  # type: ignore[union-attr]
        else:
            groups[head] = f
    parts = []
    for key, item in groups.items():
        parts.append(f"'{key}', " + (_object_sql(tuple(item)) if isinstance(item, list) else _value_sql(item)))
    return f"json_object({', '.join(parts)})"


T = Field  # short alias for the table below
RESOURCES: tuple[Resource, ...] = (
    Resource("patients", (
        T("title"), T("first_name"), T("last_name"), T("preferred_name"), T("date_of_birth"), T("gender"),
        T("email"), T("mobile_phone"), T("home_phone"),
        T("address.line1"), T("address.line2"), T("address.city"), T("address.state"), T("address.postal_code"),
        T("address.country"), T("referral_source"), T("archived", "bool"),
    ), patient_column="id"),
    Resource("practitioners", (
        T("title"), T("first_name"), T("last_name"), T("profession"), T("email"), T("phone"), T("npi"),
        T("active", "bool"),
    ), patient_column=None),
    Resource("patient_practitioners", (
        T("patient_id", "int"), T("practitioner_id", "int"), T("role"), T("started_on"), T("active", "bool"),
    )),
    Resource("appointments", (
        T("patient_id", "int"), T("practitioner_id", "int"), T("appointment_type"), T("duration_minutes", "int"),
        T("status"), T("starts_at"), T("ends_at"), T("cancelled_at"), T("cancellation_reason"),
    ), filters={"start": "starts_at"}),  # public code: start=gte:YYYY-MM-DD (notes §3)
    Resource("treatment_notes", (
        T("patient_id", "int"), T("practitioner_id", "int"), T("appointment_id", "int"), T("treatment_date"),
        T("diagnoses", "json"), T("procedures", "json"), T("note"), T("signed_at"),
    )),
    Resource("insurances", (
        T("patient_id", "int"), T("priority"), T("carrier"), T("coverage_type"), T("member_id"), T("group_number"),
        T("subscriber_relationship"), T("effective_date"), T("expiration_date"), T("copay", "real"),
        T("active", "bool"),
    )),
    Resource("invoices", (
        T("number"), T("patient_id", "int"), T("treatment_note_id", "int"), T("appointment_id", "int"),
        T("issue_date"), T("due_date"), T("paid_date"), T("amount", "real"), T("amount_paid", "real"),
        T("currency"), T("status"), T("payment_method"),
    )),
    Resource("policy_documents", (
        T("patient_id", "int"), T("document_type"), T("title"), T("version"), T("status"), T("signed_at"),
        T("expires_on"),
        # the signed copy as a PDF (UNCONFIRMED: PracticeHub documents no such route)
        T("download_url", "url", "/api/policy_documents/{id}/download"),
    )),
    Resource("attachments", (
        T("patient_id", "int"), T("owner_type"), T("owner_id", "int"), T("category"), T("file_name"),
        T("content_type"), T("size_bytes", "int"),
        T("download_url", "url", "/api/attachments/{id}/download"),
    )),
)
BY_NAME: dict[str, Resource] = {r.name: r for r in RESOURCES}
DOWNLOAD_PATH = "/api/attachments/{id:int}/download"
POLICY_DOWNLOAD_PATH = "/api/policy_documents/{id:int}/download"
