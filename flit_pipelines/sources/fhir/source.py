"""The FHIR R4 source (implements ``sources.base.Source``): Bulk Data export, or search as fallback.

Mapping from the spec (``SourceObject``): ``endpoint`` is a resource type, optionally with fixed
search parameters used in search mode (``Patient?_revinclude=RelatedPerson:patient``); each column's
``source`` is a FHIRPath-like path (``paths``); ``modified_at`` is normally ``meta.lastUpdated``.

* **Mode** (``FhirConfig.mode``): ``bulk`` reads every object from one Bulk Data export of all the
  spec's resource types (``bulk``: kick-off, polling, manifest, NDJSON files, job deletion; resumable);
  ``search`` pages each type (``search``); ``auto`` (default) uses Bulk Data when the server's
  CapabilityStatement (``GET [base]/metadata``) declares the ``export`` operation, else search.
* **Types the server does not offer** (absent from ``CapabilityStatement.rest.resource``) are absent
  objects: zero rows when ``optional``, else ``MissingFileError`` naming the type.
* **Rows**: bounded chunks of at most ``flatten.CHUNK_RESOURCES`` resources (a page in search mode);
  each resource of a spec object is validated against its FHIR R4B model (``fhir.resources``) and a
  failure is flagged in ``REJECT_COLUMN`` with the reason; so are resources the Bulk export's error
  files name. Narrowed reads (key scans, probes, the sample scan) skip the model check: they
  quarantine nothing.
* **Delta** (``since``, naive = UTC): Bulk ``_since`` or search ``_lastUpdated=gt``; objects without
  ``modified_at`` are read whole. ``deleted_keys`` reports deletions as the server reports them: the
  Bulk export's ``deleted`` files, and resources of the delta read whose ``active`` is ``false``
  (``Patient.active = false``: a record retired in the EHR).
* **Attachments** (``download``): ``DocumentReference.content.attachment.url`` (``Binary/<id>``
  relative to the base, or absolute on the same server) fetched with the token; a ``Binary``
  answered as FHIR JSON is decoded from its ``data``.

Never logged and never in an error: tokens, keys, query values, resource content.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import shutil
import weakref
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa

from flit_pipelines.sources.csv_export import HeaderReport, MissingFileError
from flit_pipelines.sources.fhir.bulk import BulkExport, read_lines, since_text
from flit_pipelines.sources.fhir.client import FhirApiError, FhirClient
from flit_pipelines.sources.fhir.flatten import ResourcePlan, chunked
from flit_pipelines.sources.fhir.search import INCLUDE_PARAMS, IncludeSpool, search_pages
from flit_pipelines.sources.json_api import split_endpoint
from flit_pipelines.spec.model import SourceObject

__all__ = ["FhirSource", "resource_type"]

log = logging.getLogger(__name__)

EXPORT_OPERATIONS = ("export", "patient-export", "group-export")
_INACTIVE = re.compile(rb'"active"\s*:\s*false')


def _remove(directories: list[Path]) -> None:
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)


def resource_type(obj: SourceObject) -> tuple[str, dict[str, str]]:
    """``(resource type, fixed search parameters)`` of an object's ``endpoint`` (``Patient``,
    ``/Patient?_revinclude=...``).

    Raises:
        ValueError: no endpoint, or it is not a resource type name.
    """
    if not obj.endpoint:
        raise ValueError("a FHIR object needs an endpoint (a resource type such as 'Patient')")
    path, params = split_endpoint(obj.endpoint)
    rtype = path.strip("/")
    if not rtype.isalpha() or not rtype[0].isupper():
        raise ValueError(f"FHIR endpoint {path!r} is not a resource type")
    return rtype, params


class FhirSource:
    """Reads spec objects from a FHIR R4 server (module docstring).

    Args:
        client: the ``FhirClient`` (base URL, auth, limits).
        state_dir: where Bulk exports and include spools are kept (``<FLIT_DATA_DIR>/cursors/<migration>``).
        objects: the spec's objects by name: their resource types make the export's ``_type``, and a
            read of one of them counts toward finishing the export.
        mode: ``auto`` | ``bulk`` | ``search``.
        group_id: Bulk export of ``Group/[id]`` (None: ``Patient/$export``).
        run_id: the wave run (None: exports private to this reader, no include spool).
        page_size: search ``_count``.
        max_age_hours / poll_interval / max_wait_seconds: Bulk export reuse and polling (``bulk``).
        validate: check resources against their R4B models (default True).

    ``stats`` is the client's ``FhirStats`` (numbers only). ``close()`` removes private exports and
    closes the client (also a context manager).

    Raises:
        ValueError: a bad mode or page size, or an object endpoint that is not a resource type.
    """

    def __init__(self, client: FhirClient, *, state_dir: str | Path, objects: Mapping[str, SourceObject],
                 mode: str = "auto", group_id: str | None = None, run_id: str | None = None, page_size: int = 500,
                 max_age_hours: float = 24.0, poll_interval: float = 2.0, max_wait_seconds: float = 6 * 3600.0,
                 validate: bool = True):
        if mode not in ("auto", "bulk", "search"):
            raise ValueError("mode must be auto, bulk or search")
        if page_size < 1:
            raise ValueError("page_size must be positive")
        self.client = client
        self.stats = client.stats
        self.state_dir = Path(state_dir)
        self.objects = dict(objects)
        self.mode = mode
        self.group_id = group_id
        self.run_id = run_id
        self.page_size = page_size
        self.validate = validate
        self._bulk_options = {"max_age_hours": max_age_hours, "poll_interval": poll_interval,
                              "max_wait_seconds": max_wait_seconds}
        self._types = {name: resource_type(o)[0] for name, o in self.objects.items()}
        self._exports: dict[str | None, BulkExport] = {}
        self._private = secrets.token_hex(4)
        self._spool = IncludeSpool(self.state_dir / "includes", run_id) if run_id else None
        self._inactive: dict[tuple[str, str | None], set[str]] = {}
        self._private_dirs: list[Path] = []  # a reader nobody closes still removes its private exports
        self._finalizer = weakref.finalize(self, _remove, self._private_dirs)

    # ------------------------------------------------------------------ capabilities
    def _rest(self) -> dict[str, Any]:
        rest = self.client.capabilities().get("rest") or [{}]
        return next((r for r in rest if isinstance(r, dict) and r.get("mode") == "server"), rest[0]) or {}

    def supported_types(self) -> set[str]:
        """Resource types the CapabilityStatement lists."""
        return {r["type"] for r in self._rest().get("resource") or [] if isinstance(r, dict) and r.get("type")}

    def uses_bulk(self) -> bool:
        """Bulk Data (``mode`` bulk, or auto and the server declares ``export``) rather than search."""
        if self.mode != "auto":
            return self.mode == "bulk"
        ops = [o.get("name") for o in self._rest().get("operation") or [] if isinstance(o, dict)]
        caps = self.client.capabilities()
        declared = any("bulkdata" in str(u) for u in caps.get("instantiates") or [])
        return declared or any(o in EXPORT_OPERATIONS for o in ops)

    # ------------------------------------------------------------------ Source protocol
    def header(self, obj: SourceObject) -> HeaderReport:
        """Whether the server offers the object's resource type (``GET [base]/metadata``, one request
        per reader). FHIR elements are optional per resource, so columns are not checked against a
        sample: every declared path is reported present.

        Raises:
            MissingFileError: the type is not offered and the object is not optional.
            FhirApiError / FhirAuthError: the CapabilityStatement could not be read.
        """
        rtype, _ = resource_type(obj)
        if rtype not in self.supported_types():
            return self._absent(obj, rtype)
        return HeaderReport(file=rtype, present=True, rename={(c.source or n): n for n, c in obj.columns.items()})

    def read(self, obj: SourceObject, since: datetime | None = None) -> Iterator[pa.RecordBatch]:
        """Text batches of the object's columns plus ``REJECT_COLUMN`` (module docstring).

        Raises:
            MissingFileError: the type is not offered and the object is not optional.
            BulkExportFailed / BulkExportTimeout / BulkExportErrors: see ``bulk``.
            FhirApiError / FhirAuthError: failures after retries (path template and status).
            PatienceExhausted: 429s held the wave longer than its patience.
        """
        rtype, params = resource_type(obj)
        if rtype not in self.supported_types():
            self._absent(obj, rtype)
            return
        if since is not None and not obj.modified_at:
            log.info("%s: object has no modified_at; reading the whole type", rtype)
            since = None
        name = self._spec_name(obj)
        plan = ResourcePlan(obj, rtype, validate=self.validate and name is not None)
        if self.uses_bulk():
            yield from self._read_bulk(plan, rtype, since, name)
        else:
            yield from self._read_search(plan, rtype, params, since)

    @staticmethod
    def _absent(obj: SourceObject, rtype: str) -> HeaderReport:
        """The report of a type the server does not offer. Raises MissingFileError unless optional."""
        if obj.optional:
            return HeaderReport(file=rtype, present=False, missing_optional=list(obj.columns))
        raise MissingFileError(f"{rtype}: the FHIR server does not offer this resource type (CapabilityStatement)")

    def _spec_name(self, obj: SourceObject) -> str | None:
        return next((n for n, o in self.objects.items() if o == obj), None)

    def _export(self, since: datetime | None) -> BulkExport:
        key = since_text(since)
        export = self._exports.get(key)
        if export is None:
            supported = self.supported_types()
            types = sorted({t for t in self._types.values() if t in supported})
            consumers = {n for n, t in self._types.items() if t in supported}
            export = self._exports[key] = BulkExport(
                self.client, self.state_dir / "bulk", types=types, since=key, group_id=self.group_id,
                run_id=self.run_id, consumers=consumers, private_token=self._private, **self._bulk_options)
            if self.run_id is None:
                self._private_dirs.append(export.directory)
        export.ensure()
        return export

    def _read_bulk(self, plan: ResourcePlan, rtype: str, since: datetime | None,
                   name: str | None) -> Iterator[pa.RecordBatch]:
        export = self._export(since)
        for path in export.files("output", rtype):
            for chunk in chunked(read_lines(path)):
                if since is not None:
                    self._note_inactive(rtype, since, chunk)
                yield plan.batch(chunk)
        failed = plan.rejected(export.error_rows(rtype))
        if failed is not None:
            yield failed
        if name is not None:
            export.finished(name)

    def _read_search(self, plan: ResourcePlan, rtype: str, params: dict[str, str],
                     since: datetime | None) -> Iterator[pa.RecordBatch]:
        spooled = self._spool.available(rtype) if self._spool is not None and since is None and not params else None
        if spooled is not None:
            self.stats.add("include_spool_reads")
            for chunk in chunked(read_lines(spooled)):
                yield plan.batch(chunk)
            return
        includes = self._spool if since is None and any(p in params for p in INCLUDE_PARAMS) else None
        seen: set[str] = set()
        try:
            for page in search_pages(self.client, rtype, params, since=since_text(since), page_size=self.page_size,
                                     spool=includes):
                fresh = [r for r in page if r.get("id") not in seen]  # offset paging may repeat a resource
                seen.update(r["id"] for r in fresh if isinstance(r.get("id"), str))
                if since is not None:
                    self._note_inactive(rtype, since, fresh)
                if fresh:
                    yield plan.batch(fresh)
        except BaseException:
            if includes is not None:
                includes.abandon()
            raise
        if includes is not None:
            includes.commit()

    def _note_inactive(self, rtype: str, since: datetime, chunk: list[Any]) -> None:
        """Remember ids of resources whose ``active`` is false in a delta read (``deleted_keys``)."""
        found = self._inactive.setdefault((rtype, since_text(since)), set())
        for item in chunk:
            if isinstance(item, (bytes, str)):
                raw = item if isinstance(item, bytes) else item.encode()
                if not _INACTIVE.search(raw):  # parse only the few lines that can be retired
                    continue
                try:
                    item = json.loads(raw)
                except ValueError:
                    continue
            if isinstance(item, dict) and item.get("active") is False and isinstance(item.get("id"), str):
                found.add(item["id"])

    def deleted_keys(self, obj: SourceObject, since: datetime) -> pd.Index:
        """Primary keys of ``obj`` the server reports deleted since ``since`` (module docstring): the
        Bulk export's ``deleted`` entries and the ``active = false`` resources of the delta read
        (call after ``read(obj, since)``). Only for objects keyed by the resource ``id``; empty otherwise."""
        rtype, _ = resource_type(obj)
        pk = obj.primary_key
        if pk is None or (obj.columns[pk].source or pk) != "id" or not obj.modified_at:
            return pd.Index([], dtype="string")
        ids = set(self._inactive.get((rtype, since_text(since)), set()))
        if self.uses_bulk() and rtype in self.supported_types():
            export = self._exports.get(since_text(since))
            if export is None or export.state.get("deleted_ids") is None:  # not read by this reader yet
                export = self._export(since)
            ids |= set(export.deleted_ids(rtype))
        return pd.Index(sorted(ids), dtype="string")

    # ------------------------------------------------------------------ attachments
    def download(self, url: str) -> bytes:
        """Bytes of an attachment URL (``Binary/<id>`` below the base, or absolute on the same host).

        Raises:
            FhirApiError: another host (the token is not sent elsewhere), or a failure after retries.
        """
        full = self.client.url(url)
        if urlsplit(full).netloc != urlsplit(self.client.base_url).netloc:
            raise FhirApiError("attachment", None, "GET (attachment on another host: not fetched with the token)")
        response = self.client.request("GET", full, "attachment", accept="*/*")
        ctype = response.headers.get("Content-Type", "").split(";")[0].strip()
        if ctype in ("application/fhir+json", "application/json"):
            body = response.json()
            if isinstance(body, dict) and body.get("resourceType") == "Binary":
                return base64.b64decode(body.get("data") or "")
        return response.content

    def close(self) -> None:
        """Remove this reader's private exports and close the client; idempotent."""
        if self.run_id is None:
            for export in self._exports.values():
                export.discard()
        self._exports.clear()
        self._finalizer()
        self.client.close()

    def __enter__(self) -> FhirSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never a token
        return f"FhirSource(base_url={self.client.base_url!r}, mode={self.mode!r})"
