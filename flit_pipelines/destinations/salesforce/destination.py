"""Salesforce Sales Cloud as a migration destination: schema, Bulk API 2.0 loads, files, read-back.

Vendor facts: ``shared/notes/salesforce.md`` (notes §N). The load loop is
``flit_pipelines.destinations.base.load_target``; this destination defines its optional bulk path
``send_batch`` so each chunk of writes becomes **one Bulk API 2.0 upsert job** (or one sObject
Collections call per 200 records when the chunk is small), see ``bulk.py``.

Spec contract (``destination.kind: salesforce``)
=================================================

``destination``
    ``api_base_env``: the My Domain instance URL (``https://<domain>.my.salesforce.com``);
    ``client_id_env`` / ``client_secret_env``: the connected app's consumer key and secret (OAuth 2.0
    client credentials against ``<instance>/services/oauth2/token``, notes §0; the token runs as the
    app's run-as user, the *integration user*).

``destination.settings``
    ``api_version`` ("62.0"): pinned REST/Bulk/Tooling version (notes §0: ≥ 60.0 recommended; ≤ 30.0
    retired and refused). ``external_id_field`` ("Source_System_ID__c"): the external-ID field created
    on every target's object (Text(255), External ID, Unique). ``collections_threshold`` (200): a
    chunk with at most this many writes goes through REST sObject Collections upsert
    (``PATCH /composite/sobjects/{object}/{extIdField}``, 200 records per request, notes §2.2) instead
    of a Bulk job (notes §1.5: Bulk is for volume; 0 = always Bulk). ``daily_api_floor`` (1000) and
    ``daily_bulk_batches_floor`` (50): the load stops with a clear fatal error *before* a request or
    job would take the org's ``DailyApiRequests`` / ``DailyBulkApiBatches`` remaining count (``GET
    /limits``, re-read every ``limits_refresh_seconds`` = 60 and tracked from ``Sforce-Limit-Info`` in
    between) below the floor. ``bulk_poll_seconds`` (1.0), ``bulk_poll_max_seconds`` (5.0),
    ``bulk_job_timeout_seconds`` (3600), ``bulk_retry_attempts`` (3), ``bulk_retry_wait_seconds``
    (2.0), ``transient_errors`` (["UNABLE_TO_LOCK_ROW"]): see ``bulk.py``. ``http_retries`` (4),
    ``retry_wait_seconds`` (0.5): transport retries (``client.py``). ``time_zone`` (IANA name, UTC):
    naive date-times are wall-clock times there (sent as UTC ``...Z``). ``fallback_owner_email``:
    owner of records whose practitioner has no active User (``fallback: owner`` lookups).
    ``file_size_limit_bytes`` (2,147,483,648: the 2 GB multipart ceiling of ContentVersion, notes
    §4; files above are flagged, never sent) and ``multipart_threshold_bytes`` (25,000,000: files
    above go multipart; JSON/base64 inserts top out at 37.5 MB of base64 ≈ 28 MB raw, notes §4).
    ``max_workers`` (4): parallel file uploads. ``permission_set`` ({name: "Flit_Migration_Access",
    label}), ``assign_permission_set`` (true), ``integration_username`` (only needed when the token
    carries no user id), ``sensitive_categories`` (custom-field categories treated as HIPAA-sensitive,
    e.g. ``[Clinical, Insurance]``), ``sensitive_fields`` (standard fields for the FLS checklist,
    e.g. ``[Contact.Birthdate]``; their access comes from profiles and is only reported).

    ``custom_objects`` — one entry per custom object, keyed by API name::

        custom_objects:
          Treatment_Record__c:
            label: Treatment Record            # default: from the API name
            pluralLabel: Treatment Records     # default: label + "s"
            nameField: {label: Treatment, type: Text}   # or {type: AutoNumber, displayFormat: "TR-{0000}"}
            sharing: ReadWrite                 # sharingModel: Private|Read|ReadWrite|ReadWriteTransfer|
                                               #   FullAccess|ControlledByParent (default ReadWrite)
            description: Procedures performed or planned (PracticeHub treatments)
            enableActivities: true             # default true (Tasks/Events may relate via WhatId)

Targets
    ``entity: sobject`` — any standard or custom object, upserted by external ID.
      ``options.sobject`` (required): API name (Contact, Task, Event, Treatment_Record__c...).
      ``options.external_id`` (default ``settings.external_id_field``); ``options.external_id_prefix``
      ("" ; required and distinct when several targets write one object, e.g. patients and
      practitioner contacts: the external ID is ``<prefix><source id>``); ``options.operation``
      (``upsert`` default; ``insert_update`` for objects that cannot carry an External ID field:
      creates are inserted, updates go by Id, the source ID field is then plain Text);
      ``options.lookup_fields`` ({X__c: {label, relationshipLabel, relationshipName, deleteConstraint, type:
      Lookup|MasterDetail}}) tunes the custom lookups created for ``lookups`` (``relationshipName``: the
      child relationship name, unique on the parent; see ``relationships.py``).
      ``fields``: field API name -> value (standard or custom fields that already exist or are
      declared under ``custom_fields`` of some target on the same object). Values are typed from
      describe: dates ``yyyy-MM-dd``, date-times UTC, numbers rounded to the field's scale,
      checkboxes from true/false/yes/no/1/0, restricted pick-lists checked, text lengths checked
      (a failing row is quarantined naming the field, never the value).
      ``custom_fields``: API name (``X__c``) -> ``{type, options, category, args}``; ``type`` one of
      Text, TextArea, LongTextArea, Email, Phone, Url, Number, Currency, Percent, Date, DateTime,
      Checkbox, Picklist, MultiselectPicklist; ``options``: the pick-list values; the destination
      reads these ``args`` keys (formatters ignore them): ``length`` (Text default 255, LongTextArea
      32768), ``precision``/``scale`` (Number 18/0, Currency 16/2, Percent 5/2), ``visible_lines``,
      ``label``, ``description``, ``help``, ``restricted`` (pick-lists, default true), ``default``
      (Checkbox), ``unique``, ``external_id``, and ``sensitive: true`` (HIPAA-sensitive: listed in the
      FLS checklist; a ``category`` named in ``settings.sensitive_categories`` does the same).
      The original create date is a field like any other (e.g. ``Source_Created_At__c: {type:
      DateTime, column: created_at}`` on every target).
      ``lookups``: field API name -> ``{target, column, required, fallback}``:
        * parent ``entity: user`` -> the User Id (``OwnerId``, or a custom ``X__c`` Lookup(User));
        * parent ``entity: sobject`` -> a **relationship column** with the parent's external ID
          (``Patient__c`` -> ``Patient__r.Source_System_ID__c``; ``AccountId`` ->
          ``Account.Source_System_ID__c``; polymorphic ``WhoId``/``WhatId`` ->
          ``Contact:Who.Source_System_ID__c``), notes §1.4; the parent target must load first (its
          own asset/job), which the lookup's FK edge guarantees; a custom ``X__c`` lookup is
          created as Lookup(parent's object), relationship name ``X``. A lookup to the target itself
          (``ReportsToId`` -> the same target) resolves through the crosswalk as ``load_target`` read
          it at the start of the load, so such a reference lands on the following run (an update).
      ``money``: field API names whose sums reconcile.
      Event needs ``StartDateTime`` and ``EndDateTime`` (or ``DurationInMinutes``) unless
      ``IsAllDayEvent``; Task/Event split = two targets over one source object with ``where`` filters.
    ``entity: file`` — Salesforce Files (ContentVersion, notes §4). ``fields``: ``file_path``
      (relative to the export's files root; required), ``Title`` (default the file name),
      ``PathOnClient`` (default the file name), ``Description`` and other ContentVersion fields;
      ``custom_fields`` as above; lookup ``FirstPublishLocationId`` (required; the parent record,
      so the file is shared to it). Files up to ``multipart_threshold_bytes`` are sent as JSON with
      base64 ``VersionData``, larger ones as multipart (``entity_content`` JSON part + ``VersionData``
      binary part, UNCONFIRMED part names, notes §9). Paths are resolved and read only through
      ``flit_pipelines.files`` (inside the files root, regular files, read with a size cap and a
      deadline); files missing, outside the export, not regular or over ``file_size_limit_bytes``
      are flagged. Each ContentVersion carries the external ID, so a file whose answer was lost or
      whose load was killed is found by it (``IsLatest = true``) and never uploaded twice. An update
      patches the metadata fields only (a changed file body is not re-versioned). Upload is per record
      (REST), never Bulk (notes §4).
    ``entity: user`` — ``match: {by: email, column}``: active Users matched by lower-case e-mail
      (``SELECT Id, Email FROM User WHERE IsActive = true``); never created.

Errors: per-record failures are ``"<errorCode>: <message without values>"`` in the ledger;
``DailyLimitError`` (a floor would be crossed, or ``REQUEST_LIMIT_EXCEEDED``) and
``FatalLoadError`` (401/403, a Bulk job refused as a whole, a missing fallback owner) stop the load.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
from requests_toolbelt import MultipartEncoder
from simple_salesforce import Salesforce

from flit_pipelines.destinations.matching import MatchByCandidates, normalise_match
from flit_pipelines.destinations.base import (BatchItem, DailyLimitError, FatalLoadError, SendResult, create_once,
                                              unavailable)
from flit_pipelines.destinations.salesforce import bodies
from flit_pipelines.destinations.salesforce.bodies import BodyError, FieldInfo, LookupInfo, TargetInfo
from flit_pipelines.destinations.salesforce.bulk import BulkWriter, WriteItem
from flit_pipelines.destinations.salesforce.client import DEFAULT_API_VERSION, SalesforceClient
from flit_pipelines.destinations.salesforce.errors import (
    BulkJobFailed,
    LimitExceeded,
    SalesforceApiError,
    SalesforceTransportError,
    SchemaError,
    error_text,
    scrub,
)
from flit_pipelines.destinations.salesforce.readback import (
    MATCH_TYPES,
    WRITE_ONLY_FIELDS,
    canonical_value,
    restore_body,
)
from flit_pipelines.destinations.salesforce.schema import (
    SchemaDeployer,
    target_external_id,
    target_sobject,
    wanted_schema,
)
from flit_pipelines.files import FILE_PATH, DocumentFile, DocumentFiles, FileRejected, flag_text
from flit_pipelines.spec.model import MigrationSpec, Target

log = logging.getLogger(__name__)

DEFAULT_FILE_LIMIT = 2 * 1024 ** 3  # ContentVersion multipart ceiling (notes §4)
DEFAULT_MULTIPART_THRESHOLD = 25_000_000  # notes §4: JSON/base64 safe up to 25 MB (37.5 MB base64 ceiling)
FILE_ROUTING = frozenset({FILE_PATH})
FILE_DEFAULTED = ("Title", "PathOnClient")  # set by build_body on every file body (default: the file name)
POLYMORPHIC = frozenset({"WhoId", "WhatId"})
NOT_SENT_REQUIRED = frozenset({"OwnerId", "Name"})  # defaulted/auto on create in practice
FATAL_STATUSES = frozenset({401, 403})
READ_CHUNK = 200  # ids per SOQL IN (...) / Collections delete
MATCH_CHUNK = 100  # values per SOQL IN (...) of find_matches
GONE_CODES = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})


def _soql_str(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


class SalesforceDestination(MatchByCandidates):
    """Destination implementation for one Salesforce org (see the module docstring for the contract).

    Args:
        client: a :class:`SalesforceClient`, or a connected ``simple_salesforce.Salesforce`` (tests;
            wrapped with ``instance_url``/``user_id``).
        spec: the migration spec.
        files_root: directory relative ``file_path`` values resolve against.
        instance_url / user_id: only with a bare ``Salesforce``.
    """

    # Records ``load_target`` hands ``send_batch`` at a time. Jobs are sized by the CSV upload's bytes
    # (``BulkWriter.max_job_bytes``, under Bulk API 2.0's 100 MB advice / 150 MB limit; notes §1), not by
    # a row count: one job per 10,000 ordinary records instead of two (issue 12 item 1).
    batch_rows = 50_000

    def __init__(self, client: SalesforceClient | Salesforce, spec: MigrationSpec, *,
                 files_root: str | Path | None = None, instance_url: str | None = None, user_id: str | None = None):
        self.spec = spec
        self.settings: dict[str, Any] = dict(spec.destination.settings)
        s = self.settings
        if isinstance(client, Salesforce):
            client = SalesforceClient(client, instance_url=instance_url, user_id=user_id,
                                      http_retries=int(s.get("http_retries", 4)),
                                      retry_wait_seconds=float(s.get("retry_wait_seconds", 0.5)))
        self.client = client
        client.limits.api_floor = int(s.get("daily_api_floor", 1000))
        client.limits.bulk_floor = int(s.get("daily_bulk_batches_floor", 50))
        client.limits.refresh_seconds = float(s.get("limits_refresh_seconds", 60.0))
        self.writer = BulkWriter(
            client, poll_seconds=float(s.get("bulk_poll_seconds", 1.0)),
            poll_max_seconds=float(s.get("bulk_poll_max_seconds", 5.0)),
            job_timeout_seconds=float(s.get("bulk_job_timeout_seconds", 3600)),
            retry_attempts=int(s.get("bulk_retry_attempts", 3)),
            retry_wait_seconds=float(s.get("bulk_retry_wait_seconds", 2.0)),
            transient_errors=list(s.get("transient_errors") or ["UNABLE_TO_LOCK_ROW"]))
        self.collections_threshold = int(s.get("collections_threshold", 200))
        self.files = DocumentFiles(files_root, size_limit=int(s.get("file_size_limit_bytes") or DEFAULT_FILE_LIMIT))
        self.multipart_threshold = int(s.get("multipart_threshold_bytes") or DEFAULT_MULTIPART_THRESHOLD)
        self.max_workers = int(s.get("max_workers", 4))
        self.time_zone = s.get("time_zone")
        self.files_root = Path(files_root) if files_root else None
        self.deployer = SchemaDeployer(client, self.settings)
        self.schema_document: dict[str, Any] | None = None
        self.infos: dict[str, TargetInfo] = {}
        self._describes: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self._users: dict[str, str] | None = None
        self._fallback: str | None = None
        self._fallback_checked = False

    @classmethod
    def connect(cls, spec: MigrationSpec, *, instance_url: str, client_id: str, client_secret: str,
                files_root: Path | None = None) -> SalesforceDestination:
        """OAuth 2.0 client credentials against ``<instance_url>/services/oauth2/token``, then a
        ``simple_salesforce.Salesforce(instance_url, session_id, version=settings.api_version)``."""
        s = spec.destination.settings
        client = SalesforceClient.connect(instance_url, client_id, client_secret,
                                          api_version=str(s.get("api_version") or DEFAULT_API_VERSION),
                                          http_retries=int(s.get("http_retries", 4)),
                                          retry_wait_seconds=float(s.get("retry_wait_seconds", 0.5)))
        return cls(client, spec, files_root=files_root)

    def stats(self) -> dict[str, Any]:
        """HTTP, Bulk and limit counters (counts only; for reports and benchmarks)."""
        return {"http": self.client.stats.snapshot(), "bulk": self.writer.stats.snapshot(),
                "limits": self.client.limits.snapshot()}

    # ================================================================== schema
    def ensure_schema(self, spec: MigrationSpec | None = None) -> dict[str, Any]:
        """Deploy custom objects, custom fields and field-level security; idempotent (``schema.py``).

        Returns the metadata document: ``{"api_version", "custom_objects": [...], "custom_fields":
        [{object, name, full_name, label, type, length, precision, scale, picklist_values,
        external_id, unique, reference_to, relationship_name, category, sensitive, targets, id,
        created}], "permission_set": {...}, "fls_checklist": {"fields": [...], "steps": [...]},
        "created": {counts}}``.

        Raises:
            SchemaError / SalesforceApiError: see ``SchemaDeployer.deploy``.
            DailyLimitError: the daily API allowance is at its floor.
        """
        spec = spec or self.spec
        wanted_schema(spec)  # spec problems (e.g. child relationship names clashing on a parent) before any request
        with self._lock:
            try:
                self.client.limits.require(api_requests=50, what="the schema deployment")
            except LimitExceeded as exc:
                raise DailyLimitError(str(exc)) from None
            self.schema_document = self.deployer.deploy(spec)
            self._describes.clear()
            self.infos.clear()
            return self.schema_document

    def prepare(self, target_name: str, target: Target) -> None:
        """Resolve the target's object, fields and lookups from describe (one describe per object);
        deploys the schema first if a custom object or field it needs is missing.

        Raises:
            SchemaError: a ``fields`` key is not a (visible, writable) field of the object, a
                required field is not mapped, a lookup is not a reference field, two targets on one
                object share an external-ID prefix.
        """
        if target.entity == "user" or target_name in self.infos:
            return
        with self._lock:
            if target_name in self.infos:
                return
            if self.schema_document is None and self._schema_missing(target_name):
                self.ensure_schema()
            self.infos[target_name] = self._target_info(target_name, target)

    def _describe(self, sobject: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return self._describe_locked(sobject)

    def _describe_locked(self, sobject: str) -> dict[str, dict[str, Any]]:
        if sobject not in self._describes:
            try:
                d = self.client.describe(sobject)
            except SalesforceApiError as exc:
                if exc.status == 404:
                    return {}
                raise
            self._describes[sobject] = {str(f.get("name")): f for f in d.get("fields") or []}
        return self._describes[sobject]

    def _schema_missing(self, target_name: str) -> bool:
        _, fields = wanted_schema(self.spec, [target_name])
        sobjects = {target_sobject(self.spec.targets[target_name])} | {f.sobject for f in fields.values()}
        for sobject in sobjects:
            described = {n.lower() for n in self._describe(sobject)}
            if not described:
                return True
            if any(f.name.lower() not in described for f in fields.values() if f.sobject == sobject):
                self._describes.pop(sobject, None)
                return True
        return False

    def _target_info(self, target_name: str, t: Target) -> TargetInfo:
        sobject = target_sobject(t)
        described = self._describe(sobject)
        if not described:
            raise SchemaError(f"target {target_name}: object {sobject} does not exist or is not visible to the "
                              "integration user")
        by_lower = {k.lower(): v for k, v in described.items()}
        ext = target_external_id(t, self.settings)
        prefix = str(t.options.get("external_id_prefix") or "")
        operation = str(t.options.get("operation", "upsert"))
        if operation not in ("upsert", "insert_update"):
            raise SchemaError(f"target {target_name}: options.operation must be upsert or insert_update")
        self._check_match(target_name, t, by_lower)
        self._check_prefixes(target_name, sobject, ext, prefix)
        if ext.lower() not in by_lower:
            raise SchemaError(f"target {target_name}: {sobject}.{ext} does not exist or is not visible (run the "
                              "schema deployment; check the permission set's field-level security)")
        if operation == "upsert" and not (by_lower[ext.lower()].get("externalId") or by_lower[ext.lower()].get("idLookup")):
            raise SchemaError(f"target {target_name}: {sobject}.{ext} is not an External ID field (upsert needs one; "
                              "use options.operation: insert_update for objects that cannot have one)")
        fields: dict[str, FieldInfo] = {}
        wanted = [n for n in t.fields if not (t.entity == "file" and n in FILE_ROUTING)] + list(t.custom_fields)
        for name in wanted:
            d = by_lower.get(name.lower())
            if d is None:
                raise SchemaError(f"target {target_name}: {sobject}.{name} does not exist or is not visible to the "
                                  "integration user (field-level security)")
            if not (d.get("createable") or d.get("updateable")):
                raise SchemaError(f"target {target_name}: {sobject}.{name} is read-only")
            if str(d.get("name")) != name:
                raise SchemaError(f"target {target_name}: write {sobject} field {name!r} as {d.get('name')!r} (exact "
                                  "API-name case: Bulk results do not echo other spellings, notes §1.1)")
            fields[name] = self._field_info(name, d, t)
        mapped = {n.lower() for n in wanted} | {lk.lower() for lk in t.lookups} | {ext.lower()}
        if t.entity == "file":  # set by the upload itself
            mapped |= {"title", "pathonclient", "versiondata"}
        missing = [str(d.get("name")) for d in described.values()
                   if not d.get("nillable", True) and d.get("createable") and not d.get("defaultedOnCreate")
                   and str(d.get("type")) != "boolean" and str(d.get("name")).lower() not in mapped
                   and str(d.get("name")) not in NOT_SENT_REQUIRED]
        if missing:
            raise SchemaError(f"target {target_name}: required {sobject} fields are not mapped: {sorted(missing)}")
        lookups: dict[str, LookupInfo] = {}
        for fk, lk in t.lookups.items():
            d = by_lower.get(fk.lower())
            if d is None or str(d.get("type")) != "reference":
                raise SchemaError(f"target {target_name}: lookup {fk} is not a reference field of {sobject}")
            parent = self.spec.targets[lk.target]
            if parent.entity == "user" or t.entity == "file" or \
                    str(parent.options.get("operation", "upsert")) != "upsert":
                lookups[fk] = LookupInfo(fk, "id", str(d.get("name")))
                continue
            parent_object = target_sobject(parent)
            rel = d.get("relationshipName") or (fk[:-3] + "__r" if fk.endswith("__c") else fk[:-2])
            refs = d.get("referenceTo") or []
            column = f"{rel}.{target_external_id(parent, self.settings)}"
            if fk in POLYMORPHIC or len(refs) > 1:
                column = f"{parent_object}:{column}"
            lookups[fk] = LookupInfo(fk, "relationship", column, parent_object,
                                     str(parent.options.get("external_id_prefix") or ""))
        return TargetInfo(target_name, sobject, ext, prefix, fields, lookups, self.time_zone, operation)

    @staticmethod
    def _check_match(target_name: str, t: Target, by_lower: dict[str, dict[str, Any]] | None = None) -> None:
        """``options.match_existing`` must be one of the target's ``fields`` and, with describe at
        hand, a filterable text field (``MATCH_TYPES``). Raises SchemaError naming the target."""
        name = t.options.get("match_existing")
        if name is None:
            return
        if t.entity != "sobject" or name not in t.fields:
            raise SchemaError(f"target {target_name}: options.match_existing {name!r} is not one of the target's "
                              f"fields (allowed: {sorted(t.fields) if t.entity == 'sobject' else 'none'})")
        d = (by_lower or {}).get(str(name).lower())
        if by_lower is not None and (d is None or str(d.get("type")) not in MATCH_TYPES
                                     or d.get("filterable") is False):
            raise SchemaError(f"target {target_name}: options.match_existing {name!r} is not a filterable text, "
                              "e-mail or phone field")

    def _field_info(self, name: str, d: dict[str, Any], t: Target) -> FieldInfo:
        sf_type = str(d.get("type") or "string")
        options: tuple[str, ...] = ()
        if sf_type in ("picklist", "multipicklist"):
            cf = t.custom_fields.get(name)
            restricted = bool(d.get("restrictedPicklist")) or bool(cf and cf.args.get("restricted", True) and cf.options)
            if restricted:
                options = tuple(str(p.get("value")) for p in d.get("picklistValues") or [] if p.get("active", True))
                if not options and cf is not None:
                    options = tuple(cf.options or ())
        length = int(d.get("length") or 0) if sf_type in bodies.TEXT_TYPES else 0
        scale = d.get("scale") if sf_type in ("double", "currency", "percent") else None
        required = (not d.get("nillable", True) and bool(d.get("createable")) and not d.get("defaultedOnCreate")
                    and sf_type != "boolean")
        return FieldInfo(name, sf_type, length, int(scale) if scale is not None else None, options, required)

    def _check_prefixes(self, target_name: str, sobject: str, ext: str, prefix: str) -> None:
        for other_name, other in self.spec.targets.items():
            if other_name == target_name or other.entity not in ("sobject", "file"):
                continue
            if target_sobject(other) == sobject and target_external_id(other, self.settings) == ext \
                    and str(other.options.get("external_id_prefix") or "") == prefix:
                raise SchemaError(f"targets {target_name} and {other_name} both write {sobject} with the same "
                                  "external_id_prefix: give each a distinct options.external_id_prefix")

    def _other_prefixes(self, target_name: str, info: TargetInfo) -> list[str]:
        out = []
        for other_name, other in self.spec.targets.items():
            if other_name != target_name and other.entity in ("sobject", "file") and \
                    target_sobject(other) == info.sobject and target_external_id(other, self.settings) == info.external_id:
                p = str(other.options.get("external_id_prefix") or "")
                if p and p.startswith(info.prefix) and p != info.prefix:
                    out.append(p)
        return out

    # ================================================================== users
    def users_by_email(self) -> dict[str, str]:
        """Lower-case e-mail -> Id of active Users (first by Id when an e-mail is shared; notes §5.3:
        Email is not unique). Cached per destination."""
        if self._users is None:
            users: dict[str, str] = {}
            for u in sorted(self.client.query("SELECT Id, Email, IsActive FROM User WHERE IsActive = true"),
                            key=lambda r: str(r.get("Id"))):
                email = str(u.get("Email") or "").strip().lower()
                if email and u.get("IsActive", True) is not False:
                    users.setdefault(email, str(u["Id"]))
            self._users = users
        return self._users

    def fallback_owner_id(self) -> str | None:
        """User Id of ``settings.fallback_owner_email`` (None when unset).

        Raises:
            FatalLoadError: the e-mail is set but no active User has it.
        """
        if not self._fallback_checked:
            email = str(self.settings.get("fallback_owner_email") or "").strip().lower()
            if email:
                self._fallback = self.users_by_email().get(email)
                if self._fallback is None:
                    raise FatalLoadError("the fallback owner e-mail (settings fallback_owner_email) is not an active "
                                         "Salesforce User")
            self._fallback_checked = True
        return self._fallback

    # ================================================================== bodies
    def build_body(self, target_name: str, target: Target, row: dict[str, Any],
                   resolved_fks: dict[str, Any]) -> dict[str, Any]:
        """The record body of a payload row (``bodies.build_body``); files add ``_file``/``_size``
        routing keys and default ``Title``/``PathOnClient``. ValueError names the field, never the value."""
        self.prepare(target_name, target)
        info = self.infos[target_name]
        try:
            if target.entity == "file":
                rel = row.get(FILE_PATH)
                if not bodies.present(rel):
                    raise BodyError("file field file_path: empty (required)")
                if resolved_fks.get("FirstPublishLocationId") is None:
                    raise BodyError("file lookup FirstPublishLocationId: empty (required)")
                body = bodies.build_body(row, info, resolved_fks, skip=FILE_ROUTING)
                name = Path(str(rel).replace("\\", "/")).name
                if body.get("Title") is None:
                    body["Title"] = name
                if body.get("PathOnClient") is None:
                    body["PathOnClient"] = name
                doc = self.files.check(rel)
                body["_file"] = str(rel)
                body["_size"] = doc.size if doc.ok else None
                return body
            return bodies.build_body(row, info, resolved_fks)
        except BodyError as exc:
            raise ValueError(str(exc)) from None

    def flag(self, target_name: str, target: Target, row: dict[str, Any]) -> str | None:
        """Why a file row is not sent (``flit_pipelines.files`` reasons: not found, outside the
        export, not a regular file, over ``file_size_limit_bytes``), else None."""
        if target.entity != "file":
            return None
        doc = self.files.check(row.get(FILE_PATH))
        return None if doc.ok else flag_text(doc.reason)

    # ================================================================== writes
    def send_batch(self, target_name: str, target: Target, items: list[BatchItem]) -> list[SendResult]:
        """One chunk's writes: a Bulk API 2.0 upsert job (or Collections for ≤ ``collections_threshold``
        writes); files one by one (REST). Results in the order of ``items``.

        Raises:
            DailyLimitError: a daily allowance would go below its floor.
            FatalLoadError: 401/403, a job refused as a whole (``InvalidBatch``...), no answer.
        """
        self.prepare(target_name, target)
        if target.entity == "file":
            with ThreadPoolExecutor(max_workers=max(1, self.max_workers), thread_name_prefix="sf-files") as pool:
                futures = [pool.submit(self._send_one, target_name, target, it) for it in items]
                return [f.result() for f in futures]
        info = self.infos[target_name]
        route = "collections" if len(items) <= self.collections_threshold else "bulk"
        return self._write(info, items, route)

    def _send_one(self, target_name: str, target: Target, item: BatchItem) -> SendResult:
        if item.op == "create":
            return self.create(target_name, target, item.body, item.row)
        return self.update(target_name, target, str(item.dest_id), item.body, item.row)

    def _write(self, info: TargetInfo, items: list[BatchItem], route: str) -> list[SendResult]:
        keys = [str(it.body[info.external_id]) for it in items]
        counts = Counter(keys)
        write_items = [WriteItem(k, it.body, it.op == "update", it.dest_id) for k, it in zip(keys, items, strict=True)
                       if counts[k] == 1]
        try:
            outcomes = self._write_items(info, write_items, route)
        except LimitExceeded as exc:
            raise DailyLimitError(f"Salesforce {exc.message}") from None
        except BulkJobFailed as exc:
            raise FatalLoadError(exc.message) from None
        except SalesforceApiError as exc:
            raise FatalLoadError(str(exc)) from None
        results = []
        for key, it in zip(keys, items, strict=True):
            if counts[key] > 1:
                results.append(SendResult(None, error=error_text(
                    "DUPLICATE_VALUE", "Duplicate external id specified (the source ID occurs more than once in "
                                       "the chunk)")))
                continue
            res = outcomes.get(key)
            if res is None:
                results.append(SendResult(None, error=error_text("NO_RESULT", "no result for this record")))
            elif res.error:
                results.append(SendResult(None, error=res.error))
            else:  # an upsert that found the external ID already there (sf__Created false) on a create
                results.append(SendResult(res.dest_id, existed=it.op == "create" and res.created is False))
        return results

    def _write_items(self, info: TargetInfo, items: list[WriteItem], route: str) -> dict[str, Any]:
        """Write ``items`` by the target's operation (upsert by external ID), except updates of known
        records that do not carry the body's external ID yet (a pre-existing record matched by
        ``find_matches``): an upsert would create a duplicate of those, so they are updated by Id
        (an ``update`` job / ``PATCH /composite/sobjects``, notes §1, §2.2) and get the external ID.
        Costs one SOQL query per 200 updates (which records carry which external ID)."""
        updates = [w for w in items if w.update and w.record_id]
        if not updates or info.operation != "upsert":
            return self.writer.write(info, items, route=route) if items else {}
        carried = {str(r["Id"]): r.get(info.external_id)
                   for r in self._records(info.sobject, [info.external_id], [str(w.record_id) for w in updates])}
        by_id = [w for w in updates if str(w.record_id) in carried and carried[str(w.record_id)] != w.key]
        moved = {id(w) for w in by_id}
        rest = [w for w in items if id(w) not in moved]
        out = self.writer.write(info, rest, route=route) if rest else {}
        if by_id:
            out.update(self.writer.write(replace(info, operation="insert_update"), by_id, route=route))
        return out

    def create(self, target_name: str, target: Target, body: dict[str, Any], row: dict[str, Any]) -> SendResult:
        """Create one record: sObject Collections upsert of one (sobjects), ContentVersion insert
        (files; JSON or multipart) exactly once: after a lost answer the version is looked up by its
        external ID and adopted, else sent again (``base.create_once``)."""
        self.prepare(target_name, target)
        if target.entity == "file":
            info = self.infos[target_name]

            def find() -> SendResult | None:
                found = self._find_file(info, str(body[info.external_id]))
                return SendResult(found) if found else None

            return create_once(lambda: self._guard(lambda: self._upload(target_name, body, row)), find,
                               client=self.client)
        return self._write(self.infos[target_name], [BatchItem("create", row, body, None)], "collections")[0]

    def update(self, target_name: str, target: Target, dest_id: str, body: dict[str, Any],
               row: dict[str, Any]) -> SendResult:
        """Update one record: sObject Collections upsert, or by Id when the record does not carry the
        body's external ID yet (``_write_items``); files: PATCH of the updateable metadata."""
        self.prepare(target_name, target)
        if target.entity == "file":
            try:
                return self._guard(lambda: self._patch_file(target_name, dest_id, body))
            except SalesforceTransportError as exc:  # idempotent, already repeated by the client
                raise unavailable(exc) from None
        return self._write(self.infos[target_name], [BatchItem("update", row, body, dest_id)], "collections")[0]

    def _guard(self, fn) -> SendResult:
        """Run one REST write: limits and 401/403 stop the load, a lost answer (transport error)
        propagates to the caller, any other refusal fails the row with its scrubbed text."""
        try:
            return fn()
        except LimitExceeded as exc:
            raise DailyLimitError(f"Salesforce {exc.message}") from None
        except SalesforceTransportError:
            raise
        except SalesforceApiError as exc:
            if exc.status in FATAL_STATUSES:
                raise FatalLoadError(str(exc)) from None
            return SendResult(None, error=error_text(exc.error_code, exc.message))

    def _upload(self, target_name: str, body: dict[str, Any], row: dict[str, Any]) -> SendResult:
        doc = self.files.check(row.get(FILE_PATH))
        if not doc.ok:  # changed since flag()
            return SendResult(None, error=flag_text(doc.reason))
        entity = {k: v for k, v in bodies.sendable(body).items() if v is not None}
        self.client.limits.require(api_requests=2, what="a ContentVersion upload")
        try:  # a lost answer propagates: create() looks the version up by external ID (create_once)
            if doc.size <= self.multipart_threshold:
                data = dict(entity, VersionData=base64.b64encode(self.files.read(doc)).decode("ascii"))
                res = self.client.rest("POST", "sobjects/ContentVersion", json=data, idempotent=False)
            else:
                res = self._multipart(doc, entity)
        except FileRejected as exc:
            return SendResult(None, error=flag_text(exc.reason))
        return SendResult(str(res["id"]))

    def _multipart(self, doc: DocumentFile, entity: dict[str, Any]) -> Any:
        """``POST /sobjects/ContentVersion`` multipart: JSON part ``entity_content`` + binary part
        ``VersionData`` (notes §4; part names UNCONFIRMED); the file is streamed (``files.open_stream``:
        the checked size, a deadline), not read into memory."""
        mime = mimetypes.guess_type(doc.name)[0] or "application/octet-stream"
        with self.files.open_stream(doc) as fh:
            encoder = MultipartEncoder(fields=[
                ("entity_content", (None, json.dumps(entity), "application/json")),
                ("VersionData", (str(entity.get("PathOnClient") or doc.name), fh, mime)),
            ])
            return self.client.rest("POST", "sobjects/ContentVersion", data=encoder, idempotent=False,
                                    headers={"Content-Type": encoder.content_type})

    def _patch_file(self, target_name: str, dest_id: str, body: dict[str, Any]) -> SendResult:
        described = self._describe("ContentVersion")
        info = self.infos[target_name]
        patch = {k: v for k, v in bodies.sendable(body).items()
                 if k != info.external_id and (described.get(k) or {}).get("updateable")}
        if patch:
            self.client.rest("PATCH", f"sobjects/ContentVersion/{dest_id}", json=patch)
        return SendResult(dest_id)

    def _find_file(self, info: TargetInfo, ext_value: str) -> str | None:
        rows = list(self.client.query(f"SELECT Id FROM ContentVersion WHERE {info.external_id} = "
                                      f"{_soql_str(ext_value)} AND IsLatest = true"))
        return str(rows[0]["Id"]) if rows else None

    # ================================================================== reads
    def _keys(self, target_name: str, target: Target) -> list[tuple[str, str]]:
        """(source id, record Id) of every live record of the target (by its external-ID values)."""
        self.prepare(target_name, target)
        info = self.infos[target_name]
        where = f"{info.external_id} != null"
        if info.prefix:
            where += f" AND {info.external_id} LIKE {_soql_str(info.prefix + '%')}"
        if info.sobject == "ContentVersion":
            where += " AND IsLatest = true"
        others = self._other_prefixes(target_name, info)
        out = []
        for r in self.client.query(f"SELECT Id, {info.external_id} FROM {info.sobject} WHERE {where}"):
            value = str(r.get(info.external_id) or "")
            if not value.startswith(info.prefix) or any(value.startswith(p) for p in others):
                continue
            out.append((value[len(info.prefix):], str(r["Id"])))
        return out

    def creates_are_keyed(self, target_name: str, target: Target) -> bool:
        """True when the target's creates are upserts by its external ID (``options.operation`` upsert,
        not users or files): Bulk API 2.0 / Collections upsert updates a record already carrying the
        value instead of creating a second one (notes §1.1, §2.2), and reports it (``sf__Created`` /
        ``created`` false -> ``SendResult.existed``). ``load_target`` then skips ``find_existing``'s SOQL
        query on a first load (issue 12 item 1)."""
        if target.entity in ("user", "file"):
            return False
        self.prepare(target_name, target)
        return self.infos[target_name].operation == "upsert"

    def find_existing(self, target_name: str, target: Target) -> dict[str, str]:
        """Source ID -> record Id of records already carrying the target's external IDs (one SOQL
        query, 2,000 rows per page); users: lower-case e-mail -> User Id."""
        if target.entity == "user":
            return self.users_by_email()
        return dict(self._keys(target_name, target))

    def source_key_counts(self, target_name: str, target: Target) -> dict[str, int]:
        """``"<target>:<source id>"`` -> number of live records carrying it."""
        if target.entity == "user":
            return {}
        counts: Counter[str] = Counter(f"{target_name}:{sid}" for sid, _ in self._keys(target_name, target))
        return dict(counts)

    def read_back(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> pd.DataFrame:
        """Live records for ``dest_ids``: ``dest_id``, ``source_key`` (``"<target>:<source id>"``) and
        each money column (field API names) as numbers; SOQL ``WHERE Id IN`` in groups of 200."""
        columns = ["dest_id", "source_key", *target.money]
        ids = [str(d) for d in dest_ids if d is not None and str(d)]
        if target.entity == "user":
            rows = []
            for start in range(0, len(ids), READ_CHUNK):
                part = ids[start:start + READ_CHUNK]
                for r in self.client.query(f"SELECT Id FROM User WHERE Id IN ({', '.join(map(_soql_str, part))})"):
                    rows.append({"dest_id": str(r["Id"]), "source_key": None})
            return pd.DataFrame(rows, columns=columns)
        self.prepare(target_name, target)
        info = self.infos[target_name]
        select = ["Id", info.external_id, *[m for m in target.money if m not in ("Id", info.external_id)]]
        rows = []
        for start in range(0, len(ids), READ_CHUNK):
            part = ids[start:start + READ_CHUNK]
            soql = f"SELECT {', '.join(select)} FROM {info.sobject} WHERE Id IN ({', '.join(map(_soql_str, part))})"
            for r in self.client.query(soql):
                value = r.get(info.external_id)
                sid = str(value)[len(info.prefix):] if value is not None else None
                row = {"dest_id": str(r["Id"]), "source_key": f"{target_name}:{sid}" if sid is not None else None}
                for m in target.money:
                    row[m] = r.get(m)
                rows.append(row)
        return pd.DataFrame(rows, columns=columns)

    # ================================================================== delete
    def delete(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> pd.DataFrame:
        """Delete records (rollback) with sObject Collections ``DELETE /composite/sobjects?ids=``
        (≤ 200 per request, ``allOrNone=false``; notes §2.2, URL form UNCONFIRMED). Files delete their
        ContentDocument. Columns ``dest_id``, ``deleted``, ``error``.

        Idempotent: a record already gone (``ENTITY_IS_DELETED``, ``INVALID_CROSS_REFERENCE_KEY``,
        ``NOT_FOUND``; also a file whose version is gone) is ``deleted=True, error="gone"``. Run
        children before parents (reverse FK order): a master-detail child goes with its parent (then
        reads gone), a lookup child would stay. Users were matched, never created: ``deleted=False,
        error="skipped: ..."``. A daily allowance at its floor raises DailyLimitError.
        """
        columns = ["dest_id", "deleted", "error"]
        ids = [str(d) for d in dest_ids]
        if target.entity == "user":
            return pd.DataFrame([{"dest_id": d, "deleted": False,
                                  "error": "skipped: users are matched to existing accounts, never created"}
                                 for d in ids], columns=columns)
        if not ids:
            return pd.DataFrame([], columns=columns)
        self.prepare(target_name, target)
        doc_of: dict[str, str] = {}
        if target.entity == "file":
            for start in range(0, len(ids), READ_CHUNK):
                part = ids[start:start + READ_CHUNK]
                for r in self.client.query("SELECT Id, ContentDocumentId FROM ContentVersion WHERE Id IN "
                                           f"({', '.join(map(_soql_str, part))})"):
                    doc_of[str(r["Id"])] = str(r.get("ContentDocumentId"))
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ids), READ_CHUNK):
            part = ids[start:start + READ_CHUNK]
            if target.entity == "file":  # a version no longer listed went with its document
                rows.extend({"dest_id": d, "deleted": True, "error": "gone"} for d in part if d not in doc_of)
                part = [d for d in part if d in doc_of]
                if not part:
                    continue
            send = [doc_of.get(d, d) for d in part] if target.entity == "file" else part
            try:
                self.client.limits.require(api_requests=1, what="a Collections delete")
                results = self.client.rest("DELETE", "composite/sobjects",
                                           params={"ids": ",".join(send), "allOrNone": "false"}) or []
            except LimitExceeded as exc:
                raise DailyLimitError(f"Salesforce {exc.message}") from None
            except SalesforceApiError as exc:
                rows.extend({"dest_id": d, "deleted": False, "error": str(exc)} for d in part)
                continue
            for d, res in zip(part, results, strict=False):  # a short answer: the rest get "no result" below
                if res.get("success"):
                    rows.append({"dest_id": d, "deleted": True, "error": None})
                    continue
                err = (res.get("errors") or [{}])[0]
                code = str(err.get("statusCode") or "UNKNOWN_ERROR")
                if code in GONE_CODES:
                    rows.append({"dest_id": d, "deleted": True, "error": "gone"})
                else:
                    rows.append({"dest_id": d, "deleted": False, "error": error_text(code, scrub(err.get("message")))})
            rows.extend({"dest_id": d, "deleted": False, "error": error_text("NO_RESULT", "no result for this record")}
                        for d in part[len(results):])  # not silently dropped from the rollback report
        return pd.DataFrame(rows, columns=columns)

    # ================================================================== field read-back, restore, matching
    WRITE_ONLY_FIELDS = WRITE_ONLY_FIELDS  # entity -> body fields Salesforce never returns

    def _types(self, info: TargetInfo) -> dict[str, str]:
        """Body key -> describe type of the target's fields (for ``canonical_value``)."""
        return {name: f.sf_type for name, f in info.fields.items()}

    def _records(self, sobject: str, fields: list[str], ids: Sequence[str]) -> list[dict[str, Any]]:
        """``SELECT <fields> FROM <sobject> WHERE Id IN (...)``, 200 IDs per query (notes §2.4)."""
        out: list[dict[str, Any]] = []
        select = ", ".join(dict.fromkeys(["Id", *fields]))
        for start in range(0, len(ids), READ_CHUNK):
            part = ids[start:start + READ_CHUNK]
            out += list(self.client.query(f"SELECT {select} FROM {sobject} WHERE Id IN "
                                          f"({', '.join(map(_soql_str, part))})"))
        return out

    def read_fields(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Record Id -> live values of the fields the target writes, keyed like ``build_body`` (see
        ``readback``): SOQL ``WHERE Id IN (...)`` per 200 IDs, plus one query per parent object to
        turn lookup Ids into the parents' external IDs. Gone IDs are absent; users map to ``{}``.
        Compare with ``normalise_body(build_body(...))`` over the body's keys: the read-back also has
        checkboxes and lookups that a body left unset."""
        ids = list(dict.fromkeys(str(d) for d in dest_ids if d is not None and str(d)))
        if target.entity == "user":
            found = {str(r["Id"]) for r in self._records("User", [], ids)}
            return {d: {} for d in ids if d in found}
        self.prepare(target_name, target)
        info = self.infos[target_name]
        types = self._types(info)
        lookup_fields = [lk.name for lk in info.lookups.values()]
        plain = [*info.fields, *(FILE_DEFAULTED if target.entity == "file" else ())]
        rows = self._records(info.sobject, [*plain, *lookup_fields, info.external_id], ids)
        parents: dict[str, dict[str, str]] = {}  # parent object -> {Id: external ID}
        for lk in info.lookups.values():
            if lk.kind != "relationship":
                continue
            wanted = sorted({str(r[lk.name]) for r in rows if r.get(lk.name)})
            ext = lk.column.split(".", 1)[1]
            known = parents.setdefault(f"{lk.parent_object}.{ext}", {})
            for p in self._records(str(lk.parent_object), [ext], [w for w in wanted if w not in known]):
                if p.get(ext):
                    known[str(p["Id"])] = str(p[ext])
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            view: dict[str, Any] = {name: canonical_value(types.get(name), r.get(name)) for name in plain}
            view[info.external_id] = canonical_value("string", r.get(info.external_id))
            for lk in info.lookups.values():
                ref = r.get(lk.name)
                if not ref:
                    continue
                if lk.kind == "id":
                    view[lk.column] = str(ref)
                    continue
                ext_value = parents.get(f"{lk.parent_object}.{lk.column.split('.', 1)[1]}", {}).get(str(ref))
                if ext_value is not None:
                    view[lk.column] = ext_value
                else:  # a parent without our external ID (pre-existing): keep its Id
                    view[lk.name] = str(ref)
            out[str(r["Id"])] = view
        return out

    def normalise_body(self, target_name: str, target: Target, body: dict[str, Any]) -> dict[str, Any]:
        """A ``build_body`` output in ``read_fields``' shape: routing keys (``_file``, ``_size``)
        dropped, date-times in UTC milliseconds, multi-select values sorted. Never mutates ``body``."""
        if target.entity == "user":
            return {}
        self.prepare(target_name, target)
        types = self._types(self.infos[target_name])
        return {k: canonical_value(types.get(k), v) for k, v in bodies.sendable(body).items()}

    def restore(self, target_name: str, target: Target, dest_id: str, prior: dict[str, Any]) -> SendResult:
        """Write ``prior`` (a ``read_fields`` value) back with one update by Id (sObject Collections
        ``PATCH /composite/sobjects``): fields the migration filled become null, the external ID
        goes back to ``prior``'s (null: the source key is removed), lookups back to their parent
        (``readback.restore_body``).

        Returns SendResult(dest_id), SendResult(None, "gone") for a deleted record, or
        SendResult(None, "<errorCode>: <message>"). Files cannot be restored in place (``manual:
        ...``); users are never written. Raises DailyLimitError / FatalLoadError like a load.
        """
        if target.entity == "user":
            return SendResult(None, error="skipped: users are matched to existing accounts, never written")
        if target.entity == "file":
            return SendResult(None, error="manual: Salesforce files are versioned, not edited; an admin restores the "
                                          "earlier version if one was replaced")
        self.prepare(target_name, target)
        info = self.infos[target_name]
        body = restore_body(info, prior)
        item = WriteItem(dest_id, body, True, dest_id)
        try:
            outcome = self.writer.write(replace(info, operation="insert_update"), [item], route="collections")[dest_id]
        except LimitExceeded as exc:
            raise DailyLimitError(f"Salesforce {exc.message}") from None
        except BulkJobFailed as exc:
            return SendResult(None, error=exc.message)
        except SalesforceApiError as exc:
            if exc.status in FATAL_STATUSES:
                raise FatalLoadError(str(exc)) from None
            return SendResult(None, error=error_text(exc.error_code, exc.message))
        if outcome.error:
            return SendResult(None, error="gone" if outcome.code in GONE_CODES else outcome.error)
        return SendResult(dest_id)

    def match_value(self, target_name: str, target: Target, body: dict[str, Any]) -> str | None:
        """The normalised ``options.match_existing`` value of a ``build_body`` output, or None."""
        name = target.options.get("match_existing")
        return normalise_match(body.get(name)) if name else None

    def match_candidates(self, target_name: str, target: Target, values: Sequence[str]) -> dict[str, list[str]]:
        """Normalised value -> Ids of live records of the target's object whose ``match_existing``
        field carries it (SOQL ``WHERE <field> IN (...)``, 100 values per query, case-insensitive
        like all SOQL text filters; notes §2.4) and whose external-ID field is empty (no source key
        of ours, any target). Values without candidates are absent.

        ``update``/``send_batch`` write a matched record in place by Id (it has no external ID yet).
        Raises SchemaError for a missing or invalid ``options.match_existing``.
        """
        name = target.options.get("match_existing")
        if name is None:
            raise SchemaError(f"target {target_name}: options.match_existing is not set")
        self._check_match(target_name, target)
        self.prepare(target_name, target)
        info = self.infos[target_name]
        self._check_match(target_name, target, {k.lower(): v for k, v in self._describe(info.sobject).items()})
        wanted = list(dict.fromkeys(v for v in map(normalise_match, values) if v))
        out: dict[str, list[str]] = {}
        for start in range(0, len(wanted), MATCH_CHUNK):
            part = wanted[start:start + MATCH_CHUNK]
            soql = (f"SELECT Id, {name}, {info.external_id} FROM {info.sobject} WHERE {name} IN "
                    f"({', '.join(map(_soql_str, part))}) ORDER BY Id")
            for r in self.client.query(soql):
                value = normalise_match(r.get(name))
                if value in part and not r.get(info.external_id):
                    out.setdefault(value, []).append(str(r["Id"]))
        return out

