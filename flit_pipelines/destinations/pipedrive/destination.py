"""Pipedrive as a migration destination: schema provisioning, upsert, read-back, delete.

Follows notes/pipedrive.md: v2 for persons, organizations, deals, activities, pipelines, stages and
field definitions; v1 for notes, files and users (section 1). Custom fields are created idempotently
and resolved by name to each account's 40-character keys (4.9). Every person, organization and deal
carries the ``source_key_field`` custom field ("<target>:<source id>"); activities and notes carry the
same key in a footer line of their HTML, since they take no custom fields (4.5, 4.6).

Files (4.7; v1 addFile takes only the binary and the parent's id): the upload's file name carries the
key (``files.name_with_key``), so a file whose answer was lost or whose load was killed is found by
it; right after, v1 updateFile sets the plain ``name`` and a ``description`` "Source record: <key>".
A file is found by either (``GET /v1/files`` for the duplicate check and adoption, ``GET
/v1/persons/{id}/files`` after a lost answer). Document paths are resolved and read only through
``flit_pipelines.files`` (``file_path`` inside the export's files root, regular files, size cap).
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from flit_pipelines.destinations.matching import MatchByCandidates, normalise_match, unclearable_fields
from flit_pipelines.destinations.base import FatalLoadError, SendResult, create_once, guarded_write, unavailable
from flit_pipelines.destinations.pipedrive.bodies import MARKER_RE, BodyError, build_body
from flit_pipelines.destinations.pipedrive.client import FieldRef, PipedriveClient
from flit_pipelines.destinations.pipedrive.errors import (
    DailyBudgetExhausted,
    PipedriveError,
    PipedriveTransportError,
    SchemaError,
)
from flit_pipelines.destinations.pipedrive.readback import (
    MATCH_FIELDS,
    WRITE_ONLY_FIELDS,
    WrittenFields,
    canonical,
    live_view,
    restore_body,
)
from flit_pipelines.destinations.values import source_key
from flit_pipelines.files import FILE_PATH, DocumentFiles, FileRejected, flag_text, key_in_name, name_with_key
from flit_pipelines.spec.model import MigrationSpec, Target

log = logging.getLogger(__name__)

CUSTOM_FIELD_ENTITIES = ("person", "organization", "deal")
FATAL_STATUSES = frozenset({401, 402, 403})
GONE_STATUSES = (404, 410)


class PipedriveDestination(MatchByCandidates):
    """Destination implementation for one Pipedrive company account.

    Args:
        client: a shared ``PipedriveClient`` (one limiter for all worker threads).
        spec: the migration spec (targets, custom fields, settings).
        files_root: directory that relative document paths resolve against (the export directory).
    """

    def __init__(self, client: PipedriveClient, spec: MigrationSpec, *, files_root: str | Path | None = None):
        self.client = client
        self.spec = spec
        self.settings = spec.destination.settings
        self.files_root = Path(files_root) if files_root else None
        self.files = DocumentFiles(self.files_root, size_limit=int(self.settings.get("file_size_limit_bytes", 10 << 20)))
        self.fields: dict[str, dict[str, FieldRef]] = {}
        self.source_key_fields: dict[str, FieldRef] = {}
        self.pipelines: dict[str, int] = {}
        self.stages: dict[str, dict[str, int]] = {}
        self._fallback: str | None = None
        self._users: dict[str, str] | None = None
        # (entity, match field) -> {normalised value: [dest IDs]}: one listing per load (match_candidates)
        self._match_indexes: dict[tuple[str, str], dict[str, list[str]]] = {}

    # -- schema --------------------------------------------------------------------------------
    def ensure_schema(self, spec: MigrationSpec | None = None) -> dict[str, Any]:
        """Create (or find) every custom field, pipeline and stage the spec needs. Idempotent.

        Returns the custom-field design: per entity, each field's name, type, key and options.
        Raises FieldTypeConflict when an existing field of that name has another type.
        """
        spec = spec or self.spec
        for name, t in spec.targets.items():
            self.validate_target(name, t)
        wanted: dict[str, dict[str, tuple[str, list[str] | None]]] = {e: {} for e in CUSTOM_FIELD_ENTITIES}
        for t in spec.targets.values():
            if t.entity in CUSTOM_FIELD_ENTITIES:
                wanted[t.entity][self.settings["source_key_field"]] = ("varchar", None)
                for name, cf in t.custom_fields.items():
                    prev = wanted[t.entity].get(name)
                    options = list(dict.fromkeys((prev[1] if prev and prev[1] else []) + (cf.options or []))) or None
                    wanted[t.entity][name] = (cf.type, options)
        design: dict[str, Any] = {"custom_fields": {}, "pipelines": {}}
        for entity, fields in wanted.items():
            refs = {}
            listing = self.client.list_fields(entity) if fields else []
            for name, (ftype, options) in fields.items():
                refs[name] = self.client.ensure_custom_field(entity, name, ftype, options, existing=listing)
            self.fields[entity] = refs
            if self.settings["source_key_field"] in refs:
                self.source_key_fields[entity] = refs[self.settings["source_key_field"]]
            design["custom_fields"][entity] = [
                {"name": r.name, "type": r.field_type, "key": r.key, "options": sorted(r.options)} for r in refs.values()
            ]
        for t in spec.targets.values():
            if t.pipeline:
                pid = self.client.ensure_pipeline(t.pipeline.name)
                self.pipelines[t.pipeline.name] = pid
                self.stages[t.pipeline.name] = {
                    s: self.client.ensure_stage(pid, s, i + 1) for i, s in enumerate(t.pipeline.stages)
                }
                design["pipelines"][t.pipeline.name] = {"id": pid, "stages": self.stages[t.pipeline.name]}
        return design

    def validate_target(self, target_name: str, target: Target) -> None:
        """Check the target's ``options``: ``match_existing`` must name a field the vendor's exact
        search covers for the entity (``readback.MATCH_FIELDS``); a file target names its document
        with the field ``file_path``. Raises SchemaError naming the target."""
        if target.entity == "file" and FILE_PATH not in target.fields:
            raise SchemaError(f"target {target_name}: a file target maps the document's path as field {FILE_PATH}")
        name = target.options.get("match_existing")
        if name is None:
            return
        allowed = MATCH_FIELDS.get(target.entity, {})
        if name not in allowed:
            raise SchemaError(f"target {target_name}: options.match_existing {name!r} is not a matchable "
                              f"{target.entity} field (allowed: {sorted(allowed) or 'none'})")

    def prepare(self, target_name: str, target: Target) -> None:
        """Validate the target's options, then resolve field keys and pipelines (cheap: GET only) if
        this process has not yet."""
        self.validate_target(target_name, target)
        if target.entity in CUSTOM_FIELD_ENTITIES and target.entity not in self.fields:
            self.ensure_schema()
        if target.pipeline and target.pipeline.name not in self.pipelines:
            self.ensure_schema()

    # -- users ---------------------------------------------------------------------------------
    def users_by_email(self) -> dict[str, str]:
        """Lower-case e-mail -> user ID of active users (v1 getUsers, notes/pipedrive.md 4.8); cached."""
        if self._users is None:
            self._users = {
                str(u["email"]).strip().lower(): str(u["id"])
                for u in self.client.list_users() if u.get("email") and u.get("active_flag", True)
            }
        return self._users

    def fallback_owner_id(self) -> str | None:
        """User ID of ``fallback_owner_email``. Raises FatalLoadError if no active user has it."""
        if self._fallback is None:
            email = str(self.settings.get("fallback_owner_email", "")).lower()
            self._fallback = self.users_by_email().get(email)
            if self._fallback is None:
                raise FatalLoadError("the fallback owner e-mail is not an active user of the Pipedrive account")
        return self._fallback

    # -- bodies --------------------------------------------------------------------------------
    def build_body(self, target_name: str, target: Target, row: dict[str, Any],
                   resolved_fks: dict[str, Any]) -> dict[str, Any]:
        """One v2/v1 request body for a payload row (see ``bodies.build_body``); ValueError names the field."""
        try:
            pipeline = target.pipeline.name if target.pipeline else None
            return build_body(
                row, entity=target.entity, target=target_name, fields=self.fields.get(target.entity, {}),
                source_key_field=self.source_key_fields.get(target.entity), resolved_fks=resolved_fks,
                currency=str(self.settings.get("currency", "USD")),
                pipeline_id=self.pipelines.get(pipeline) if pipeline else None,
                stages=self.stages.get(pipeline, {}) if pipeline else {},
            )
        except BodyError as exc:
            raise ValueError(str(exc)) from None

    def flag(self, target_name: str, target: Target, row: dict[str, Any]) -> str | None:
        """Why a file row is not uploaded (``flit_pipelines.files`` reasons: not found, outside the
        export, not a regular file, over ``file_size_limit_bytes``), or None. Over-limit documents
        are listed in a person field by the spec instead."""
        if target.entity != "file":
            return None
        doc = self.files.check(row.get(FILE_PATH))
        return None if doc.reason is None else flag_text(doc.reason)

    # -- writes --------------------------------------------------------------------------------
    def _guard(self, fn, *args) -> SendResult:
        """Run one write: budget/auth problems stop the load, other refusals fail the row, transport
        errors propagate (the caller looks the record up first)."""
        return guarded_write(lambda: fn(*args), api_error=PipedriveError, transport_error=PipedriveTransportError,
                             fatal_errors=(DailyBudgetExhausted,), fatal_statuses=FATAL_STATUSES)

    def create(self, target_name: str, target: Target, body: dict[str, Any], row: dict[str, Any]) -> SendResult:
        """Create one record exactly once: while the answer is lost (dropped connection, timeout, 5xx),
        look it up by its source key (``_find_one``) and adopt it (a found file has its cut-off rename
        finished and any copy dropped, ``update``), else send it again (``base.create_once``). Raises
        FatalLoadError when the destination stays unavailable."""
        sid = str(row["source_id"])

        def find() -> SendResult | None:
            found = self._find_one(target_name, target, sid, body, row)
            if found is not None and target.entity == "file":
                return self.update(target_name, target, found, body, row)
            return SendResult(found) if found is not None else None

        return create_once(lambda: self._guard(self._create, target, body, row), find, client=self.client)

    def _create(self, target: Target, body: dict[str, Any], row: dict[str, Any]) -> SendResult:
        if target.entity == "file":
            return self._upload(body, row)
        data = self.client.create(target.entity, body)
        return SendResult(str(data["id"]))

    def _upload(self, body: dict[str, Any], row: dict[str, Any]) -> SendResult:
        """Upload the row's document under a name carrying its key, then set name and description."""
        doc = self.files.check(row.get(FILE_PATH))
        try:
            content = self.files.read(doc)
        except FileRejected as exc:  # changed since flag(): the row fails with the reason
            return SendResult(None, error=flag_text(exc.reason))
        name = str(body.get("file_name") or doc.name)
        mime = row.get("mime")
        if mime is None or pd.isna(mime):
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        key = MARKER_RE.search(body["description"]).group(1)
        data = self.client.upload_file(file_name=name_with_key(name, key), content=content,
                                       person_id=body.get("person_id"), deal_id=body.get("deal_id"),
                                       content_type=str(mime))
        self.client.update("file", int(data["id"]), {"name": name, "description": body["description"]})
        return SendResult(str(data["id"]))

    def update(self, target_name: str, target: Target, dest_id: str, body: dict[str, Any],
               row: dict[str, Any]) -> SendResult:
        """Update one record (idempotent: PATCH v2 / PUT v1). Files: see ``_update_file``."""
        if target.entity == "file":
            try:
                return self._guard(self._update_file, target_name, target, dest_id, body, row)
            except PipedriveTransportError as exc:
                return SendResult(None, error=str(exc))

        def send() -> SendResult:
            self.client.update(target.entity, int(dest_id), body)
            return SendResult(dest_id)

        try:
            return self._guard(send)
        except PipedriveTransportError as exc:  # idempotent, already repeated by the client
            raise unavailable(exc) from None

    def _update_file(self, target_name: str, target: Target, dest_id: str, body: dict[str, Any],
                     row: dict[str, Any]) -> SendResult:
        """A file's update (also an adopted file's): files cannot be edited or moved (4.7), so

        * the live file has this row's key, person and byte size: only ``name``/``description`` are
          set (v1 updateFile) when they differ (an upload whose rename was cut off);
        * otherwise the document is uploaded again;

        then every other live file carrying the key under the person(s) involved is deleted (the
        replaced one, and copies an earlier crash left), so one file per source record remains."""
        key = source_key(target_name, str(row["source_id"]))
        live = self.client.get("file", int(dest_id))
        if live is not None and live.get("active_flag") is False:
            live = None
        doc = self.files.check(row.get(FILE_PATH))
        name = str(body.get("file_name") or doc.name)
        if live is not None and doc.ok and self._key_of("file", live) == key \
                and live.get("person_id") == body.get("person_id") and live.get("file_size") == doc.size:
            if live.get("name") != name or live.get("description") != body["description"]:
                self.client.update("file", int(dest_id), {"name": name, "description": body["description"]})
            res = SendResult(dest_id)
        else:
            res = self._upload(body, row)
            if res.error is not None:
                return res
        persons = {p for p in (body.get("person_id"), (live or {}).get("person_id")) if p is not None}
        stale = set(self._files_with_key(persons, key)) | ({dest_id} if live is not None else set())
        for other in sorted(stale - {res.dest_id}):
            self.client.delete("file", int(other))
        return res

    # -- reads ---------------------------------------------------------------------------------
    def _key_of(self, entity: str, item: dict[str, Any]) -> str | None:
        if entity in CUSTOM_FIELD_ENTITIES:
            ref = self.source_key_fields.get(entity)
            return (item.get("custom_fields") or {}).get(ref.key) if ref else None
        if entity == "file":
            m = MARKER_RE.search(item.get("description") or "")
            return m.group(1) if m else key_in_name(item.get("name"))
        text = item.get("note") if entity == "activity" else item.get("content")
        m = MARKER_RE.search(text or "")
        return m.group(1) if m else None

    def _files_with_key(self, person_ids: set[Any], key: str) -> list[str]:
        """IDs of live files under the persons (v1 getPersonFiles) carrying ``key``."""
        out = []
        for pid in sorted(int(p) for p in person_ids):
            for item in self.client.iter_v1(f"/api/v1/persons/{pid}/files", page_size=100):
                if item.get("active_flag") is not False and self._key_of("file", item) == key:
                    out.append(str(item["id"]))
        return out

    def _keys_in_destination(self, target_name: str, target: Target) -> list[tuple[str, str]]:
        """(source key, dest id) of every live record of the target's entity carrying our key."""
        self.prepare(target_name, target)
        out = []
        for item in self.client.list(target.entity):
            if item.get("is_deleted") or item.get("active_flag") is False:
                continue
            key = self._key_of(target.entity, item)
            if key and key.startswith(target_name + ":"):
                out.append((key, str(item["id"])))
        return out

    def find_existing(self, target_name: str, target: Target) -> dict[str, str]:
        """Source ID -> dest ID of records already in the destination (users: e-mail -> user ID). A key
        found on several records maps to the first listed (the oldest); updating it removes the
        other files (``_update_file``), other entities' copies are the duplicate check's to report."""
        if target.entity == "user":
            return self.users_by_email()
        out: dict[str, str] = {}
        for key, dest in self._keys_in_destination(target_name, target):
            out.setdefault(key.split(":", 1)[1], dest)
        return out

    def _find_one(self, target_name: str, target: Target, source_id: str, body: dict[str, Any],
                  row: dict[str, Any]) -> str | None:
        """The record a create with an unknown outcome may have made, looked up narrowly: an exact
        field search on the source key (persons, organizations, deals; notes/pipedrive.md 6), or the
        person's activities/notes read for the footer key, or the person's files for the key in
        their description or name; other records fall back to the full listing."""
        key = f"{target_name}:{source_id}"
        entity = target.entity
        if entity in CUSTOM_FIELD_ENTITIES and entity in self.source_key_fields:
            ids = self.client.search_field(entity, self.source_key_fields[entity].key, key)
            return str(ids[0]) if ids else None
        person = body.get("person_id") or next(
            (p.get("person_id") for p in body.get("participants") or [] if p.get("primary")), None)
        if entity in ("activity", "note") and person is not None:
            for item in self.client.list(entity, person_id=int(person)):
                if not item.get("is_deleted") and item.get("active_flag") is not False \
                        and self._key_of(entity, item) == key:
                    return str(item["id"])
            return None
        if entity == "file" and person is not None:
            return next(iter(self._files_with_key({person}, key)), None)
        return self.find_existing(target_name, target).get(source_id)

    def source_key_counts(self, target_name: str, target: Target) -> dict[str, int]:
        """How often each source key of the target occurs among live destination records."""
        counts: dict[str, int] = {}
        for key, _ in self._keys_in_destination(target_name, target):
            counts[key] = counts.get(key, 0) + 1
        return counts

    def read_back(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> pd.DataFrame:
        """Live records for ``dest_ids``: columns dest_id, source_key, and per money field its value.

        Money fields: the deal ``value`` and monetary custom fields, by their spec names.
        """
        if target.entity == "user":
            users = {v for v in self.users_by_email().values()}
            return pd.DataFrame({"dest_id": [d for d in dest_ids if d in users]})
        self.prepare(target_name, target)
        entity = target.entity
        items = self.client.get_many(entity, [int(d) for d in dest_ids])
        rows = []
        refs = self.fields.get(entity, {})
        for item in items:
            if item.get("is_deleted") or item.get("active_flag") is False:
                continue
            row = {"dest_id": str(item["id"]), "source_key": self._key_of(entity, item)}
            for money in target.money:
                if money == "value":
                    row["value"] = item.get("value")
                elif money in refs:
                    raw = (item.get("custom_fields") or {}).get(refs[money].key)
                    row[money] = raw.get("value") if isinstance(raw, dict) else raw
            rows.append(row)
        return pd.DataFrame(rows, columns=["dest_id", "source_key", *target.money])

    def delete(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> pd.DataFrame:
        """Delete records: v2 soft delete (persons, organizations, deals, activities), v1 delete (notes,
        files). Columns dest_id, deleted (bool), error.

        Idempotent: a record already gone (404/410) is ``deleted=True, error="gone"``. Each record is
        deleted by ID on its own, so the order is the caller's: children (activities, notes, files,
        deals) before the persons and organizations they point to (reverse FK order); a child removed
        with its parent reads as gone. Users are matched, never created: ``deleted=False,
        error="skipped: ..."``.
        """
        rows = []
        for d in dest_ids:
            if target.entity == "user":
                rows.append({"dest_id": d, "deleted": False,
                             "error": "skipped: users are matched to existing accounts, never created"})
                continue
            try:
                done = self.client.delete(target.entity, int(d))
                rows.append({"dest_id": d, "deleted": True, "error": None if done else "gone"})
            except PipedriveError as exc:
                rows.append({"dest_id": d, "deleted": False, "error": str(exc)})
        return pd.DataFrame(rows, columns=["dest_id", "deleted", "error"])

    # -- field read-back, restore, matching (sample-wave diff, rollback) ----------------------------
    WRITE_ONLY_FIELDS = WRITE_ONLY_FIELDS  # entity -> body fields the vendor never returns

    def written_fields(self, target_name: str, target: Target) -> WrittenFields:
        """The body keys the target writes (see ``readback.WrittenFields``); resolves field keys first."""
        self.prepare(target_name, target)
        refs = self.fields.get(target.entity, {})
        key = self.source_key_fields.get(target.entity)
        return WrittenFields.of(target, {n: r.key for n, r in refs.items()}, key.key if key else None)

    def _live_items(self, entity: str, dest_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Live records for the IDs (``ids=`` lists of 100 for v2 entities, GET per ID for v1 notes
        and files); soft-deleted, inactive and missing ones are left out."""
        items = self.client.get_many(entity, [int(d) for d in dest_ids])
        return [i for i in items if not i.get("is_deleted") and i.get("active_flag") is not False]

    def read_fields(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Dest ID -> live values of the fields the target writes, shaped like ``normalise_body(build_body)``.

        Same keys as the target's bodies: standard fields (empty ones absent), nested address parts
        the target writes, ``custom_fields`` with every written custom key incl. the source key
        (None when empty; enum/set as option IDs, monetary as ``{value, currency}``). IDs that are
        gone are absent. Users (matched, never written) map to ``{}``. Costs: 10 tokens per 100 v2
        records; 2 tokens per note or file (v1 has no ID filter).
        """
        if target.entity == "user":
            live = set(self.users_by_email().values())
            return {d: {} for d in dest_ids if d in live}
        written = self.written_fields(target_name, target)
        return {str(item["id"]): canonical(target.entity, live_view(target.entity, item), written)
                for item in self._live_items(target.entity, dest_ids)}

    def normalise_body(self, target_name: str, target: Target, body: dict[str, Any]) -> dict[str, Any]:
        """A ``build_body`` output in ``read_fields``' shape: vendor defaults filled in (contact-list
        ``label`` work and a primary entry, participants' primary), ``HH:MM:00`` times as ``HH:MM``,
        empty standard values dropped. Never mutates ``body``."""
        return canonical(target.entity, body, self.written_fields(target_name, target))

    def restore(self, target_name: str, target: Target, dest_id: str, prior: dict[str, Any]) -> SendResult:
        """Write ``prior`` (a ``read_fields`` value) back: PATCH v2 / PUT v1 with every written field,
        emptying those ``prior`` lacks (the migration filled them: source key, added fields; see
        ``readback.restore_body`` for how each is emptied).

        Returns SendResult(dest_id) when the record reads as ``prior`` again; SendResult(dest_id,
        "manual: ...") when everything was written but some fields the migration filled have no
        empty value in the v2 API (e.g. birthday, org_id: not nullable) and an admin must clear
        them (the message names the fields); SendResult(None, "gone") for a deleted record, or
        SendResult(None, <vendor error>). Files are replaced, never edited (``manual: ...``); users
        are never written. Raises FatalLoadError when the budget is spent or the token is refused.
        """
        if target.entity == "user":
            return SendResult(None, error="skipped: users are matched to existing accounts, never written")
        if target.entity == "file":
            return SendResult(None, error="manual: Pipedrive files cannot be edited in place; an admin re-attaches "
                                          "the original document if it was replaced")
        body, stuck = restore_body(self.written_fields(target_name, target), prior)

        def send() -> SendResult:
            try:
                self.client.update(target.entity, int(dest_id), body)
            except PipedriveError as exc:
                if exc.status in GONE_STATUSES and not isinstance(exc, PipedriveTransportError):
                    return SendResult(None, error="gone")
                raise
            return SendResult(dest_id, error=unclearable_fields(self.read_fields, target_name, target, dest_id, stuck,
                                                                where="clear them in Pipedrive"))

        try:
            return self._guard(send)
        except PipedriveTransportError as exc:
            raise unavailable(exc) from None

    def match_value(self, target_name: str, target: Target, body: dict[str, Any]) -> str | None:
        """The normalised ``options.match_existing`` value of a ``build_body`` output: the primary
        e-mail (``email``) or the name (``name``); None when the target does not match or it is empty."""
        field = target.options.get("match_existing")
        if field == "email":
            emails = body.get("emails") or []
            primary = next((e for e in emails if e.get("primary")), emails[0] if emails else None)
            return normalise_match(primary.get("value")) if primary else None
        return normalise_match(body.get(field)) if field else None

    def match_candidates(self, target_name: str, target: Target, values: Sequence[str]) -> dict[str, list[str]]:
        """Normalised value -> IDs of the live records carrying it that have no source key of ours.

        The account's records of the entity are listed once per load (v2 cursor listing, 500 per page;
        notes 3) into an index of the ones without our source key, by their ``match_existing`` value
        (``_match_index``); each call then costs one ``ids=`` read per 100 hits, to check that a
        candidate is still live, still without our key and still carries the value (another run may
        have claimed it since). An account that held no such record costs nothing more. This keeps
        ``match_existing`` at the request floor: one listing per load, never one search per record
        (Pipedrive's search allows 10 requests per 2 s; notes 8). A record created by someone else
        during the load is not matched (it is created anew; the dedup pass or the duplicate report
        finds it). Values without candidates are absent.
        Raises SchemaError if the target has no valid ``options.match_existing``.
        """
        field = target.options.get("match_existing")
        if field is None:
            raise SchemaError(f"target {target_name}: options.match_existing is not set")
        index = self._match_index(target_name, target, field)
        wanted = [v for v in dict.fromkeys(map(normalise_match, values)) if v and v in index]
        if not wanted:
            return {}
        ids = list(dict.fromkeys(i for v in wanted for i in index[v]))
        items = {str(i["id"]): i for i in self._live_items(target.entity, ids)}
        out: dict[str, list[str]] = {}
        for value in wanted:
            live = [i for i in index[value] if i in items and not self._key_of(target.entity, items[i])
                    and _carries(items[i], field, value)]
            if live:
                out[value] = live
        return out

    def _match_index(self, target_name: str, target: Target, field: str) -> dict[str, list[str]]:
        """Normalised ``field`` value -> IDs of the live records of the target's entity without a
        source key of ours, from one listing of the entity, kept for this destination object (one
        load step). IDs in listing order (oldest first)."""
        cache = self._match_indexes
        if (target.entity, field) not in cache:
            self.prepare(target_name, target)
            index: dict[str, list[str]] = {}
            for item in self.client.list(target.entity):
                if item.get("is_deleted") or item.get("active_flag") is False or self._key_of(target.entity, item):
                    continue
                raw = ([e.get("value") if isinstance(e, dict) else e for e in item.get("emails") or []]
                       if field == "email" else [item.get(field)])
                for value in dict.fromkeys(filter(None, map(normalise_match, raw))):
                    index.setdefault(value, []).append(str(item["id"]))
            cache[(target.entity, field)] = index
        return cache[(target.entity, field)]


def _carries(item: dict[str, Any], field: str, value: str) -> bool:
    """Whether a live person/organization carries the normalised ``value`` in ``field``: search hits
    are rechecked against the record the update would change (a search index may lag its writes)."""
    if field == "email":
        return any(normalise_match(e.get("value") if isinstance(e, dict) else e) == value
                   for e in item.get("emails") or [])
    return normalise_match(item.get(field)) == value

