"""HighLevel (LeadConnector API v2) as a migration destination: schema, writes, read-back, delete.

Vendor facts: ``shared/notes/highlevel.md`` (notes §N) and the bundled OpenAPI documents
(spec:<file>). The load loop itself is ``flit_pipelines.destinations.base.load_target``: the ledger
crosswalk is authoritative, unchanged bodies are skipped, records without a crosswalk row are
looked up (``find_existing``) before anything is created.

Spec contract (``destination.kind: highlevel``)
===============================================

``destination.settings``
    ``source_key_field`` ("Flit Source Key"): TEXT custom field (contacts and opportunities) holding
    ``"<target>:<source id>"``. ``fallback_owner_email``: the user owning records whose provider has no
    HighLevel user (``fallback: owner`` lookups). ``file_size_limit_bytes`` (50,000,000: the 50 MB of
    ``POST /forms/upload-custom-files``, notes §4.7, read as decimal megabytes to stay on the safe
    side). ``max_workers`` (8): worker threads and HTTP connections. ``time_zone`` (IANA name):
    naive date-times (task ``dueDate``, appointment times without an offset) are localised to it;
    values with an offset are sent as given. ``custom_field_folders`` (false): put custom fields into
    folders named by their ``category`` (below). Optional: ``custom_field_folder_ids``
    ({category: folder id}, folders an admin made in the UI), ``daily_request_floor`` (0: stop when
    ``X-RateLimit-Daily-Remaining`` reaches it), ``agency_token_env`` (an environment variable holding
    an agency private integration token; only ``POST /objects/`` needs it), ``lookup_settle_seconds``
    (3.0: how long a record lookup after a lost create answer keeps probing, since search is
    eventually consistent upstream), ``appointment_scan_from_year`` (1990, for duplicate checks).

Custom fields (all entities that take them)
    ``custom_fields: {Name: {type: <HighLevel dataType>, options: [...], category: Folder}}``;
    TEXT, LARGE_TEXT, NUMERICAL, MONETORY, DATE ("YYYY-MM-DD"), PHONE, EMAIL, SINGLE_OPTIONS, RADIO
    (a label), CHECKBOX, MULTIPLE_OPTIONS (labels separated by ";"). Contact and opportunity fields are
    location custom fields (``/locations/{id}/customFields``, ``model`` contact/opportunity), listed
    once and matched by exact name; a name that exists with another ``dataType`` stops the schema step
    (``SchemaError``); missing ones are created (``options`` as the picklist). Values are sent as
    ``customFields: [{id, field_value}]``; empty values are omitted (an emptied value is not cleared).

    **Folders (UNCONFIRMED, notes §4.3)**: no documented operation creates or lists folders of
    *contact/opportunity* fields (Custom Fields V2 folders "only support Custom Objects and Company
    today"); integrators send an undeclared ``parentId`` on create. With ``custom_field_folders: true``
    the destination takes the folder id from ``custom_field_folder_ids`` when given, else tries the
    V2 folder operations with ``objectKey: "contact"``/``"opportunity"`` (list, create missing by
    name), and sends ``parentId`` on field creation. If those operations are refused, fields are
    created without a folder and the design document lists, per category, the fields an admin
    should move (``folders.<model>.mode = "manual"``). Existing fields are never moved.

``contact``
    ``fields``: HighLevel contact properties ``firstName, lastName, name, email, phone, dateOfBirth
    ("YYYY-MM-DD"), address1, city, state, postalCode, country, gender, source, companyName,
    timezone, website, dnd, tags`` (``tags``: one text, tags separated by ","). Lookup ``assignedTo``
    (a ``user`` target, usually ``fallback: owner``). Source key: the ``source_key_field`` value.
    Created with ``POST /contacts/`` (never ``/contacts/upsert``: its duplicate rule would merge family
    members sharing an e-mail or phone), updated with ``PUT /contacts/{id}`` (without ``gender`` and
    ``companyName``, which UpdateContactDto does not accept: a later change to them is not sent).
    **Shared e-mail/phone**: if the location refuses a create as a duplicate (400 "This location does
    not allow duplicated contacts." with ``meta.contactId``/``matchingField``), nothing is merged: the
    family member is created without the matching identifier, which goes into the contact custom
    field "Shared Email" / "Shared Phone" (folder "Contact"), and the contact gets the tag
    ``shared-contact-info``. Once the location refused an identifier kind (email/phone), further
    family members whose identifier this destination already sent on a contact are created in shared
    form straight away (no refused request each). Which family member keeps the identifiers is the
    one created first (with several workers: arrival order). Updates of such a contact keep the split
    (one ``GET`` before each contact update decides it).
    **Lost answers**: after a 5xx, timeout or dropped connection on create, the contact is searched by
    its source key (probing for ``lookup_settle_seconds``) and adopted if found; otherwise the create is
    sent once more, and if that one meets the duplicate rule with ``meta.contactId`` carrying this
    row's own source key (the first attempt did land), that contact is adopted. A contact is never
    created twice by one row.
    ``find_existing``: ``POST /contacts/search`` on ``customFields.<source key field id>`` (exists),
    all pages (UNCONFIRMED filter field name upstream; the sandbox implements it).

``custom_object_record``
    ``options``: ``object_key`` ("custom_objects.treatment_plans"; prefix added if missing),
    ``labels`` {singular, plural}, ``primary_property`` (a ``fields`` key; the TEXT primary display
    property), ``source_key_property`` (a property mirroring the source ID, e.g. the Dentrix plan ID),
    optional ``folder`` (default "Flit Migration"), ``association`` {``key``, ``contact_lookup`` (the
    lookup naming the contact), ``object_label``, ``contact_label``}. ``fields`` keys are property
    keys (provisioned as TEXT when missing); ``custom_fields`` are provisioned as Custom Fields V2 with
    fieldKey ``<object_key>.<snake_name>`` in a folder named by ``category``. Lookup ``owner``
    (optional, a user). ``ensure_schema`` creates the object (Agency-Access: needs
    ``agency_token_env``; without it a missing object stops with instructions), its fields and the
    association definition. Each record is created with ``properties``, then related to the contact
    (``POST /associations/relations``); an update re-checks the relation (idempotent on re-run).
    Source key: ``<target>:<value of source_key_property>``.

``appointment``
    ``options.calendar``: calendar name (found, else created, in ``ensure_schema``). ``fields``:
    ``title, startTime, endTime`` (ISO 8601 with offset), ``appointmentStatus``, ``address``,
    ``description``, ``meetingLocationType``. Lookups ``contactId`` (required) and ``assignedUserId``.
    Always ``ignoreFreeSlotValidation: true, ignoreDateRange: true, toNotify: false``; ``Version:
    2021-04-15``. Source key: a last line ``Source record: <target>:<id>`` in the description.

``task`` / ``note``
    task ``fields``: ``title, body, dueDate, completed``; lookups ``contactId`` (required), ``assignedTo``.
    note ``fields``: ``body`` (``title``); lookups ``contactId`` (required), ``userId``. Source key: the
    ``Source record: <target>:<id>`` footer line of the body. Destination IDs are
    ``"<contact id>/<note or task id>"`` (notes and tasks are addressed under their contact).
    A changed contact re-creates the record under the new contact and deletes the old one.

``file``
    ``fields``: ``file_path`` (relative to the export's files root), ``file_name`` (name to upload
    as), ``url`` (hosted URL); lookup ``contactId`` (required). ``options.mode``:
    ``upload``: the file goes into the contact's FILE_UPLOAD custom field ``options.custom_field``
    ("Documents", multi-file, provisioned) through ``POST /forms/upload-custom-files``; the part name
    is ``<field id>_<file id>`` where the file id is the hex of ``"<target>:<source id>"`` (so the
    source key can be read back, also when the vendor keys the stored entry by its own uuid: the
    part name is kept as ``meta.fieldname``); destination ID ``"<contact id>/<file id>"``. Paths are
    resolved and read only through ``flit_pipelines.files`` (inside the files root, regular files);
    files missing, outside the export, not regular, over ``file_size_limit_bytes`` or of a type the
    endpoint refuses are flagged (reason + ": manual re-upload").
    ``link_or_flag`` (default): with a ``url`` the link is written as a contact **note**
    ("Document: <file name>\\n<url>" + source footer; destination ID as notes); without one the row is
    flagged "not hosted: manual re-upload".

``user``
    ``match: {by: email, column: ...}``: users are listed once (``GET /users/?locationId=``) and
    matched by lower-case e-mail; never created.

``opportunity``
    ``options.pipeline``: pipeline name, ``options.stages``: the stage names the spec uses (or
    ``pipeline: {name, stages}``). Pipelines cannot be created through API v2 (spec:opportunities has
    only ``GET /opportunities/pipelines``): ``ensure_schema`` raises ``SchemaError`` naming the missing
    pipeline or stages. ``fields``: ``name, status`` (open/won/lost/abandoned), ``monetaryValue``,
    ``stage`` (stage name -> ``pipelineStageId``); lookups ``contactId`` (required), ``assignedTo``.
    Source key: the ``source_key_field`` opportunity custom field.

Errors: ``DailyBudgetExhausted``, 401 and 403 stop the load (``FatalLoadError``); any other refusal
fails the row with "HighLevel <status> on <METHOD> <path template>: <vendor message>" (no values).
"""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from flit_pipelines.destinations.matching import MatchByCandidates, normalise_match, unclearable_fields
from flit_pipelines.destinations.base import FatalLoadError, SendResult, create_once, guarded_write, unavailable
from flit_pipelines.http.retry import send_once
from flit_pipelines.destinations.highlevel import bodies
from flit_pipelines.destinations.highlevel.bodies import SHARED_TAG, BodyError, FieldRef, key_from_text, source_key
from flit_pipelines.destinations.highlevel.client import HighLevelClient
from flit_pipelines.destinations.highlevel.errors import (
    DailyBudgetExhausted,
    HighLevelError,
    HighLevelTransportError,
    SchemaError,
)
from flit_pipelines.destinations.highlevel.readback import (
    MATCH_FIELDS,
    WRITE_ONLY_FIELDS,
    WrittenFields,
    canonical,
    restore_items,
    unshare,
)
from flit_pipelines.files import FILE_PATH, DocumentFiles, FileRejected, flag_text, key_of_token, key_token
from flit_pipelines.spec.model import MigrationSpec, Target

log = logging.getLogger(__name__)

