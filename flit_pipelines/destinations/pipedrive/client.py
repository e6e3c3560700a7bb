"""Pipedrive REST client: the typed operations (entities, files, custom fields, pipelines, search, merge).

Vendor facts follow ``shared/notes/pipedrive.md`` (cited as "notes §N") and the bundled OpenAPI
documents ``sandbox/vendor_specs/pipedrive/openapi-v{1,2}.yaml`` (cited by ``operationId``):

* Routing (§1): persons, organizations, deals, activities, pipelines, stages, field definitions
  and search go to **v2** (``/api/v2``); notes, files and users exist only in **v1**.
* Session, auth, limits, retries, errors and paging: ``transport.PipedriveTransport`` (notes §2, §3, §8).

Thread-safe: one client (one session, one limiter) is meant to be shared by a pool of workers.
Nothing here logs or embeds the token, request bodies, query values or response bodies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests

from flit_pipelines.http import session as http
from flit_pipelines.http.redaction import Echo
from flit_pipelines.http.retry import send_once
from .errors import FieldTypeConflict, PipedriveError, PipedriveTransportError
from .transport import MAX_PAGE_SIZE, ClientStats, PipedriveTransport, path_template

__all__ = ["ClientStats", "FieldRef", "PipedriveClient", "path_template"]

log = logging.getLogger(__name__)
T = TypeVar("T")
# The client has a method named ``list`` (Pipedrive's list endpoints); inside the class that name is the
# method, so the annotations there use these aliases of the built-in.
Rows = list[dict]
Ids = list[int]
Names = list[str]

IDS_CHUNK = 100  # v2 `ids=` accepts up to 100 ids (notes §3)
LISTING_MIN_IDS = 20  # v1 entities: from this many ids a listing page is cheaper than a GET per id
LISTING_IDS_PER_PAGE = 10  # v1 listing budget: one page per 10 ids wanted
OPTION_FIELD_TYPES = frozenset({"enum", "set"})


@dataclass(frozen=True)
class FieldRef:
    """A resolved custom field (notes §4.9).

    ``key`` is the account-specific 40-hex ``field_code`` to use inside v2 ``custom_fields``;
    ``options`` maps option label -> option id (enum/set only, else empty).
    """

    key: str
    name: str
    field_type: str
    options: dict[str, int] = field(default_factory=dict, hash=False)



@dataclass(frozen=True)
class _Entity:
    path: str  # collection path
    v2: bool  # v2 → PATCH + cursor paging; v1 → PUT + start/limit paging
    ids_filter: bool = False  # v2 list accepts `ids=` (getPersons/getDeals/getOrganizations/getActivities)
    max_page: int = MAX_PAGE_SIZE  # v1 getFiles allows at most 100 per page


_ENTITIES: dict[str, _Entity] = {
    "person": _Entity("/api/v2/persons", True, True),
    "organization": _Entity("/api/v2/organizations", True, True),
    "deal": _Entity("/api/v2/deals", True, True),
    "activity": _Entity("/api/v2/activities", True, True),
    "pipeline": _Entity("/api/v2/pipelines", True),
    "stage": _Entity("/api/v2/stages", True),
    "note": _Entity("/api/v1/notes", False),
    "file": _Entity("/api/v1/files", False, max_page=100),
}
_FIELD_PATHS = {
    "person": "/api/v2/personFields",
    "organization": "/api/v2/organizationFields",
    "deal": "/api/v2/dealFields",
    "activity": "/api/v2/activityFields",  # read-only: activity fields cannot be created (notes §4.5)
}


class PipedriveClient(PipedriveTransport):
    """Thread-safe Pipedrive API client (token auth, v1 + v2): the typed operations the migration
    uses, over ``PipedriveTransport`` (arguments: see there).
    """


    # ------------------------------------------------------------------ entities

    @staticmethod
    def _entity(entity: str) -> _Entity:
        try:
            return _ENTITIES[entity]
        except KeyError:
            raise ValueError(f"unknown entity {entity!r}; expected one of {sorted(_ENTITIES)}") from None

    def create(self, entity: str, body: dict) -> dict:
        """Create one entity and return its ``data`` (POST; v2 ``addPerson``/``addDeal``/…, v1 ``addNote``).

        Not retried on connection errors/5xx (a duplicate could result): see
        ``PipedriveTransportError``. Files are created with ``upload_file``.
        """
        if entity == "file":
            raise ValueError("files are created with upload_file()")
        return self.request("POST", self._entity(entity).path, json=body)["data"]

    def update(self, entity: str, entity_id: int, body: dict) -> dict:
        """Update one entity and return its ``data``: v2 PATCH (``updatePerson``…), v1 PUT (``updateNote``;
        ``updateFile`` takes form fields ``name``/``description``)."""
        ent = self._entity(entity)
        path = f"{ent.path}/{int(entity_id)}"
        if ent.v2:
            return self.request("PATCH", path, json=body)["data"]
        if entity == "file":
            return self.request("PUT", path, data=body)["data"]
        return self.request("PUT", path, json=body)["data"]

    def get(self, entity: str, entity_id: int) -> dict | None:
        """The entity's ``data``, or None on 404/410. A soft-deleted v2 entity may come back with
        ``is_deleted: true`` rather than 404 (notes §7.6, unconfirmed) – callers should check."""
        try:
            return self.request("GET", f"{self._entity(entity).path}/{int(entity_id)}")["data"]
        except PipedriveError as exc:
            if exc.status in (404, 410):
                return None
            raise

    def delete(self, entity: str, entity_id: int) -> bool:
        """Delete one entity (v2 soft delete, notes §3). True if deleted, False if already gone (404/410)."""
        try:
            self.request("DELETE", f"{self._entity(entity).path}/{int(entity_id)}")
            return True
        except PipedriveError as exc:
            if exc.status in (404, 410):
                return False
            raise

    def list(self, entity: str, **filters: Any) -> Iterator[dict]:
        """All entities matching ``filters`` (e.g. ``owner_id=3``, ``pipeline_id=1``, ``person_id=9``), all pages."""
        ent = self._entity(entity)
        if ent.v2:
            return self.iter_v2(ent.path, filters, page_size=ent.max_page)
        return self.iter_v1(ent.path, filters, page_size=ent.max_page)

    def get_many(self, entity: str, ids: Sequence[int]) -> Rows:
        """Entities for ``ids`` (duplicates ignored), in the order given; missing ids are skipped.

        v2 persons/organizations/deals/activities use ``?ids=`` in chunks of 100 (one list call per
        chunk). v1 notes and files have no ``ids`` filter: with many ids the entity's listing is read
        (``start``/``limit`` pages), at most one page per ``LISTING_IDS_PER_PAGE`` ids wanted, and the
        ids it did not show are read by ``get()`` one by one; with few ids, ``get()`` per id. So a
        read-back of the notes a migration wrote costs a few pages instead of one request per note, and
        never more than 1.1x the per-id reads (an account with many other notes).
        """
        ent = self._entity(entity)
        wanted = list(dict.fromkeys(int(i) for i in ids))
        if not ent.ids_filter:
            by_id = self._listed(ent, set(wanted)) if len(wanted) >= LISTING_MIN_IDS else {}
            for i in wanted:
                if i not in by_id and (item := self.get(entity, i)) is not None:
                    by_id[i] = item
            return [by_id[i] for i in wanted if i in by_id]
        found: dict[int, dict] = {}
        for offset in range(0, len(wanted), IDS_CHUNK):
            chunk = wanted[offset : offset + IDS_CHUNK]
            for item in self.iter_v2(ent.path, {"ids": chunk}, page_size=IDS_CHUNK):
                found[item["id"]] = item
        return [found[i] for i in wanted if i in found]

    def _listed(self, ent: _Entity, wanted: set[int]) -> dict[int, dict]:
        """The wanted items the v1 listing shows within its page budget (see ``get_many``)."""
        budget = max(1, len(wanted) // LISTING_IDS_PER_PAGE)
        page = min(ent.max_page, MAX_PAGE_SIZE)
        found: dict[int, dict] = {}
        for n, item in enumerate(self.iter_v1(ent.path, {}, page_size=page), 1):
            if item.get("id") in wanted:
                found[item["id"]] = item
                if len(found) == len(wanted):
                    break
            if n >= budget * page:  # the budget's last page is read: the rest one by one
                break
        return found

    # ------------------------------------------------------------------ files and users (v1 only)

    def upload_file(
        self,
        *,
        file_name: str,
        content: bytes,
        person_id: int | None = None,
        deal_id: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> dict:
        """Upload one file attached to a person and/or deal; returns the file ``data``
        (v1 ``addFile``, multipart, notes §4.7: ``id``, ``file_name``, ``file_size``, ``person_id``…).

        Raises ValueError if neither id is given. Not retried on transport errors (POST).
        """
        if person_id is None and deal_id is None:
            raise ValueError("upload_file needs person_id or deal_id")
        form = {k: str(int(v)) for k, v in (("person_id", person_id), ("deal_id", deal_id)) if v is not None}
        files = {"file": (file_name, content, content_type)}
        return self.request("POST", "/api/v1/files", files=files, data=form)["data"]

    def download_file(self, file_id: int) -> bytes:
        """The file's bytes (v1 ``downloadFile``). A redirect to another host (object storage) is
        followed without the token header."""
        path = f"/api/v1/files/{int(file_id)}/download"
        resp = self._send("GET", path, Echo())
        hops = 0
        while resp.is_redirect and hops < 5:
            hops += 1
            location = urljoin(resp.url, resp.headers["location"])
            target = urlsplit(location)
            if target[:2] == urlsplit(self.api_base)[:2]:  # same origin: a normal, rate-limited API call
                resp = self._send("GET", target.path + (f"?{target.query}" if target.query else ""), Echo())
                continue
            try:
                # None removes the session's token header for the storage host (requests drops None headers)
                resp = self._session.get(location, headers={"x-api-token": None},  # type: ignore[dict-item]
                                         timeout=self._timeout)
            except requests.RequestException as exc:
                raise PipedriveTransportError(0, http.describe_transport(exc), path_template(path), method="GET") from None
            if resp.status_code >= 400:
                raise PipedriveError(resp.status_code, "file storage download failed", path_template(path), method="GET")
        if resp.is_redirect:
            raise PipedriveError(resp.status_code, "too many redirects", path_template(path), method="GET")
        return resp.content

    def list_person_files(self, person_id: int) -> Rows:
        """Files attached to one person (v1 ``getPersonFiles``, ``GET /api/v1/persons/{id}/files``, all pages)."""
        return list(self.iter_v1(f"/api/v1/persons/{int(person_id)}/files", page_size=100))

    def list_users(self) -> Rows:
        """All company users (v1 ``getUsers``, one unpaged array; notes §4.8)."""
        return self.request("GET", "/api/v1/users")["data"] or []

    # ------------------------------------------------------------------ custom fields, pipelines, stages

    def _field_path(self, entity: str) -> str:
        try:
            return _FIELD_PATHS[entity]
        except KeyError:
            raise ValueError(f"no field definitions for {entity!r}; expected one of {sorted(_FIELD_PATHS)}") from None

    def list_fields(self, entity: str) -> Rows:
        """All field definitions (system and custom) of person/organization/deal/activity, all pages
        (v2 ``getPersonFields``…): ``{field_code, field_name, field_type, is_custom_field, options}``."""
        return list(self.iter_v2(self._field_path(entity)))

    def ensure_custom_field(self, entity: str, name: str, field_type: str, options: Names | None = None,
                            *, existing: Sequence[Mapping[str, Any]] | None = None) -> FieldRef:
        """Find the custom field named exactly ``name`` or create it; idempotent (notes §4.9).

        ``existing``: a listing from ``list_fields(entity)`` to search first, so provisioning many
        fields costs one listing per entity instead of one per field (a second look, after a
        create with an unknown outcome, always lists afresh).

        A found field is reused; missing enum/set ``options`` are added (``addPersonFieldOptions``…,
        atomic, returns only the new options). Otherwise the field is created (``addPersonField``…,
        body ``{field_name, field_type, options: [{label}]}``).

        Raises:
            FieldTypeConflict: a custom field ``name`` exists with another ``field_type``.
            ValueError: unknown/read-only entity; ``options`` for a non-enum/set type; creating an
                enum/set field without options (the API requires them).
        """
        if entity == "activity":
            raise ValueError("activity fields are read-only in the API (notes §4.5)")
        path = self._field_path(entity)
        labels: Names = [*dict.fromkeys(options or [])]
        if labels and field_type not in OPTION_FIELD_TYPES:
            raise ValueError(f"options given for field_type {field_type!r}; only enum/set take options")

        listings = [existing] if existing is not None else []

        def find() -> FieldRef | None:
            fields = listings.pop() if listings else self.iter_v2(path)
            for f in fields:
                if f.get("is_custom_field") and f.get("field_name") == name:
                    if f.get("field_type") != field_type:
                        raise FieldTypeConflict(entity, name, str(f.get("field_type")), field_type, path)
                    return _field_ref(f)
            return None

        def create() -> FieldRef:
            if field_type in OPTION_FIELD_TYPES and not labels:
                raise ValueError(f"creating an {field_type} field needs at least one option")
            body: dict[str, Any] = {"field_name": name, "field_type": field_type}
            if labels:
                body["options"] = [{"label": label} for label in labels]
            return _field_ref(self.request("POST", path, json=body)["data"])

        with self._ensure_lock:
            ref = self._find_or_create(find, create)
            missing = [label for label in labels if label not in ref.options]
            if not missing:
                return ref
            added = self.request("POST", f"{path}/{ref.key}/options", json=[{"label": label} for label in missing])
            options_map = dict(ref.options)
            options_map.update({o["label"]: int(o["id"]) for o in added.get("data") or []})
            return FieldRef(ref.key, ref.name, ref.field_type, options_map)

    def ensure_pipeline(self, name: str) -> int:
        """Id of the pipeline named exactly ``name``; created if absent (v2 ``getPipelines``/``addPipeline``)."""

        def find() -> int | None:
            return next((p["id"] for p in self.iter_v2("/api/v2/pipelines")
                         if p.get("name") == name and not p.get("is_deleted")), None)

        with self._ensure_lock:
            return self._find_or_create(find, lambda: self.create("pipeline", {"name": name})["id"])

    def ensure_stage(self, pipeline_id: int, name: str, order_nr: int | None = None) -> int:
        """Id of the stage ``name`` in ``pipeline_id``; created if absent (v2 ``getStages``/``addStage``).

        ``order_nr`` cannot be set through v2 (``addStage``/``updateStage`` have no such field);
        Pipedrive appends new stages, so call this in stage order. A mismatch is logged.
        """

        def find() -> dict | None:
            stages = self.iter_v2("/api/v2/stages", {"pipeline_id": pipeline_id})
            return next((s for s in stages if s.get("name") == name and not s.get("is_deleted")), None)

        with self._ensure_lock:
            stage = self._find_or_create(find, lambda: self.create("stage", {"name": name, "pipeline_id": pipeline_id}))
        if order_nr is not None and stage.get("order_nr") not in (None, order_nr):
            log.warning("stage %d has order_nr %s, wanted %d (not settable via API v2)",
                        stage["id"], stage.get("order_nr"), order_nr)
        return int(stage["id"])

    def _find_or_create(self, find: Callable[[], T | None], create: Callable[[], T]) -> T:
        """``find()`` else ``create()`` exactly once: while the create's outcome is unknown (answer
        lost, 5xx), look again before sending it again (``http.retry.send_once``)."""
        found = find()
        if found is not None:
            return found
        return send_once(create, find, policy=self.retry_policy, clock=self.clock, stats=self.stats)[0]

    # ------------------------------------------------------------------ search

    def search_field(self, entity: str, field_key: str, term: str) -> Ids:
        """Ids of ``entity`` items whose field ``field_key`` equals ``term`` exactly (case-sensitive).

        v2 ``searchItemByField`` (``GET /api/v2/itemSearch/field``, ``match=exact``, 20 tokens, search
        burst limit; notes §4.1, §6). Only varchar/text/varchar_auto/double/monetary/phone/address
        custom fields are searchable.
        """
        params = {"entity_type": entity, "field": field_key, "term": term, "match": "exact"}
        ids: dict[int, None] = {}
        for row in self.iter_v2("/api/v2/itemSearch/field", params):
            inner = row.get("item")
            item = inner if isinstance(inner, dict) else row
            if item.get("id") is not None:
                ids[int(item["id"])] = None
        return list(ids)

    def search_exact(self, entity: str, field: str, term: str) -> Ids:
        """Ids of persons/organizations whose ``field`` equals ``term`` (case-insensitive), all pages.

        v2 ``searchPersons`` / ``searchOrganization`` (``GET /api/v2/{persons|organizations}/search``,
        ``fields=<field>&exact_match=true``, 20 tokens, search burst limit; notes §4.1, §6). ``field``
        is one of the endpoint's ``fields`` values (persons: email, name, phone, notes, custom_fields).
        Raises ValueError for other entities.
        """
        paths = {"person": "/api/v2/persons/search", "organization": "/api/v2/organizations/search"}
        if entity not in paths:
            raise ValueError(f"no exact search for {entity!r}; expected one of {sorted(paths)}")
        query: dict[str, Any] = {"term": term, "fields": field, "exact_match": True, "limit": MAX_PAGE_SIZE}
        ids: dict[int, None] = {}
        while True:
            env = self.request("GET", paths[entity], params=query)
            for row in (env.get("data") or {}).get("items") or []:
                inner = row.get("item")
                item = inner if isinstance(inner, dict) else row
                if item.get("id") is not None:
                    ids[int(item["id"])] = None
            cursor = (env.get("additional_data") or {}).get("next_cursor")
            if not cursor:
                return list(ids)
            query["cursor"] = cursor

    # ------------------------------------------------------------------ merge (dedup pass)

    def merge_persons(self, person_id: int, merge_with_id: int) -> dict:
        """Merge person ``person_id`` into ``merge_with_id`` and return the survivor's ``data``.

        v1 ``mergePersons`` (``PUT /api/v1/persons/{id}/merge``, 40 tokens; notes §6, tutorial "Merging
        two persons"): ``merge_with_id`` survives and its values win conflicts; ``person_id`` is removed and
        its activities, notes, deals and files move to the survivor. Not retried on transport errors (a
        repeat after an unseen success answers 404): the caller checks which person is still live.
        """
        body = {"merge_with_id": int(merge_with_id)}
        return self.request("PUT", f"/api/v1/persons/{int(person_id)}/merge", json=body, idempotent=False)["data"]


def _field_ref(f: Mapping[str, Any]) -> FieldRef:
    options = {o["label"]: int(o["id"]) for o in f.get("options") or [] if "label" in o and "id" in o}
    return FieldRef(str(f["field_code"]), str(f["field_name"]), str(f["field_type"]), options)