DEFAULT_SOURCE_KEY_FIELD = "Flit Source Key"
DEFAULT_FILE_SIZE_LIMIT = 50_000_000  # notes §4.7: upload-custom-files "limited to 50 MB"
SHARED_FIELDS = {"email": "Shared Email", "phone": "Shared Phone"}
CREATE_ONLY_CONTACT_FIELDS = frozenset({"gender", "companyName", "locationId"})
SHARED_CATEGORY = "Contact"
DEFAULT_OBJECT_FOLDER = "Flit Migration"
UPLOAD_EXTENSIONS = frozenset({".pdf", ".docx", ".doc", ".jpg", ".jpeg", ".png", ".gif", ".csv", ".xlsx", ".xls",
                               ".mp4", ".mpeg", ".zip", ".rar", ".txt", ".svg"})  # spec:forms upload-to-custom-fields
FATAL_STATUSES = frozenset({401, 403})
MODELS = ("contact", "opportunity")
FILE_REMEDY = "manual re-upload"  # appended to every flagged document's reason
READ_WORKERS = 4  # parallel GETs of a read-back; the client's one limiter keeps the 100 / 10 s burst
MATCH_CHUNK = 50  # e-mails per POST /contacts/search (one OR group)
_SLUG = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """``"Plan Fee ($)"`` -> ``"plan_fee"`` (custom object property keys, option keys)."""
    return _SLUG.sub("_", name.lower()).strip("_") or "field"


@dataclass
class _ObjectInfo:
    key: str
    refs: dict[str, FieldRef]  # spec custom field name -> ref
    field_refs: dict[str, FieldRef]  # ``fields`` key (property key) -> ref
    source_key_property: str
    contact_lookup: str | None
    association_id: str | None
    record_first: bool = True  # the association's first object is the custom object


@dataclass
class _FieldWant:
    name: str
    data_type: str
    options: list[str] = field(default_factory=list)
    category: str | None = None
    targets: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class _LazyIndex(Mapping[str, str]):
    """Source ID -> destination ID, loaded one group (a contact, a day of a calendar) at a time.

    ``find_existing`` of notes, tasks, files and appointments returns this: listing every contact's
    notes up front would cost one request per contact of the location, while ``load_target`` only
    asks about rows it is about to create, and ``build_body`` (called just before for that row)
    recorded which group the row belongs to. Not thread-safe (``load_target`` uses it from its
    main thread only).
    """

    def __init__(self, group_of: Callable[[str], Hashable | None], load: Callable[[Hashable], dict[str, str]]):
        self._group_of = group_of
        self._load = load
        self._groups: dict[Hashable, dict[str, str]] = {}

    def _lookup(self, sid: str) -> dict[str, str]:
        group = self._group_of(sid)
        if group is None:
            return {}
        if group not in self._groups:
            self._groups[group] = self._load(group)
        return self._groups[group]

    def __contains__(self, sid: object) -> bool:
        return isinstance(sid, str) and sid in self._lookup(sid)

    def __getitem__(self, sid: str) -> str:
        return self._lookup(sid)[sid]

    def __iter__(self) -> Iterator[str]:
        for group in list(self._groups.values()):
            yield from group

    def __len__(self) -> int:
        return sum(len(g) for g in self._groups.values())


class HighLevelDestination(MatchByCandidates):
    """Destination implementation for one HighLevel location (see the module docstring for the
    spec contract).

    Args:
        client: a shared ``HighLevelClient`` (one limiter for all worker threads).
        spec: the migration spec (targets, custom fields, settings).
        files_root: directory that relative ``file_path`` values resolve against.
    """

    def __init__(self, client: HighLevelClient, spec: MigrationSpec, files_root: str | Path | None = None):
        self.client = client
        self.spec = spec
        self.settings = dict(spec.destination.settings)
        self.files_root = Path(files_root) if files_root else None
        self.source_key_field = str(self.settings.get("source_key_field") or DEFAULT_SOURCE_KEY_FIELD)
        self.files = DocumentFiles(self.files_root, size_limit=int(self.settings.get("file_size_limit_bytes")
                                                                   or DEFAULT_FILE_SIZE_LIMIT))
        self.time_zone = self.settings.get("time_zone")
        self.folders_enabled = bool(self.settings.get("custom_field_folders", False))
        self.folder_ids: dict[str, str] = {str(k): str(v) for k, v in
                                           (self.settings.get("custom_field_folder_ids") or {}).items()}
        self.settle_seconds = float(self.settings.get("lookup_settle_seconds", 3.0))
        self.scan_from_year = int(self.settings.get("appointment_scan_from_year", 1990))
        if "daily_request_floor" in self.settings:
            client.daily_floor = int(self.settings["daily_request_floor"])
        agency_env = self.settings.get("agency_token_env")
        if agency_env and os.environ.get(str(agency_env)):
            client.set_agency_token(os.environ[str(agency_env)])
        self._lock = threading.RLock()
        self.fields: dict[str, dict[str, FieldRef]] = {m: {} for m in MODELS}
        self.folders: dict[str, dict[str, Any]] = {}
        self._folder_listing: dict[str, dict[str, str]] = {}
        self.calendars: dict[str, str] = {}
        self.pipelines: dict[str, tuple[str, dict[str, str]]] = {}
        self.objects: dict[str, _ObjectInfo] = {}
        self._prepared: set[str] = set()
        self._users: dict[str, str] | None = None
        self._fallback: str | None = None
        self._fallback_checked = False
        self._row_group: dict[str, dict[str, Hashable]] = {}
        # duplicate rule bookkeeping (contacts): identifier kinds the location refused, and the
        # normalised identifiers this destination sent on contacts (created or in flight)
        self._refused_kinds: set[str] = set()
        self._identifiers_sent: dict[str, set[str]] = {f: set() for f in SHARED_FIELDS}

    # ================================================================== schema

    def ensure_schema(self, spec: MigrationSpec | None = None) -> dict[str, Any]:
        """Create (or find) everything the spec's targets need; idempotent (a second run only reads).

        Location custom fields (contact/opportunity, in folders when enabled), the source-key and
        shared-contact fields, FILE_UPLOAD fields of upload-mode file targets, calendars, custom
        objects with their fields and associations; pipelines are only checked.

        Returns the custom-field design document::

            {"custom_fields": {"contact": [{name, dataType, id, fieldKey, category, folder_id,
                                            options, created, targets}], "opportunity": [...]},
             "folders": {"contact": {"mode": "disabled"|"unused"|"api"|"settings"|"manual", "folders": {...},
                                     "manual": {category: [field names]}}, ...},
             "calendars": {name: id}, "pipelines": {name: {"id", "stages": {name: id}}},
             "custom_objects": {target: {"key", "fields": [...], "association_id"}}}

        Raises:
            SchemaError: a field name exists with another type, a pipeline or stage is missing, a
                custom object is missing and no agency token is configured.
            HighLevelError: the API refused a request.
        """
        spec = spec or self.spec
        return self._ensure(spec, list(spec.targets))

    def _ensure(self, spec: MigrationSpec, names: Sequence[str]) -> dict[str, Any]:
        with self._lock:
            design: dict[str, Any] = {"custom_fields": {}, "folders": {}, "calendars": {}, "pipelines": {},
                                      "custom_objects": {}}
            for name in names:
                self._validate_target(name, spec.targets[name])
            wanted = self._wanted_fields(spec, names)
            for model in MODELS:
                if wanted[model]:
                    design["custom_fields"][model] = self._provision_fields(model, wanted[model], design)
            for name in names:
                t = spec.targets[name]
                if t.entity == "appointment":
                    cal = str(t.options["calendar"])
                    design["calendars"][cal] = self._ensure_calendar(cal)
                elif t.entity == "opportunity":
                    pname, stages = self._pipeline_wanted(t)
                    pid, stage_ids = self._check_pipeline(pname, stages)
                    design["pipelines"][pname] = {"id": pid, "stages": stage_ids}
                elif t.entity == "custom_object_record":
                    info = self._ensure_object(name, t)
                    design["custom_objects"][name] = {
                        "key": info.key, "association_id": info.association_id,
                        "source_key_property": info.source_key_property,
                        "fields": [{"property": r.property_key, "name": r.name, "dataType": r.data_type, "id": r.id}
                                   for r in {**info.field_refs, **info.refs}.values()]}
            self._prepared.update(names)
            return design

    def prepare(self, target_name: str, target: Target) -> None:
        """Resolve what the target's bodies need (field ids, calendar, pipeline, object) if this
        process has not yet: ``ensure_schema`` for this one target (reads only, when the schema
        step already ran). Users need nothing."""
        if target.entity == "user" or target_name in self._prepared:
            return
        self._ensure(self.spec, [target_name])

    def _validate_target(self, name: str, t: Target) -> None:
        allowed = bodies.ENTITY_FIELDS.get(t.entity)
        if allowed is not None:
            unknown = sorted(set(t.fields) - allowed)
            if unknown:
                raise SchemaError(f"target {name}: fields {unknown} are not {t.entity} fields "
                                  f"(allowed: {sorted(allowed)})")
        lookups = bodies.ENTITY_LOOKUPS.get(t.entity)
        if lookups is not None:
            unknown = sorted(set(t.lookups) - lookups)
            if unknown:
                raise SchemaError(f"target {name}: lookups {unknown} are not {t.entity} lookups "
                                  f"(allowed: {sorted(lookups)})")
        if t.entity in ("note", "task", "appointment", "file", "opportunity") and "contactId" not in t.lookups:
            raise SchemaError(f"target {name}: a {t.entity} needs a contactId lookup")
        if t.entity == "appointment" and not t.options.get("calendar"):
            raise SchemaError(f"target {name}: an appointment target needs options.calendar")
        if t.entity == "file" and self._file_mode(t) not in ("upload", "link_or_flag"):
            raise SchemaError(f"target {name}: options.mode must be upload or link_or_flag")
        if t.entity == "custom_object_record":
            for opt in ("object_key", "primary_property", "source_key_property"):
                if not t.options.get(opt):
                    raise SchemaError(f"target {name}: custom_object_record needs options.{opt}")
        for cf_name, cf in t.custom_fields.items():
            if cf.type.upper() in bodies.UNSETTABLE_TYPES:
                raise SchemaError(f"target {name}: custom field {cf_name!r} of type {cf.type} cannot take a payload "
                                  "value (files go through a file target)")
        match = t.options.get("match_existing")
        if match is not None and match not in MATCH_FIELDS.get(t.entity, {}):
            raise SchemaError(f"target {name}: options.match_existing {match!r} is not a matchable {t.entity} field "
                              f"(allowed: {sorted(MATCH_FIELDS.get(t.entity, {})) or 'none'})")

    @staticmethod
    def _file_mode(t: Target) -> str:
        return str(t.options.get("mode", "link_or_flag"))

    def _wanted_fields(self, spec: MigrationSpec, names: Sequence[str]) -> dict[str, dict[str, _FieldWant]]:
        wanted: dict[str, dict[str, _FieldWant]] = {m: {} for m in MODELS}

        def want(model: str, target: str, name: str, data_type: str, options: list[str] | None,
                 category: str | None, **extra: Any) -> None:
            data_type = data_type.upper()
            prev = wanted[model].get(name)
            if prev is None:
                wanted[model][name] = _FieldWant(name, data_type, list(options or []), category, [target], extra)
                return
            if prev.data_type != data_type:
                raise SchemaError(f"{model} custom field {name!r}: target {target} wants {data_type}, "
                                  f"targets {prev.targets} want {prev.data_type}")
            prev.options = list(dict.fromkeys(prev.options + list(options or [])))
            prev.category = prev.category or category
            prev.targets.append(target)

        for name in names:
            t = spec.targets[name]
            if t.entity == "contact":
                want("contact", name, self.source_key_field, "TEXT", None, None)
                for field_name, model_field in SHARED_FIELDS.items():
                    if field_name in t.fields:
                        want("contact", name, model_field, "TEXT", None, SHARED_CATEGORY)
                for cf_name, cf in t.custom_fields.items():
                    want("contact", name, cf_name, cf.type, cf.options, cf.category)
            elif t.entity == "opportunity":
                want("opportunity", name, self.source_key_field, "TEXT", None, None)
                for cf_name, cf in t.custom_fields.items():
                    want("opportunity", name, cf_name, cf.type, cf.options, cf.category)
            elif t.entity == "file" and self._file_mode(t) == "upload":
                want("contact", name, str(t.options.get("custom_field", "Documents")), "FILE_UPLOAD", None,
                     t.options.get("category", "Documents"), isMultipleFile=True,
                     maxNumberOfFiles=int(t.options.get("max_files", 50)))
        return wanted

    def _folder_id(self, model: str, category: str | None) -> str | None:
        """The folder id for ``category`` (see "Folders" in the module docstring), or None."""
        state = self.folders[model]
        if not category or not self.folders_enabled:
            return None
        if category in self.folder_ids:
            state["mode"] = "settings" if state["mode"] in ("unused", "settings") else state["mode"]
            state["folders"][category] = self.folder_ids[category]
            return self.folder_ids[category]
        if state["mode"] == "manual":
            return None
        if category in state["folders"]:
            return state["folders"][category]
        try:
            listed = self._folder_listing.get(model)
            if listed is None:
                listing = self.client.list_object_fields(model)
                listed = self._folder_listing[model] = {str(f.get("name")): str(f["id"])
                                                        for f in listing.get("folders") or [] if f.get("id")}
            found = listed.get(category)
            if found is None:
                found = listed[category] = str(self.client.create_folder(model, category)["id"])
            state["mode"] = "api"
            state["folders"][category] = found
            return found
        except (HighLevelError, KeyError) as exc:
            if isinstance(exc, DailyBudgetExhausted) or getattr(exc, "status", None) == 401:
                raise
            log.info("%s custom field folders are not available through the API (%s); fields are created "
                     "without a folder and listed for manual grouping", model, exc)
            state["mode"] = "manual"
            return None

    def _provision_fields(self, model: str, wanted: dict[str, _FieldWant], design: dict[str, Any]) -> list[dict]:
        design["folders"][model] = self.folders.setdefault(
            model, {"mode": "disabled" if not self.folders_enabled else "unused", "folders": {}, "manual": {}})
        listing = self.client.list_custom_fields(model)
        by_name = {str(f.get("name")): f for f in listing if f.get("model", model) == model}
        out = []
        for want in wanted.values():
            existing = by_name.get(want.name)
            created = False
            folder_id = None
            if existing is not None and str(existing.get("dataType", "")).upper() != want.data_type:
                raise SchemaError(f"{model} custom field {want.name!r} exists with dataType "
                                  f"{existing.get('dataType')!r}, the spec wants {want.data_type!r} (types cannot "
                                  "be changed: rename one of them)", "/locations/{id}/customFields")
            if existing is None:
                folder_id = self._folder_id(model, want.category)
                body: dict[str, Any] = {"name": want.name, "dataType": want.data_type, "model": model}
                if want.options and want.data_type in bodies.OPTION_TYPES:
                    body["options"] = want.options
                if folder_id:
                    body["parentId"] = folder_id
                body.update(want.extra)
                # an unknown outcome: list again before sending again (both lambdas run inside this call)
                existing = self._create_once(
                    lambda: self.client.create_custom_field(body),  # noqa: B023
                    lambda: {str(f.get("name")): f for f in self.client.list_custom_fields(model)}.get(want.name))  # noqa: B023
                created = True
                if want.category and folder_id is None and self.folders_enabled:
                    self.folders[model]["manual"].setdefault(want.category, []).append(want.name)
            options = tuple(str(o) for o in existing.get("picklistOptions") or []) or tuple(want.options)
            ref = FieldRef(str(existing["id"]), want.name, str(existing.get("fieldKey", "")), want.data_type, options)
            self.fields[model][want.name] = ref
            out.append({"name": want.name, "dataType": want.data_type, "id": ref.id, "fieldKey": ref.key,
                        "category": want.category, "folder_id": existing.get("parentId") or folder_id,
                        "options": list(options), "created": created, "targets": want.targets})
        return out

    def _create_once(self, create: Callable[[], Any], find: Callable[[], Any]) -> Any:
        """A schema create (custom field, calendar, object, association) exactly once: after a lost
        answer or a 5xx ``find()`` looks for it, and only when nothing is found is it sent again
        (``http.retry.send_once``; the client's transient error after its retries)."""
        c = self.client
        return send_once(create, find, policy=c.retry_policy, clock=c.clock, stats=c.stats)[0]

    def _ensure_calendar(self, name: str) -> str:
        if name in self.calendars:
            return self.calendars[name]
        found = next((c for c in self.client.list_calendars() if c.get("name") == name), None)
        if found is None:
            body = {"name": name, "description": "Appointments migrated by Flit (historical records)",
                    "calendarType": "event", "isActive": True}
            found = self._create_once(lambda: self.client.create_calendar(body),
                                      lambda: next((c for c in self.client.list_calendars() if c.get("name") == name),
                                                   None))
        self.calendars[name] = str(found["id"])
        return self.calendars[name]

    @staticmethod
    def _pipeline_wanted(t: Target) -> tuple[str, list[str]]:
        opt = t.options.get("pipeline")
        if isinstance(opt, Mapping):
            name, stages = str(opt.get("name")), list(opt.get("stages") or [])
        elif opt:
            name, stages = str(opt), []
        elif t.pipeline is not None:
            name, stages = t.pipeline.name, list(t.pipeline.stages)
        else:
            raise SchemaError("an opportunity target needs options.pipeline (the pipeline's name)")
        stages += [str(s) for s in t.options.get("stages") or []]
        if t.pipeline is not None:
            stages += list(t.pipeline.stages)
        return name, list(dict.fromkeys(stages))

    def _check_pipeline(self, name: str, stages: list[str]) -> tuple[str, dict[str, str]]:
        """The pipeline's id and stage ids; pipelines cannot be created through API v2."""
        pipelines = self.client.list_pipelines()
        found = next((p for p in pipelines if p.get("name") == name), None)
        if found is None:
            raise SchemaError(
                f"pipeline {name!r} does not exist in the location and cannot be created through the API "
                f"(spec:opportunities has no create-pipeline operation): create it in HighLevel "
                f"(Opportunities > Pipelines) with the stages {stages}", "/opportunities/pipelines")
        stage_ids = {str(s.get("name")): str(s.get("id")) for s in found.get("stages") or [] if isinstance(s, Mapping)}
        missing = [s for s in stages if s not in stage_ids]
        if missing:
            raise SchemaError(f"pipeline {name!r} lacks the stages {missing}: add them in HighLevel "
                              "(Opportunities > Pipelines); stages cannot be created through the API",
                              "/opportunities/pipelines")
        self.pipelines[name] = (str(found["id"]), stage_ids)
        return self.pipelines[name]

    def _ensure_object(self, target_name: str, t: Target) -> _ObjectInfo:
        opts = t.options
        key = str(opts["object_key"])
        key = key if key.startswith("custom_objects.") else f"custom_objects.{key}"
        short = key.split(".", 1)[1]
        labels = dict(opts.get("labels") or {})
        labels.setdefault("singular", short.replace("_", " ").title())
        labels.setdefault("plural", labels["singular"] + "s")
        primary = str(opts["primary_property"])
        skp = str(opts["source_key_property"])
        found = self.client.get_object(key)
        if found is None:
            if not self.client.has_agency_token:
                raise SchemaError(
                    f"custom object {key} does not exist, and creating a custom object schema needs an agency "
                    "token (POST /objects/ is Agency-Access only, notes §4.4): create it in HighLevel "
                    f"(Settings > Objects) with the primary display property {primary!r}, or set "
                    "destination.settings.agency_token_env", "/objects/")
            body = {"labels": {"singular": labels["singular"], "plural": labels["plural"]}, "key": key,
                    "description": str(opts.get("description", "Migrated by Flit")),
                    "primaryDisplayPropertyDetails": {"key": f"{key}.{primary}",
                                                      "name": str(opts.get("primary_label", primary.replace("_", " ").title())),
                                                      "dataType": "TEXT"}}
            self._create_once(lambda: self.client.create_object(body), lambda: self.client.get_object(key))
        listing = self.client.list_object_fields(key)
        fields = list(listing.get("fields") or [])
        if not fields:  # older listings: the schema's own fields
            fields = list((self.client.get_object(key) or {}).get("fields") or [])
        by_prop = {str(f.get("fieldKey", "")).rsplit(".", 1)[-1]: f for f in fields}
        folders = {str(f.get("name")): str(f["id"]) for f in listing.get("folders") or [] if f.get("id")}

        def folder(category: str | None) -> str:
            name = category or str(opts.get("folder", DEFAULT_OBJECT_FOLDER))
            if name not in folders:
                folders[name] = str(self.client.create_folder(key, name)["id"])
            return folders[name]

        def ensure(prop: str, name: str, data_type: str, options: list[str], category: str | None) -> FieldRef:
            f = by_prop.get(prop)
            if f is not None and str(f.get("dataType", data_type)).upper() != data_type:
                raise SchemaError(f"custom object {key} property {prop!r} exists with dataType {f.get('dataType')!r}, "
                                  f"the spec wants {data_type!r}", "/custom-fields/")
            if f is None:
                body: dict[str, Any] = {"name": name, "dataType": data_type, "fieldKey": f"{key}.{prop}",
                                        "objectKey": key, "parentId": folder(category), "showInForms": True}
                if options and data_type in bodies.OPTION_TYPES:
                    body["options"] = [{"key": slug(o), "label": o} for o in options]
                f = self._create_once(lambda: self.client.create_object_field(body), lambda: {
                    str(x.get("fieldKey", "")).rsplit(".", 1)[-1]: x
                    for x in self.client.list_object_fields(key).get("fields") or []}.get(prop))
                by_prop[prop] = f
            opt_list = f.get("options") or []
            option_keys = {str(o.get("label")): str(o.get("key")) for o in opt_list if isinstance(o, Mapping)}
            labels_ = tuple(option_keys) or tuple(options)
            return FieldRef(str(f.get("id", prop)), name, str(f.get("fieldKey", f"{key}.{prop}")), data_type,
                            labels_, option_keys or {o: slug(o) for o in options})

        field_refs: dict[str, FieldRef] = {}
        for prop in [*t.fields, skp]:
            if prop == primary and prop in by_prop:
                f = by_prop[prop]
                field_refs[prop] = FieldRef(str(f.get("id", prop)), prop, str(f.get("fieldKey")),
                                            str(f.get("dataType", "TEXT")).upper())
                continue
            field_refs[prop] = ensure(prop, prop.replace("_", " ").title(), "TEXT", [], None)
        refs = {name: ensure(slug(name), name, cf.type.upper(), list(cf.options or []), cf.category)
                for name, cf in t.custom_fields.items()}
        assoc = dict(opts.get("association") or {})
        association_id, record_first = None, True
        if assoc.get("key"):
            a = self.client.get_association(str(assoc["key"]))
            if a is None:
                body = {"key": str(assoc["key"]),
                        "firstObjectLabel": str(assoc.get("object_label", labels["singular"])), "firstObjectKey": key,
                        "secondObjectLabel": str(assoc.get("contact_label", "Contact")), "secondObjectKey": "contact"}
                a = self._create_once(lambda: self.client.create_association(body),
                                      lambda: self.client.get_association(str(assoc["key"])))
            association_id = str(a.get("id"))
            record_first = a.get("firstObjectKey") == key
        info = _ObjectInfo(key, refs, field_refs, skp, assoc.get("contact_lookup"), association_id, record_first)
        self.objects[target_name] = info
        return info

    # ================================================================== users

    def users_by_email(self) -> dict[str, str]:
        """Lower-case e-mail -> user id of the location's users (``GET /users/?locationId=``,
        notes §4.2; deleted users skipped); cached per destination."""
        if self._users is None:
            self._users = {str(u["email"]).strip().lower(): str(u["id"])
                           for u in self.client.list_users() if u.get("email") and not u.get("deleted")}
        return self._users

    def fallback_owner_id(self) -> str | None:
        """User id of ``fallback_owner_email`` (None if the setting is empty).

        Raises FatalLoadError if no user of the location has that e-mail."""
        if not self._fallback_checked:
            email = str(self.settings.get("fallback_owner_email") or "").strip().lower()
            if email:
                self._fallback = self.users_by_email().get(email)
                if self._fallback is None:
                    raise FatalLoadError("the fallback owner e-mail is not a user of the HighLevel location")
            self._fallback_checked = True
        return self._fallback

    # ================================================================== bodies and flags

    def build_body(self, target_name: str, target: Target, row: dict[str, Any],
                   resolved_fks: dict[str, Any]) -> dict[str, Any]:
        """One request body for a payload row (``bodies.build_body``, with this location's field ids,
        calendar, pipeline and object). Records the row's contact for ``find_existing``.

        Raises ValueError naming the field (never the value)."""
        self.prepare(target_name, target)
        entity = target.entity
        sid = str(row["source_id"])
        try:
            kw: dict[str, Any] = {}
            if entity in MODELS:
                kw["refs"] = self.fields[entity]
                kw["source_key_ref"] = self.fields[entity].get(self.source_key_field)
            if entity == "appointment":
                kw["calendar_id"] = self.calendars[str(target.options["calendar"])]
            if entity == "opportunity":
                pid, stages = self.pipelines[self._pipeline_wanted(target)[0]]
                kw.update(pipeline_id=pid, stages=stages)
            if entity == "custom_object_record":
                info = self.objects[target_name]
                kw.update(record_refs=info.refs, record_field_refs=info.field_refs,
                          source_key_property=info.source_key_property, contact_lookup=info.contact_lookup)
            if entity == "file":
                kw["files_meta"] = self._file_meta(target_name, target, row)
            body = bodies.build_body(row, entity=entity, target=target_name, refs=kw.pop("refs", {}),
                                     source_key_ref=kw.pop("source_key_ref", None), resolved_fks=resolved_fks,
                                     time_zone=self.time_zone, **kw)
        except BodyError as exc:
            raise ValueError(str(exc)) from None
        if entity in ("note", "task", "file"):
            self._row_group.setdefault(target_name, {})[sid] = body["contactId"]
        elif entity == "appointment":
            self._row_group.setdefault(target_name, {})[sid] = _day_of(body["startTime"])
        return body

    def _file_meta(self, target_name: str, target: Target, row: dict[str, Any]) -> dict[str, Any]:
        mode = self._file_mode(target)
        if mode != "upload":
            return {"mode": mode}
        doc = self.files.check(row.get(FILE_PATH))
        return {"mode": "upload", "file_id": key_token(source_key(target_name, str(row["source_id"]))),
                "size": doc.size if doc.ok else None}

    def flag(self, target_name: str, target: Target, row: dict[str, Any]) -> str | None:
        """Why a file row is not sent (None for other entities / sendable files).

        ``link_or_flag`` without a ``url``: "not hosted: manual re-upload". ``upload``: missing file,
        over ``file_size_limit_bytes``, or a type ``POST /forms/upload-custom-files`` does not accept.
        Reasons carry sizes and extensions only, never names or paths (patient data)."""
        if target.entity != "file":
            return None
        if self._file_mode(target) != "upload":
            return None if bodies.present(row.get("url")) else "not hosted: manual re-upload"
        doc = self.files.check(row.get(FILE_PATH))
        if not doc.ok:
            return flag_text(doc.reason, FILE_REMEDY)
        name = str(row.get("file_name") or doc.name)
        ext = Path(name).suffix.lower() or doc.path.suffix.lower()
        if ext not in UPLOAD_EXTENSIONS:
            return flag_text(f"file type {ext or '(none)'} is not accepted by HighLevel uploads", FILE_REMEDY)
        return None

    # ================================================================== writes

    def _guard(self, fn: Callable[[], SendResult]) -> SendResult:
        """Run one write: budget/auth problems stop the load, other refusals fail the row,
        transport errors propagate (the caller decides whether a lookup is needed)."""
        return guarded_write(fn, api_error=HighLevelError, transport_error=HighLevelTransportError,
                             fatal_errors=(DailyBudgetExhausted,), fatal_statuses=FATAL_STATUSES)

    def create(self, target_name: str, target: Target, body: dict[str, Any], row: dict[str, Any]) -> SendResult:
        """Create one record exactly once (``base.create_once``): after a lost answer (5xx, timeout,
        dropped connection) the record is looked up by its source key (``_find_one``, probing while
        search settles) and adopted if found; otherwise the create is sent again (a duplicate-rule
        refusal of that resend is checked against our own key first). A lookup the API refuses
        fails the row (never create blindly); FatalLoadError when the location stays unavailable."""
        sid = str(row["source_id"])
        sends = 0

        def send() -> SendResult:
            nonlocal sends
            sends += 1
            return self._guard(lambda: self._create(target_name, target, body, row, retry=sends > 1))

        def find() -> SendResult | None:
            try:
                found = self._probe(lambda: self._find_one(target_name, target, sid, body))
            except DailyBudgetExhausted as exc:
                raise FatalLoadError(str(exc)) from None
            except HighLevelTransportError:
                raise
            except HighLevelError as exc:  # cannot tell whether it exists: never create blindly
                if exc.status in FATAL_STATUSES:
                    raise FatalLoadError(str(exc)) from None
                return SendResult(None, error=f"create answer lost and the lookup failed: {exc}")
            if found is None:
                return None
            log.info("%s: a create with a lost answer had been executed; adopted the record", target_name)
            return SendResult(found)

        return create_once(send, find, client=self.client)

    def _probe(self, find: Callable[[], str | None]) -> str | None:
        """``find()`` at once, then again over ``lookup_settle_seconds`` (three probes in all):
        HighLevel's search is eventually consistent, and a timed-out create may still be running."""
        delays = [0.0, self.settle_seconds / 2, self.settle_seconds / 2] if self.settle_seconds > 0 else [0.0]
        for delay in delays:
            if delay:
                self.client.clock.sleep(delay)
            found = find()
            if found is not None:
                return found
        return None

    def _create(self, target_name: str, target: Target, body: dict[str, Any], row: dict[str, Any], *,
                retry: bool = False) -> SendResult:
        entity = target.entity
        c = self.client
        if entity == "contact":
            return self._create_contact(body, source_key(target_name, str(row["source_id"])), retry=retry)
        if entity == "note" or (entity == "file" and self._file_mode(target) != "upload"):
            note = c.create_note(body["contactId"], bodies.strip_routing("note", body))
            return SendResult(f"{body['contactId']}/{note['id']}")
        if entity == "task":
            task = c.create_task(body["contactId"], bodies.strip_routing("task", body))
            return SendResult(f"{body['contactId']}/{task['id']}")
        if entity == "appointment":
            return SendResult(str(c.create_appointment(body)["id"]))
        if entity == "opportunity":
            return self._create_opportunity(target_name, target, body, row)
        if entity == "custom_object_record":
            info = self.objects[target_name]
            record = c.create_record(info.key, self._record_payload(body))
            return self._relate(info, str(record["id"]), body, created=True)
        if entity == "file":
            return self._upload(target_name, target, body, row)
        return SendResult(None, error=f"entity {entity} cannot be created")

    # -- contacts -------------------------------------------------------------------------------

    def _shared_variant(self, body: dict[str, Any], moved: set[str], *, update: bool, tagged: bool) -> dict[str, Any]:
        """``body`` with the ``moved`` identifiers (email/phone) taken off the contact and put into
        the "Shared Email"/"Shared Phone" fields, plus the ``shared-contact-info`` tag."""
        if not moved and not tagged:
            return body
        out = {k: v for k, v in body.items() if k not in moved}
        shared_ids = {self.fields["contact"][SHARED_FIELDS[f]].id: f for f in SHARED_FIELDS
                      if SHARED_FIELDS[f] in self.fields["contact"]}
        custom = [cf for cf in body.get("customFields", []) if cf["id"] not in shared_ids]
        for name in sorted(moved):
            ref = self.fields["contact"].get(SHARED_FIELDS[name])
            if ref is None:
                raise HighLevelError(0, f"the {SHARED_FIELDS[name]} custom field is not provisioned", "/contacts/")
            custom.append({"id": ref.id, "field_value": body[name]})
        out["customFields"] = custom
        if "tags" in body or not update:
            out["tags"] = [*[t for t in body.get("tags", []) if t != SHARED_TAG], SHARED_TAG]
        return out

    @staticmethod
    def _matching_field(exc: HighLevelError, body: dict[str, Any], moved: set[str]) -> str | None:
        field_name = exc.meta.get("matchingField")
        if field_name in SHARED_FIELDS and field_name in body and field_name not in moved:
            return field_name
        return next((f for f in SHARED_FIELDS if f in body and f not in moved), None)

    def _create_contact(self, body: dict[str, Any], key: str, *, retry: bool = False) -> SendResult:
        """Create a contact; on the duplicate-rule 400 move the matching identifier into the shared
        fields and try again (at most once per identifier).

        Identifiers that this destination already sent on a contact (created or in flight), of a
        kind the location has refused before, are moved up front: that saves the refused request
        for every further family member, also when family rows are sent concurrently. ``retry``:
        this is the second attempt after a lost answer, so a duplicate match may be the contact our
        first attempt made: it is read and adopted if it carries our key.
        """
        with self._lock:
            moved = {f for f in self._refused_kinds
                     if f in body and _norm(f, body[f]) in self._identifiers_sent[f]}
            for f in SHARED_FIELDS:  # reserve this contact's own identifiers before sending
                if f in body and f not in moved:
                    self._identifiers_sent[f].add(_norm(f, body[f]))
        for _ in range(len(SHARED_FIELDS) + 1):
            try:
                contact = self.client.create_contact(self._shared_variant(body, moved, update=False, tagged=bool(moved)))
            except HighLevelError as exc:
                if not exc.is_duplicate_contact:
                    raise
                other = str(exc.meta["contactId"])
                if retry and self._contact_key(self.client.get_contact(other)) == key:
                    # our own first attempt, whose answer was lost: adopt, and bring it up to date
                    res = self._update_contact(other, body)
                    return res if res.error else SendResult(other)
                name = self._matching_field(exc, body, moved)
                if name is None:
                    raise
                with self._lock:
                    self._refused_kinds.add(name)
                moved.add(name)
                continue
            return SendResult(str(contact["id"]))
        raise HighLevelError(400, "duplicate rule still refuses the contact without e-mail and phone", "/contacts/",
                             method="POST")

    def _contact_key(self, contact: Mapping[str, Any] | None) -> str | None:
        ref = self.fields["contact"].get(self.source_key_field)
        if contact is None or ref is None:
            return None
        return next((cf.get("value", cf.get("field_value")) for cf in contact.get("customFields") or []
                     if cf.get("id") == ref.id), None)

    def _update_contact(self, contact_id: str, body: dict[str, Any]) -> SendResult:
        # UpdateContactDto has no gender/companyName/locationId (contacts.json; the API answers 422
        # "property gender should not exist"): they are set on create only.
        body = {k: v for k, v in body.items() if k not in CREATE_ONLY_CONTACT_FIELDS}
        current = self.client.get_contact(contact_id)
        if current is None:
            return SendResult(None, error="HighLevel contact no longer exists (deleted in the CRM?)")
        tagged = SHARED_TAG in (current.get("tags") or [])
        moved = {f for f in SHARED_FIELDS if tagged and f in body and not current.get(f)}
        for _ in range(len(SHARED_FIELDS) + 1):
            try:
                self.client.update_contact(contact_id, self._shared_variant(body, moved, update=True, tagged=tagged))
                return SendResult(contact_id)
            except HighLevelError as exc:
                if not exc.is_duplicate_contact or str(exc.meta.get("contactId")) == contact_id:
                    raise
                name = self._matching_field(exc, body, moved)
                if name is None:
                    raise
                moved.add(name)
                tagged = True
        raise HighLevelError(400, "duplicate rule still refuses the update", "/contacts/{id}", method="PUT")

    # -- opportunities, records, files --------------------------------------------------------------

    def _create_opportunity(self, target_name: str, target: Target, body: dict[str, Any],
                            row: dict[str, Any]) -> SendResult:
        try:
            return SendResult(str(self.client.create_opportunity(body)["id"]))
        except HighLevelError as exc:
            existing = exc.meta.get("existingId")
            if exc.status != 400 or not existing:
                raise
            # The location refuses a second opportunity for the contact in this pipeline: adopt the
            # existing one only if it is ours (same source key); never overwrite someone else's.
            opp = self.client.get_opportunity(str(existing))
            if opp is not None and self._opportunity_key(opp) == source_key(target_name, str(row["source_id"])):
                self.client.update_opportunity(str(existing), _without(body, "contactId"))
                return SendResult(str(existing))
            raise

    def _opportunity_key(self, opp: Mapping[str, Any]) -> str | None:
        ref = self.fields["opportunity"].get(self.source_key_field)
        if ref is None:
            return None
        return next((cf.get("fieldValue", cf.get("value", cf.get("field_value")))
                     for cf in opp.get("customFields") or [] if cf.get("id") == ref.id), None)

    @staticmethod
    def _record_payload(body: dict[str, Any]) -> dict[str, Any]:
        return bodies.strip_routing("custom_object_record", body)

    def _relate(self, info: _ObjectInfo, record_id: str, body: dict[str, Any], *, created: bool) -> SendResult:
        """Make sure the record is related to ``body["contactId"]`` (and to no other contact through
        this association). A failure leaves the row failed; the re-run adopts the record by its
        source key and relates it then."""
        contact_id = body.get("contactId")
        if not info.association_id or not contact_id:
            return SendResult(record_id)
        try:
            relations = [] if created else self.client.list_relations(record_id, info.association_id)
            mine = [r for r in relations if r.get("associationId", info.association_id) == info.association_id]
            other_side = "secondRecordId" if info.record_first else "firstRecordId"
            if not any(r.get(other_side) == contact_id for r in mine):
                first, second = (record_id, contact_id) if info.record_first else (contact_id, record_id)
                self.client.create_relation(info.association_id, first, second)
            for r in mine:
                if r.get(other_side) != contact_id and r.get("id"):
                    self.client.delete_relation(str(r["id"]))
        except DailyBudgetExhausted:
            raise
        except HighLevelError as exc:
            if exc.status in FATAL_STATUSES:
                raise
            return SendResult(None, error=f"record saved but not related to its contact: {exc}")
        return SendResult(record_id)

    def _upload(self, target_name: str, target: Target, body: dict[str, Any], row: dict[str, Any]) -> SendResult:
        ref = self.fields["contact"][str(target.options.get("custom_field", "Documents"))]
        doc = self.files.check(row.get(FILE_PATH))
        try:
            content = self.files.read(doc)
        except FileRejected as exc:  # changed since flag(): the row fails with the reason
            return SendResult(None, error=flag_text(exc.reason, FILE_REMEDY))
        name = body.get("file_name") or doc.name
        mime = mimetypes.guess_type(name)[0] or mimetypes.guess_type(doc.name)[0] or "application/octet-stream"
        part = f"{ref.id}_{body['file_id']}"
        self.client.upload_custom_files(body["contactId"], [(part, name, content, mime)])
        return SendResult(f"{body['contactId']}/{body['file_id']}")

    # -- updates ----------------------------------------------------------------------------------

    def update(self, target_name: str, target: Target, dest_id: str, body: dict[str, Any],
               row: dict[str, Any]) -> SendResult:
        """Update one record (all idempotent requests: PUT, or a re-upload under the same file id).

        Notes, tasks, link notes, files, appointments and opportunities whose contact changed are
        re-created under the new contact and the old record is deleted (none of these can move)."""
        entity = target.entity

        def send() -> SendResult:
            c = self.client
            if entity == "contact":
                return self._update_contact(dest_id, body)
            if entity in ("note", "task", "file"):
                contact_id, child_id = _split(dest_id)
                if contact_id != body["contactId"]:
                    return self._move(target_name, target, dest_id, body, row)
                if entity == "task":
                    c.update_task(contact_id, child_id, bodies.strip_routing("task", body))
                elif entity == "file" and self._file_mode(target) == "upload":
                    self._remove_file(contact_id, target, child_id)
                    return self._upload(target_name, target, body, row)
                else:
                    c.update_note(contact_id, child_id, bodies.strip_routing("note", body))
                return SendResult(dest_id)
            if entity == "appointment":
                current = c.get_appointment(dest_id)
                if current is not None and current.get("contactId") not in (None, body["contactId"]):
                    return self._move(target_name, target, dest_id, body, row)
                c.update_appointment(dest_id, _without(body, "contactId"))
                return SendResult(dest_id)
            if entity == "opportunity":
                current = c.get_opportunity(dest_id)
                if current is not None and current.get("contactId") not in (None, body["contactId"]):
                    return self._move(target_name, target, dest_id, body, row)
                c.update_opportunity(dest_id, _without(body, "contactId"))
                return SendResult(dest_id)
            if entity == "custom_object_record":
                info = self.objects[target_name]
                c.update_record(info.key, dest_id, self._record_payload(body))
                return self._relate(info, dest_id, body, created=False)
            return SendResult(None, error=f"entity {entity} cannot be updated")

        try:
            return self._guard(send)
        except HighLevelTransportError as exc:  # idempotent, already repeated by the client
            raise unavailable(exc) from None

    def _move(self, target_name: str, target: Target, dest_id: str, body: dict[str, Any],
              row: dict[str, Any]) -> SendResult:
        res = self.create(target_name, target, body, row)
        if res.error is None:
            self._delete_one(target_name, target, dest_id)
        return res

    def _remove_file(self, contact_id: str, target: Target, file_id: str) -> bool:
        """Drop one entry from the contact's FILE_UPLOAD value (PUT with the remaining entries;
        how HighLevel removes a single file is UNCONFIRMED)."""
        ref = self.fields["contact"][str(target.options.get("custom_field", "Documents"))]
        contact = self.client.get_contact(contact_id)
        value = _field_value(contact, ref.id) if contact else None
        if not isinstance(value, dict):
            return False
        keep = {k: v for k, v in value.items() if file_id not in _entry_ids(k, v)}
        if len(keep) == len(value):
            return False
        self.client.update_contact(contact_id, {"customFields": [{"id": ref.id, "field_value": keep}]})
        return True

    # ================================================================== reads

    def find_existing(self, target_name: str, target: Target) -> Mapping[str, str]:
        """Source ID -> destination ID of records already carrying this target's source key
        (users: lower-case e-mail -> user id).

        Contacts, opportunities and custom object records: one paged listing. Notes, tasks, files
        and appointments: a lazy mapping that lists one contact's records (or one day of the
        calendar) when ``load_target`` asks about a row of it (see ``_LazyIndex``)."""
        entity = target.entity
        if entity == "user":
            return self.users_by_email()
        self.prepare(target_name, target)
        if entity in ("contact", "opportunity", "custom_object_record"):
            out: dict[str, str] = {}
            dups = 0
            for key, dest in self._keys_in_destination(target_name, target):
                sid = key.split(":", 1)[1]
                if sid in out:
                    dups += 1
                    continue
                out[sid] = dest
            if dups:
                log.warning("%s: %d source keys occur more than once in HighLevel (first one adopted)", target_name, dups)
            return out
        groups = self._row_group.setdefault(target_name, {})
        if entity == "appointment":
            return _LazyIndex(groups.get, lambda day: self._appointments_of_day(target_name, target, day))
        return _LazyIndex(groups.get, lambda contact: self._children_of(target_name, target, str(contact)))

    def _children_of(self, target_name: str, target: Target, contact_id: str) -> dict[str, str]:
        """Source ID -> dest ID of the target's records under one contact."""
        prefix = target_name + ":"
        out: dict[str, str] = {}
        for key, dest in self._keys_under_contact(target, contact_id):
            if key.startswith(prefix):
                out.setdefault(key.split(":", 1)[1], dest)
        return out

    def _keys_under_contact(self, target: Target, contact_id: str) -> list[tuple[str, str]]:
        """(source key, dest id) of every note/task/file under one contact (any target)."""
        c = self.client
        entity = target.entity
        out = []
        if entity == "task":
            items = c.list_tasks(contact_id)
            out = [(key_from_text(t.get("body")), f"{contact_id}/{t['id']}") for t in items]
        elif entity == "note" or (entity == "file" and self._file_mode(target) != "upload"):
            items = c.list_notes(contact_id)
            out = [(key_from_text(n.get("body")), f"{contact_id}/{n['id']}") for n in items]
        elif entity == "file":
            ref = self.fields["contact"][str(target.options.get("custom_field", "Documents"))]
            contact = c.get_contact(contact_id)
            value = _field_value(contact, ref.id) if contact else None
            for k, entry in (value.items() if isinstance(value, dict) else []):
                for fid in _entry_ids(k, entry):
                    key = key_of_token(fid)
                    if key:
                        out.append((key, f"{contact_id}/{fid}"))
                        break
        return [(k, d) for k, d in out if k]

    def _appointments_of_day(self, target_name: str, target: Target, day: Hashable) -> dict[str, str]:
        if day is None:
            return {}
        start = datetime.fromisoformat(str(day)).replace(tzinfo=UTC) - timedelta(days=1)
        events = self.client.list_events(self.calendars[str(target.options["calendar"])],
                                         int(start.timestamp() * 1000), int((start + timedelta(days=3)).timestamp() * 1000))
        prefix = target_name + ":"
        out: dict[str, str] = {}
        for e in events:
            key = key_from_text(e.get("description")) or key_from_text(e.get("notes"))
            if key and key.startswith(prefix):
                out.setdefault(key.split(":", 1)[1], str(e["id"]))
        return out

    def _find_one(self, target_name: str, target: Target, sid: str, body: dict[str, Any]) -> str | None:
        """The record a create with an unknown outcome may have made, looked up narrowly."""
        key = source_key(target_name, sid)
        entity = target.entity
        c = self.client
        if entity == "contact":
            ref = self.fields["contact"][self.source_key_field]
            hits = list(c.search_contacts([{"field": f"customFields.{ref.id}", "operator": "eq", "value": key}]))
            hits = [h for h in hits if self._contact_key(h) == key]
            return str(hits[0]["id"]) if hits else None
        if entity in ("note", "task", "file"):
            return next((d for k, d in self._keys_under_contact(target, body["contactId"]) if k == key), None)
        if entity == "appointment":
            return self._appointments_of_day(target_name, target, _day_of(body["startTime"])).get(sid)
        if entity == "opportunity":
            for opp in c.search_opportunities(body.get("pipelineId"), contact_id=body["contactId"]):
                if self._opportunity_key(opp) == key:
                    return str(opp["id"])
            return None
        if entity == "custom_object_record":
            info = self.objects[target_name]
            for rec in c.search_records(info.key, f"{info.source_key_property}:{sid}"):
                if str((rec.get("properties") or {}).get(info.source_key_property)) == sid:
                    return str(rec["id"])
            return None
        return None

    def _keys_in_destination(self, target_name: str, target: Target) -> Iterator[tuple[str, str]]:
        """(source key, dest id) of every live record of the target (listing entities only)."""
        prefix = target_name + ":"
        entity = target.entity
        if entity == "contact":
            ref = self.fields["contact"][self.source_key_field]
            for contact in self.client.search_contacts([{"field": f"customFields.{ref.id}", "operator": "exists"}]):
                key = self._contact_key(contact)
                if isinstance(key, str) and key.startswith(prefix):
                    yield key, str(contact["id"])
        elif entity == "opportunity":
            pid = self.pipelines[self._pipeline_wanted(target)[0]][0]
            for opp in self.client.search_opportunities(pid):
                key = self._opportunity_key(opp)
                if isinstance(key, str) and key.startswith(prefix):
                    yield key, str(opp["id"])
        elif entity == "custom_object_record":
            info = self.objects[target_name]
            for rec in self.client.search_records(info.key):
                value = (rec.get("properties") or {}).get(info.source_key_property)
                if bodies.present(value):
                    yield source_key(target_name, str(value)), str(rec["id"])

    def _all_keys(self, target_name: str, target: Target) -> Iterator[tuple[str, str]]:
        """(source key, dest id) of every live record of the target, any entity (full scan)."""
        entity = target.entity
        prefix = target_name + ":"
        if entity in ("contact", "opportunity", "custom_object_record"):
            yield from self._keys_in_destination(target_name, target)
            return
        if entity == "appointment":
            seen: set[str] = set()
            for e in self._calendar_events(target):
                key = key_from_text(e.get("description")) or key_from_text(e.get("notes"))
                if key and key.startswith(prefix) and e["id"] not in seen:
                    seen.add(e["id"])
                    yield key, str(e["id"])
            return
        # notes, tasks, files: under every contact any contact target of this migration created
        for contact_id in self._migrated_contact_ids():
            for key, dest in self._keys_under_contact(target, contact_id):
                if key.startswith(prefix):
                    yield key, dest

    def _scan_windows(self) -> range:
        """The yearly windows a full scan of a calendar reads (``appointment_scan_from_year`` to 3 years ahead)."""
        return range(self.scan_from_year, datetime.now(UTC).year + 4)

    def _calendar_events(self, target: Target) -> Iterator[dict[str, Any]]:
        """Every event of the target's calendar, window by window (an event spanning two windows twice)."""
        cal = self.calendars[str(target.options["calendar"])]
        for year in self._scan_windows():
            start = datetime(year, 1, 1, tzinfo=UTC)
            end = datetime(year + 1, 1, 1, tzinfo=UTC)
            yield from self.client.list_events(cal, int(start.timestamp() * 1000), int(end.timestamp() * 1000))

    def _listed_appointments(self, target: Target, want: set[str]) -> dict[str, dict[str, Any]]:
        """The wanted appointments the calendar's listing shows (stops once all are seen)."""
        found: dict[str, dict[str, Any]] = {}
        for e in self._calendar_events(target):
            if str(e.get("id")) in want:
                found[str(e["id"])] = e
                if len(found) == len(want):
                    break
        return found

    def _migrated_contact_ids(self) -> Iterator[str]:
        ref = self.fields["contact"].get(self.source_key_field)
        if ref is None:
            contact_targets = [n for n, t in self.spec.targets.items() if t.entity == "contact"]
            if contact_targets:
                self._ensure(self.spec, contact_targets[:1])
                ref = self.fields["contact"].get(self.source_key_field)
        if ref is None:
            return
        for contact in self.client.search_contacts([{"field": f"customFields.{ref.id}", "operator": "exists"}]):
            yield str(contact["id"])

    def source_key_counts(self, target_name: str, target: Target) -> dict[str, int]:
        """How often each source key of the target occurs among live HighLevel records (full scan:
        one listing for contacts/opportunities/records, yearly calendar windows for appointments,
        one listing per migrated contact for notes, tasks and files)."""
        if target.entity == "user":
            return {}
        self.prepare(target_name, target)
        counts: dict[str, int] = {}
        for key, _ in self._all_keys(target_name, target):
            counts[key] = counts.get(key, 0) + 1
        return counts

    def read_back(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> pd.DataFrame:
        """Live records for ``dest_ids``: columns ``dest_id``, ``source_key`` and per money column of
        the target its value (``monetaryValue``, or a MONETORY custom field by spec name)."""
        columns = ["dest_id", "source_key", *target.money]
        wanted = [str(d) for d in dest_ids]
        if target.entity == "user":
            users = set(self.users_by_email().values())
            return pd.DataFrame([{"dest_id": d, "source_key": None} for d in wanted if d in users], columns=columns)
        self.prepare(target_name, target)
        rows = [self._row_of(target_name, target, d, item) for d, item in self._fetch(target_name, target, wanted)]
        return pd.DataFrame(rows, columns=columns)

    def _fetch(self, target_name: str, target: Target, wanted: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(dest id, live item) for the wanted ids that exist."""
        entity = target.entity
        c = self.client
        want = set(wanted)
        if not want:
            return
        if entity == "contact":
            ref = self.fields["contact"][self.source_key_field]
            listed = 0
            for contact in c.search_contacts([{"field": f"customFields.{ref.id}", "operator": "exists"}]):
                listed += 1
                if str(contact["id"]) in want:
                    want.discard(str(contact["id"]))
                    yield str(contact["id"]), contact
            for d in sorted(want):  # not carrying a source key (should not happen): by id
                item = c.get_contact(d)
                if item is not None:
                    yield d, item
        elif entity == "opportunity":
            pid = self.pipelines[self._pipeline_wanted(target)[0]][0]
            for opp in c.search_opportunities(pid):
                if str(opp["id"]) in want:
                    yield str(opp["id"]), opp
        elif entity == "custom_object_record":
            info = self.objects[target_name]
            for rec in c.search_records(info.key):
                if str(rec["id"]) in want:
                    yield str(rec["id"]), rec
        elif entity == "appointment":
            # many ids: the calendar's yearly windows (one request each) show most of them; the rest by id
            on_calendar = (self._listed_appointments(target, want) if len(want) >= 4 * len(self._scan_windows())
                           else {})
            for d in wanted:
                event = on_calendar.get(d) or c.get_appointment(d)
                if event is not None and event.get("deleted") is not True:
                    yield d, event
        else:
            by_contact: dict[str, set[str]] = {}
            for d in wanted:
                contact_id, _ = _split(d)
                by_contact.setdefault(contact_id, set()).add(d)
            for contact_id, ids in by_contact.items():
                for key, dest in self._keys_under_contact(target, contact_id):
                    if dest in ids:
                        yield dest, {"_key": key}

    def _row_of(self, target_name: str, target: Target, dest_id: str, item: dict[str, Any]) -> dict[str, Any]:
        entity = target.entity
        row: dict[str, Any] = {"dest_id": dest_id}
        if entity == "contact":
            row["source_key"] = self._contact_key(item)
            for money in target.money:
                ref = self.fields["contact"].get(money)
                row[money] = _field_value(item, ref.id) if ref else item.get(money)
        elif entity == "opportunity":
            row["source_key"] = self._opportunity_key(item)
            for money in target.money:
                ref = self.fields["opportunity"].get(money)
                row[money] = (next((cf.get("fieldValue", cf.get("value")) for cf in item.get("customFields") or []
                                    if cf.get("id") == ref.id), None) if ref else item.get(money))
        elif entity == "custom_object_record":
            info = self.objects[target_name]
            props = item.get("properties") or {}
            value = props.get(info.source_key_property)
            row["source_key"] = source_key(target_name, str(value)) if bodies.present(value) else None
            for money in target.money:
                ref = info.refs.get(money) or info.field_refs.get(money)
                raw = props.get(ref.property_key if ref else money)
                row[money] = raw.get("value") if isinstance(raw, dict) else raw
        elif entity == "appointment":
            row["source_key"] = key_from_text(item.get("description")) or key_from_text(item.get("notes"))
        else:
            row["source_key"] = item.get("_key")
        return row

    # ================================================================== delete

    def delete(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> pd.DataFrame:
        """Delete records (rollback). Columns ``dest_id``, ``deleted``, ``error``.

        Idempotent: a record already gone (also one whose contact was deleted first) is
        ``deleted=True, error="gone"``. Run children (notes, tasks, files, appointments, opportunities,
        custom object records) before their contacts (reverse FK order), so nothing is left behind.
        Files uploaded into a contact's FILE_UPLOAD field have no delete operation (spec:forms only
        uploads): ``deleted=False, error="manual: ..."`` naming the contact and field. Users were
        matched, never created: ``deleted=False, error="skipped: ..."``. A spent daily budget raises
        FatalLoadError.
        """
        rows = []
        if target.entity != "user":
            self.prepare(target_name, target)
        for d in dest_ids:
            if target.entity == "user":
                rows.append({"dest_id": d, "deleted": False,
                             "error": "skipped: users are matched to existing accounts, never created"})
                continue
            try:
                if target.entity == "file" and self._file_mode(target) == "upload":
                    rows.append(self._delete_upload(target, str(d)))
                    continue
                done = self._delete_one(target_name, target, str(d))
                rows.append({"dest_id": d, "deleted": True, "error": None if done else "gone"})
            except DailyBudgetExhausted as exc:
                raise FatalLoadError(str(exc)) from None
            except HighLevelError as exc:
                rows.append({"dest_id": d, "deleted": False, "error": str(exc)})
        return pd.DataFrame(rows, columns=["dest_id", "deleted", "error"])

    def _delete_upload(self, target: Target, dest_id: str) -> dict[str, Any]:
        """A FILE_UPLOAD entry: gone with its contact or entry, else left for an admin (no API removes
        one uploaded file; a PUT of the remaining entries is UNCONFIRMED, see ``_remove_file``)."""
        contact_id, file_id = _split(dest_id)
        field_name = str(target.options.get("custom_field", "Documents"))
        contact = self.client.get_contact(contact_id)
        value = _field_value(contact, self.fields["contact"][field_name].id) if contact else None
        present = isinstance(value, dict) and any(file_id in _entry_ids(k, v) for k, v in value.items())
        if not present:
            return {"dest_id": dest_id, "deleted": True, "error": "gone"}
        return {"dest_id": dest_id, "deleted": False,
                "error": f"manual: remove the file from the {field_name!r} field of contact {contact_id} "
                         "(HighLevel has no API to delete one uploaded file)"}

    # ================================================================== field read-back, restore, matching
    WRITE_ONLY_FIELDS = WRITE_ONLY_FIELDS  # entity -> body fields HighLevel never returns

    def written_fields(self, target_name: str, target: Target) -> WrittenFields:
        """The body keys the target writes (``readback.WrittenFields``), from the spec and the
        location's field ids; resolves them first (``prepare``)."""
        entity = target.entity
        if entity == "user":
            return WrittenFields(())
        self.prepare(target_name, target)
        f, lk = set(target.fields), set(target.lookups)

        def some(*names: str, among: set[str]) -> list[str]:
            return [n for n in names if n in among]

        if entity == "contact":
            refs = self.fields["contact"]
            ids = [refs[n].id for n in target.custom_fields] + [refs[self.source_key_field].id]
            return WrittenFields((*target.fields, *some("assignedTo", among=lk), "customFields"), tuple(ids))
        if entity == "opportunity":
            refs = self.fields["opportunity"]
            ids = [refs[n].id for n in target.custom_fields] + [refs[self.source_key_field].id]
            keys = ["pipelineId", "name", "contactId", "status", *(["pipelineStageId"] if "stage" in f else []),
                    *some("monetaryValue", among=f), *some("assignedTo", among=lk), "customFields"]
            return WrittenFields(tuple(keys), tuple(ids))
        if entity == "note" or (entity == "file" and self._file_mode(target) != "upload"):
            return WrittenFields(("contactId", "body", *some("title", among=f), *some("userId", among=lk)))
        if entity == "task":
            return WrittenFields(("contactId", "title", "body", "dueDate", "completed", *some("assignedTo", among=lk)))
        if entity == "appointment":
            return WrittenFields(("calendarId", "contactId", "startTime",
                                  *some("endTime", "title", "address", "meetingLocationType", "appointmentStatus",
                                        among=f),
                                  "description", *some("assignedUserId", among=lk)))
        if entity == "file":
            return WrittenFields(("contactId", "file_name", "file_id", "size"))
        if entity == "custom_object_record":
            info = self.objects[target_name]
            props = [*target.fields, *(r.property_key for r in info.refs.values()), info.source_key_property]
            keys = ["properties", *some("owner", among=lk), *(["contactId"] if info.contact_lookup else [])]
            return WrittenFields(tuple(keys), properties=tuple(dict.fromkeys(props)))
        return WrittenFields(())

    def _shared_ids(self) -> dict[str, str]:
        """``{"email"|"phone": id}`` of the provisioned Shared Email / Shared Phone contact fields."""
        refs = self.fields["contact"]
        return {f: refs[n].id for f, n in SHARED_FIELDS.items() if n in refs}

    def _parallel(self, fn: Callable[[str], Any], keys: Sequence[str]) -> list[Any]:
        """``fn`` over ``keys`` on a few threads (one GET each; the client's limiter paces them)."""
        if len(keys) <= 1:
            return [fn(k) for k in keys]
        with ThreadPoolExecutor(max_workers=READ_WORKERS, thread_name_prefix="hl-read") as pool:
            return list(pool.map(fn, keys))

    def _gone_as_none(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except HighLevelError as exc:
            if exc.is_not_found and not isinstance(exc, HighLevelTransportError):
                return None
            raise

    def _live_views(self, target_name: str, target: Target, wanted: list[str]) -> Iterator[tuple[str, dict]]:
        """(dest id, live record mapped to body names) for the wanted IDs that still exist.

        Contacts, opportunities, appointments, records: one GET each (``GET /contacts/{id}``...,
        records also list their relations for the contact). Notes and tasks: one listing per contact
        (``GET /contacts/{id}/notes|tasks``; there is no bulk read). Uploaded files: one contact GET
        per contact, the entry read from the FILE_UPLOAD value.
        """
        entity = target.entity
        c = self.client
        if entity in ("contact", "opportunity", "appointment", "custom_object_record"):
            items = self._parallel(lambda d: self._get_one(target_name, target, d), wanted)
            yield from ((d, item) for d, item in zip(wanted, items, strict=True) if item is not None)
            return
        by_contact: dict[str, list[str]] = {}
        for d in wanted:
            by_contact.setdefault(_split(d)[0], []).append(d)
        ref = self.fields["contact"].get(str(target.options.get("custom_field", "Documents")))
        upload = entity == "file" and self._file_mode(target) == "upload"

        def listing(contact_id: str) -> list[tuple[str, dict]]:
            if upload:
                contact = c.get_contact(contact_id)
                value = _field_value(contact, ref.id) if contact and ref else None
                out = []
                for k, entry in (value.items() if isinstance(value, dict) else []):
                    meta = entry.get("meta") if isinstance(entry, Mapping) else None
                    meta = meta if isinstance(meta, Mapping) else {}
                    for fid in _entry_ids(k, entry):
                        out.append((f"{contact_id}/{fid}", {"contactId": contact_id, "file_id": fid,
                                                            "file_name": meta.get("originalname"),
                                                            "size": meta.get("size")}))
                return out
            items = self._gone_as_none(lambda: c.list_tasks(contact_id) if entity == "task"
                                       else c.list_notes(contact_id)) or []
            return [(f"{contact_id}/{i['id']}", {**i, "contactId": contact_id}) for i in items]

        contacts = list(by_contact)
        for contact_id, views in zip(contacts, self._parallel(listing, contacts), strict=True):
            found = dict(views)
            for d in by_contact[contact_id]:
                if d in found:
                    yield d, found[d]

    def _get_one(self, target_name: str, target: Target, dest_id: str) -> dict | None:
        """One live contact (shared form folded back), opportunity, appointment or record, or None."""
        entity = target.entity
        if entity == "contact":
            contact = self.client.get_contact(dest_id)
            return unshare(contact, self._shared_ids()) if contact else None
        if entity == "opportunity":
            return self.client.get_opportunity(dest_id)
        if entity == "appointment":
            event = self.client.get_appointment(dest_id)
            return event if event and event.get("deleted") is not True else None
        return self._record_view(target_name, dest_id)

    def _record_view(self, target_name: str, record_id: str) -> dict | None:
        info = self.objects[target_name]
        record = self.client.get_record(info.key, record_id)
        if record is None:
            return None
        view = {"properties": record.get("properties") or {}, "owner": record.get("owner")}
        if info.association_id and info.contact_lookup:
            other_side = "secondRecordId" if info.record_first else "firstRecordId"
            relations = self.client.list_relations(record_id, info.association_id)
            view["contactId"] = next((r.get(other_side) for r in relations
                                      if r.get("associationId", info.association_id) == info.association_id), None)
        return view

    def read_fields(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Dest ID -> live values of the fields the target writes, in ``readback``'s comparable shape
        (compare with ``normalise_body(build_body(...))``): ``customFields`` as ``{field id: value}``,
        date-times in UTC, empty values absent, shared-form contacts read as sent. IDs that are gone
        are absent; users map to ``{}``. Costs one GET per record (per contact for notes, tasks and
        uploaded files), 4 in parallel under the client's rate limiter.
        """
        wanted = list(dict.fromkeys(str(d) for d in dest_ids))
        if target.entity == "user":
            users = set(self.users_by_email().values())
            return {d: {} for d in wanted if d in users}
        written = self.written_fields(target_name, target)
        return {d: canonical(target.entity, view, written) for d, view in self._live_views(target_name, target, wanted)}

    def normalise_body(self, target_name: str, target: Target, body: dict[str, Any]) -> dict[str, Any]:
        """A ``build_body`` output in ``read_fields``' shape: ``customFields`` as ``{field id: value}``,
        date-times in UTC, write-only fields (``WRITE_ONLY_FIELDS``) dropped. Never mutates ``body``."""
        if target.entity == "user":
            return {}
        return canonical(target.entity, body, self.written_fields(target_name, target))

    def restore(self, target_name: str, target: Target, dest_id: str, prior: dict[str, Any]) -> SendResult:
        """Write ``prior`` (a ``read_fields`` value) back with one update (``PUT``), emptying what the
        migration filled: absent standard fields null, tags ``[]`` (PUT replaces the list, so added
        tags go), absent custom fields, the source key and the Shared Email/Phone fields
        ``field_value: null`` (see ``readback.restore_items``).

        Returns SendResult(dest_id) when done; SendResult(dest_id, "manual: ...") when some field the
        migration filled has no empty value in the API (named); SendResult(None, "gone") for a deleted
        record; SendResult(None, <vendor error>) otherwise. Uploaded files cannot be restored
        (``manual: ...``); users are never written. Raises FatalLoadError on a spent budget or 401/403.
        """
        entity = target.entity
        if entity == "user":
            return SendResult(None, error="skipped: users are matched to existing accounts, never written")
        if entity == "file" and self._file_mode(target) == "upload":
            return SendResult(None, error="manual: uploaded files cannot be edited through the API; an admin "
                                          "re-uploads the original if it was replaced")
        written = self.written_fields(target_name, target)
        extra = list(self._shared_ids().values()) if entity == "contact" else []
        body, stuck = restore_items(entity, written, prior, extra)

        def send() -> SendResult:
            try:
                self._restore_one(target_name, target, dest_id, body)
            except HighLevelError as exc:
                if exc.is_not_found and not isinstance(exc, HighLevelTransportError):
                    return SendResult(None, error="gone")
                raise
            return SendResult(dest_id, error=unclearable_fields(self.read_fields, target_name, target, dest_id, stuck))

        try:
            return self._guard(send)
        except HighLevelTransportError as exc:
            raise unavailable(exc) from None

    def _restore_one(self, target_name: str, target: Target, dest_id: str, body: dict[str, Any]) -> None:
        c = self.client
        entity = target.entity
        if entity == "contact":
            c.update_contact(dest_id, body)
        elif entity in ("note", "file"):
            c.update_note(*_split(dest_id), bodies.strip_routing("note", body))
        elif entity == "task":
            c.update_task(*_split(dest_id), bodies.strip_routing("task", body))
        elif entity == "appointment":  # the flags keep slot validation off, as on create
            c.update_appointment(dest_id, {**_without(body, "contactId"), **bodies.APPOINTMENT_FLAGS})
        elif entity == "opportunity":
            c.update_opportunity(dest_id, _without(body, "contactId"))
        elif entity == "custom_object_record":
            info = self.objects[target_name]
            c.update_record(info.key, dest_id, self._record_payload(body))
            res = self._relate(info, dest_id, body, created=False)
            if res.error:
                raise HighLevelError(0, res.error, "/associations/relations")
        else:
            raise HighLevelError(0, f"{entity} records cannot be restored", "")

    def match_value(self, target_name: str, target: Target, body: dict[str, Any]) -> str | None:
        """The normalised ``options.match_existing`` value of a ``build_body`` output (the contact's
        ``email``, lower-cased and stripped), or None."""
        field_name = target.options.get("match_existing")
        return normalise_match(body.get(field_name)) if field_name else None

    def match_candidates(self, target_name: str, target: Target, values: Sequence[str]) -> dict[str, list[str]]:
        """Normalised value -> IDs of live contacts carrying it (``email``, case-insensitive) that have
        no source key of ours.

        ``POST /contacts/search`` with one OR group of ``eq`` filters per 50 values (notes §4.1,
        [mirror]); hits are rechecked against the contact's own e-mail. Upstream search is eventually
        consistent (seconds), so contacts created moments ago may be missed. Values without
        candidates are absent. Raises SchemaError without a valid ``options.match_existing``.
        """
        field_name = target.options.get("match_existing")
        if field_name is None:
            raise SchemaError(f"target {target_name}: options.match_existing is not set")
        self._validate_target(target_name, target)
        self.prepare(target_name, target)
        search_field = MATCH_FIELDS[target.entity][field_name]
        wanted = list(dict.fromkeys(v for v in map(normalise_match, values) if v))
        out: dict[str, list[str]] = {}
        for start in range(0, len(wanted), MATCH_CHUNK):
            chunk = wanted[start:start + MATCH_CHUNK]
            group = [{"group": "OR", "filters": [{"field": search_field, "operator": "eq", "value": v} for v in chunk]}]
            for contact in self.client.search_contacts(group):
                value = normalise_match(contact.get(field_name))
                if value in chunk and not self._contact_key(contact):
                    ids = out.setdefault(value, [])
                    if str(contact["id"]) not in ids:
                        ids.append(str(contact["id"]))
        return out


    def _delete_one(self, target_name: str, target: Target, dest_id: str) -> bool:
        c = self.client
        entity = target.entity
        if entity == "contact":
            return c.delete_contact(dest_id)
        if entity == "task":
            return c.delete_task(*_split(dest_id))
        if entity == "note" or (entity == "file" and self._file_mode(target) != "upload"):
            return c.delete_note(*_split(dest_id))
        if entity == "file":
            contact_id, file_id = _split(dest_id)
            return self._remove_file(contact_id, target, file_id)
        if entity == "appointment":
            return c.delete_event(dest_id)
        if entity == "opportunity":
            return c.delete_opportunity(dest_id)
        if entity == "custom_object_record":
            return c.delete_record(self.objects[target_name].key, dest_id)
        raise HighLevelError(0, f"{entity} records are not deleted by the migration", "")


# ====================================================================== helpers

def _norm(kind: str, value: Any) -> str:
    """E-mail lower-cased; phone as its digits and ``+`` (how the duplicate rule compares, notes §3)."""
    text = str(value).strip()
    return text.lower() if kind == "email" else "".join(ch for ch in text if ch.isdigit() or ch == "+")


def _split(dest_id: str) -> tuple[str, str]:
    """``"<contact id>/<child id>"`` -> (contact id, child id)."""
    contact_id, _, child = dest_id.partition("/")
    return contact_id, child


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def _day_of(iso: str) -> str:
    """The calendar day (``YYYY-MM-DD``) an ISO time falls on in its own offset."""
    return str(iso)[:10]


def _field_value(contact: Mapping[str, Any] | None, field_id: str) -> Any:
    if not contact:
        return None
    return next((cf.get("value", cf.get("field_value")) for cf in contact.get("customFields") or []
                 if cf.get("id") == field_id), None)


def _entry_ids(entry_key: str, entry: Any) -> list[str]:
    """Candidate file ids of one FILE_UPLOAD value entry: its key, ``meta.uuid``, and the part after
    ``<field id>_`` in ``meta.fieldname`` (which of them HighLevel keeps is UNCONFIRMED)."""
    ids = [str(entry_key)]
    meta = entry.get("meta") if isinstance(entry, Mapping) else None
    if isinstance(meta, Mapping):
        if meta.get("uuid"):
            ids.append(str(meta["uuid"]))
        fieldname = str(meta.get("fieldname") or "")
        if "_" in fieldname:
            ids.append(fieldname.split("_", 1)[1])
    return ids
