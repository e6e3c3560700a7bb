"""FHIR Bulk Data Access (HL7 FHIR Bulk Data IG v2, "Export"): one export job, resumable on disk.

Lifecycle (IG §"Bulk Data Kick-off Request" ... "Bulk Data Delete Request"):

1. **Kick-off**: ``GET [base]/Group/[id]/$export`` (``FHIR_GROUP_ID``) or ``[base]/Patient/$export``
   with ``_type`` (the spec's resource types the server supports), ``_since`` (delta waves) and
   ``_outputFormat=application/fhir+ndjson``; headers ``Accept: application/fhir+json``, ``Prefer:
   respond-async`` -> 202 with ``Content-Location`` (the status URL). A kick-off whose answer was
   lost is sent again (a second job; the first is unknown to us and expires on the server).
2. **Status**: ``GET <status URL>`` -> 202 while in progress (``X-Progress``, logged as a percentage
   when it holds one; ``Retry-After`` honoured, else ``poll_interval`` growing 1.5x to 30 s; every wait
   on the injectable clock); 429 waits its ``Retry-After`` too; a 5xx whose OperationOutcome has the
   ``transient`` issue code is retried; any other 4xx/5xx means the job **failed**
   (``BulkExportFailed`` with the issue codes; the state is cleared so a re-run kicks off anew);
   200 -> the **manifest** (``transactionTime``, ``requiresAccessToken``, ``output``, ``deleted``,
   ``error``). Waiting longer than ``max_wait_seconds`` raises ``BulkExportTimeout`` and keeps the
   status URL: the next extract resumes polling.
3. **Files**: every ``output``, ``deleted`` and ``error`` file is downloaded (``Accept:
   application/fhir+ndjson``; the token only when ``requiresAccessToken``; ``Accept-Encoding: gzip``,
   a gzip answer stored compressed) to ``<state>/bulk/<key>/`` through a ``.part`` file and a rename.
   A file already stored is never fetched again. 404/410 (the manifest expired) -> ``BulkExportExpired``:
   the reader starts one new export.
4. **Delete**: once every file is stored, ``DELETE <status URL>`` (202; 404 = already gone).
5. **Errors**: each line of an error file is an OperationOutcome. An issue of severity error/fatal
   that names a resource (``expression``/``location`` ``Type/id``) becomes a quarantine row of that
   resource's object (``error_rows``); an error naming none raises ``BulkExportErrors`` (counts and
   issue codes): the export is incomplete in a way no row can carry, so it is reported, never
   ignored. Warnings are counted and logged.
6. **Deleted** files (``_since`` exports) hold transaction Bundles of ``DELETE Type/id`` entries:
   ``deleted_ids(type)`` (delta waves remove those rows; ``delta.snapshot``).

**Resumable.** ``state.json`` (written atomically) holds the request fingerprint, the run that owns
the export, the status URL, the manifest, the stored files and the spec objects read to the end. A
read in the same run re-uses it; a read in another run adopts it while some object has not been
read to its end and it is younger than ``max_age_hours`` (an extract restarted after a crash re-uses
the finished export's manifest and skips the files it stored); otherwise it is discarded (its job
deleted) and a new export starts. When every spec object of the export has been read, the local
files are removed. Readers without a run (probes, CLI) keep the export in a directory of their own,
removed by ``discard``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from urllib3.exceptions import HTTPError

from flit_pipelines.http.errors import StatusError, TransientError
from flit_pipelines.http.session import retry_after_seconds
from flit_pipelines.sources import json_api
from flit_pipelines.sources.fhir.client import (
    FHIR_NDJSON,
    FhirApiError,
    FhirAuthError,
    FhirClient,
    FhirFinalError,
    issue_codes,
)
from flit_pipelines.sources.state_files import write_atomic

__all__ = ["BulkExport", "BulkExportErrors", "BulkExportExpired", "BulkExportFailed", "BulkExportTimeout",
           "ExportError"]

log = logging.getLogger(__name__)

STATE_FORMAT = 1
_REF = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:$|[/.\[])")
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
_DOWNLOAD_CHUNK = 1 << 20


class BulkExportFailed(FhirApiError):
    """The server reports the export job failed (a non-transient error on the status URL)."""


class BulkExportTimeout(RuntimeError):
    """The export did not complete within ``max_wait_seconds``; the status URL is kept, so the next
    extract resumes polling it."""


class BulkExportExpired(RuntimeError):
    """A manifest's file is gone (404/410): the export expired on the server."""


class BulkExportErrors(RuntimeError):
    """The export's error files hold errors that name no resource: the export is incomplete."""


class _BodyLost(StatusError, TransientError):
    """A download's body broke off: the whole file is requested again."""


@dataclass(frozen=True)
class ExportError:
    """One error-file issue: the resource it names (``type``/``id``, None when it names none) and
    its severity and issue code (FHIR ``IssueType``)."""

    type: str | None
    id: str | None
    severity: str
    code: str


def _fingerprint(client: FhirClient, types: Sequence[str], since: str | None, group_id: str | None) -> str:
    material = json.dumps({"base": client.base_url, "types": sorted(types), "since": since, "group": group_id},
                          sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


def _job_failed(response: requests.Response) -> bool:
    """A 5xx on the status URL means the job failed when its body is an OperationOutcome without the
    ``transient`` issue code (IG: transient polling failures SHOULD carry it); a 5xx without an
    OperationOutcome (a proxy's page) is retried."""
    codes = issue_codes(response)
    return bool(codes) and "transient" not in codes


def parse_error_line(line: str | bytes) -> list[ExportError]:
    """The issues of one error-file line (an OperationOutcome); unreadable lines give one
    unattributed ``processing`` error."""
    try:
        outcome = json.loads(line)
    except ValueError:
        return [ExportError(None, None, "error", "processing")]
    out = []
    for issue in (outcome.get("issue") or []) if isinstance(outcome, dict) else []:
        if not isinstance(issue, dict):
            continue
        where = [*(issue.get("expression") or []), *(issue.get("location") or [])]
        match = next((m for w in where if isinstance(w, str) for m in [_REF.search(w)] if m), None)
        out.append(ExportError(match.group(1) if match else None, match.group(2) if match else None,
                               str(issue.get("severity") or "error"), str(issue.get("code") or "processing")))
    return out or [ExportError(None, None, "error", "processing")]


def read_lines(path: Path) -> Iterator[bytes]:
    """The non-blank lines of a stored NDJSON file (gzip-compressed when its name ends in ``.gz``)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield line


class BulkExport:
    """One export request (module docstring).

    Args:
        client: the ``FhirClient``.
        root: ``<state dir>/bulk``.
        types: resource types to export (``_type``).
        since: the ``_since`` instant text (``YYYY-MM-DDTHH:MM:SSZ``) or None.
        group_id: export ``Group/[id]`` (None: ``Patient/$export``).
        run_id: the wave run reading it (None: a private export of this reader only).
        consumers: names of the spec objects that read it to the end before it is removed.
        max_age_hours: how old an unfinished export another run may still adopt.
        poll_interval / max_wait_seconds: status polling without ``Retry-After``, and its bound.
    """

    def __init__(self, client: FhirClient, root: Path, *, types: Sequence[str], since: str | None,
                 group_id: str | None, run_id: str | None, consumers: set[str], max_age_hours: float = 24.0,
                 poll_interval: float = 2.0, max_wait_seconds: float = 6 * 3600.0, private_token: str = ""):
        self.client = client
        self.types = sorted(set(types))
        self.since = since
        self.group_id = group_id
        self.run_id = run_id
        self.consumers = set(consumers)
        self.max_age_seconds = max_age_hours * 3600.0
        self.poll_interval = poll_interval
        self.max_wait_seconds = max_wait_seconds
        self.fingerprint = _fingerprint(client, self.types, since, group_id)
        name = self.fingerprint[:16] if run_id is not None else f"private-{private_token}-{self.fingerprint[:12]}"
        self.directory = root / name
        self.state: dict[str, Any] = {}
        self.last_progress: float | None = None

    # ------------------------------------------------------------------ state
    def _save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(self.directory / "state.json", json.dumps(self.state, sort_keys=True).encode())

    def _load(self) -> dict[str, Any] | None:
        try:
            state = json.loads((self.directory / "state.json").read_text())
        except (OSError, ValueError):
            return None
        ok = isinstance(state, dict) and state.get("format") == STATE_FORMAT and \
            state.get("fingerprint") == self.fingerprint
        return state if ok else None

    def _adoptable(self, state: dict[str, Any]) -> bool:
        if state.get("run_id") == self.run_id:
            return True
        unfinished = not self.consumers <= set(state.get("done") or [])
        age = self.client.clock.now().timestamp() - float(state.get("kicked_off_at") or 0)
        return unfinished and age < self.max_age_seconds

    def discard(self) -> None:
        """Delete the server job if it may still exist, and the local files (best effort)."""
        state = self.state or self._load() or {}
        if state.get("status_url") and not state.get("job_deleted"):
            self._delete_job(state["status_url"])
        shutil.rmtree(self.directory, ignore_errors=True)
        self.state = {}

    # ------------------------------------------------------------------ the lifecycle
    def ensure(self) -> dict[str, Any]:
        """The export stored locally (kick-off, polling, downloads and job deletion as needed);
        returns the manifest. Raises BulkExportFailed / BulkExportTimeout / BulkExportErrors /
        FhirApiError as the module docstring says; BulkExportExpired is handled by one new export."""
        if self.state.get("removed"):  # read to the end by every object already: a read now needs a new export
            self.state = {}
        if self.state.get("job_deleted"):
            return self.state["manifest"]
        if not self.state:
            stored = self._load()
            if stored is not None and self._adoptable(stored):
                self.state = stored
                if stored.get("run_id") != self.run_id:
                    log.info("bulk export: resuming an unfinished export of an earlier run")
                    self.state["run_id"] = self.run_id
                    self._save()
            else:
                if stored is not None:
                    self.state = stored
                    self.discard()
                self.state = {"format": STATE_FORMAT, "fingerprint": self.fingerprint, "run_id": self.run_id,
                              "files": {}, "done": []}
        try:
            return self._complete()
        except BulkExportExpired:
            log.warning("bulk export: a manifest file is gone (expired on the server); starting a new export")
            self.discard()
            self.state = {"format": STATE_FORMAT, "fingerprint": self.fingerprint, "run_id": self.run_id,
                          "files": {}, "done": []}
            return self._complete()

    def _complete(self) -> dict[str, Any]:
        if not self.state.get("status_url"):
            self._kick_off()
        if self.state.get("manifest") is None:
            self.state["manifest"] = self._poll(self.state["status_url"])
            self._save()
        manifest = self.state["manifest"]
        for kind in ("output", "deleted", "error"):
            for n, entry in enumerate(manifest.get(kind) or []):
                self._store(kind, n, entry, bool(manifest.get("requiresAccessToken")))
        if not self.state.get("job_deleted"):
            self._delete_job(self.state["status_url"])
            self.state["job_deleted"] = True
        if "deleted_ids" not in self.state:  # kept after the files go: a delta extract asks after its read
            self.state["deleted_ids"] = self._parse_deleted()
        self._save()
        self._check_errors()
        return manifest

    def _kick_off(self) -> None:
        path = f"Group/{self.group_id}/$export" if self.group_id else "Patient/$export"
        label = "/Group/[id]/$export" if self.group_id else "/Patient/$export"
        params = {"_outputFormat": FHIR_NDJSON, "_type": ",".join(self.types)}
        if self.since:
            params["_since"] = self.since
        response = self.client.request("GET", self.client.url(path), label, params=params, ok=(202,),
                                       headers={"Prefer": "respond-async"})
        location = response.headers.get("Content-Location")
        response.close()
        if not location:
            raise FhirApiError(label, 202, "GET (no Content-Location in the kick-off answer)")
        self.client.stats.add("bulk_kickoffs")
        self.state.update(status_url=self.client.url(location), kicked_off_at=self.client.clock.now().timestamp())
        self._save()

    def _poll(self, status_url: str) -> dict[str, Any]:
        clock = self.client.clock
        started = clock.monotonic()
        interval = self.poll_interval
        while True:
            response = self._status(status_url)
            self.client.stats.add("bulk_polls")
            if response.status_code == 200:
                try:
                    manifest = response.json()
                except ValueError:
                    raise FhirApiError("bulk status", 200, "GET (manifest is not JSON)") from None
                if not isinstance(manifest, dict):
                    raise FhirApiError("bulk status", 200, "GET (manifest is not a JSON object)")
                return manifest
            progress = _PERCENT.search(response.headers.get("X-Progress") or "")
            if progress:
                self.last_progress = float(progress.group(1))
                log.info("bulk export in progress (%s%%)", progress.group(1))
            wait = retry_after_seconds(response.headers.get("Retry-After"), clock)
            response.close()
            if wait is None:
                wait, interval = interval, min(interval * 1.5, 30.0)
            if clock.monotonic() - started + wait > self.max_wait_seconds:
                raise BulkExportTimeout(f"the bulk export did not complete within {self.max_wait_seconds:.0f} s; "
                                        "re-run the wave to resume polling it")
            clock.sleep(wait)

    def _status(self, status_url: str) -> requests.Response:
        """One status request: a non-transient error means the job failed (state cleared)."""
        try:
            return self.client.request("GET", status_url, "bulk status", ok=(200, 202),
                                       fatal=_job_failed)
        except FhirApiError as exc:
            final = isinstance(exc, FhirFinalError) or (exc.status is not None and 400 <= exc.status < 500)
            if not final or isinstance(exc, FhirAuthError) or exc.status == 429:
                raise  # unanswered, retries exhausted or refused credentials: the job may be fine
            self.state = {}
            shutil.rmtree(self.directory, ignore_errors=True)
            raise BulkExportFailed("bulk status", exc.status, "GET (the export job failed)", exc.codes) from None

    def _store(self, kind: str, n: int, entry: dict[str, Any], with_auth: bool) -> None:
        url = entry.get("url") if isinstance(entry, dict) else None
        rtype = str(entry.get("type") or "Unknown") if isinstance(entry, dict) else "Unknown"
        if not isinstance(url, str) or not url:
            raise FhirApiError("bulk status", 200, f"GET (manifest {kind} entry without url)")
        files = self.state.setdefault("files", {})
        known = files.get(url)
        if known and (self.directory / known["name"]).exists():
            self.client.stats.add("bulk_files_reused")
            return
        base = f"{kind}-{n:04d}.{re.sub(r'[^A-Za-z]', '', rtype) or 'Unknown'}.ndjson"

        def once() -> tuple[str, int]:
            response = self.client.request("GET", self.client.url(url), "bulk file", accept=FHIR_NDJSON,
                                           with_auth=with_auth, stream=True, ok=(200,),
                                           headers={"Accept-Encoding": "gzip"})
            name = base + (".gz" if response.headers.get("Content-Encoding", "").lower() == "gzip" else "")
            part = self.directory / (name + ".part")
            size = 0
            try:
                with open(part, "wb") as fh:
                    while chunk := response.raw.read(_DOWNLOAD_CHUNK, decode_content=False):
                        fh.write(chunk)
                        size += len(chunk)
            except (requests.RequestException, HTTPError, ConnectionError):  # the body broke off
                raise _BodyLost("bulk file", None, "GET (body broke off)") from None
            finally:
                response.close()
            part.replace(self.directory / name)
            return name, size

        try:
            name, size = json_api.call(once, "bulk file", FhirApiError, policy=self.client.policy,
                                       limiter=self.client.limiter, stats=self.client.stats, logger=log)
        except FhirApiError as exc:
            if exc.status in (404, 410):
                raise BulkExportExpired() from None
            raise
        self.client.stats.add("bulk_files_downloaded")
        self.client.stats.add("bulk_bytes", size)
        files[url] = {"name": name, "kind": kind, "type": rtype, "bytes": size}
        self._save()

    def _delete_job(self, status_url: str) -> None:
        try:
            self.client.request("DELETE", status_url, "bulk status", ok=(200, 202, 204, 404, 410)).close()
            self.client.stats.add("bulk_jobs_deleted")
        except FhirApiError as exc:  # the server expires it anyway; nothing of ours depends on it
            log.warning("bulk export: the job could not be deleted (%s)", exc)

    # ------------------------------------------------------------------ what was stored
    def files(self, kind: str, rtype: str | None = None) -> list[Path]:
        """Stored files of ``kind`` (output/deleted/error), of ``rtype`` when given, in manifest order."""
        entries = [e for e in (self.state.get("files") or {}).values() if e["kind"] == kind
                   and (rtype is None or e["type"] == rtype)]
        return [self.directory / e["name"] for e in sorted(entries, key=lambda e: e["name"])]

    def errors(self) -> list[ExportError]:
        """Every issue of the error files."""
        return [issue for path in self.files("error") for line in read_lines(path) for issue in parse_error_line(line)]

    def _check_errors(self) -> None:
        errors = [e for e in self.errors() if e.severity in ("error", "fatal")]
        warnings = sum(1 for e in self.errors() if e.severity not in ("error", "fatal"))
        if warnings:
            log.warning("bulk export: %d warnings in the error files", warnings)
        loose = [e for e in errors if e.type is None]
        if loose:
            codes = sorted({e.code for e in loose})
            self.discard()
            raise BulkExportErrors(f"the bulk export reported {len(loose)} errors that name no resource "
                                   f"(issue codes: {', '.join(codes)}); the export is incomplete. Re-run the wave "
                                   "(a new export) or ask the EHR vendor")
        if errors:
            log.warning("bulk export: %d resources could not be exported (quarantined with the reason)", len(errors))

    def error_rows(self, rtype: str) -> list[tuple[str | None, str]]:
        """``(id, reason)`` of the resources of ``rtype`` the export reported as failed."""
        return [(e.id, f"bulk export error: {e.severity} {e.code}") for e in self.errors()
                if e.type == rtype and e.severity in ("error", "fatal")]

    def deleted_ids(self, rtype: str) -> list[str]:
        """Ids of ``rtype`` in the ``deleted`` files (``DELETE Type/id`` Bundle entries); available
        after ``ensure`` and still after ``finished`` removed the files."""
        return list((self.state.get("deleted_ids") or {}).get(rtype, []))

    def _parse_deleted(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for path in self.files("deleted"):
            for line in read_lines(path):
                try:
                    bundle = json.loads(line)
                except ValueError:
                    continue
                for entry in bundle.get("entry") or [] if isinstance(bundle, dict) else []:
                    req = entry.get("request") if isinstance(entry, dict) else None
                    url = req.get("url") if isinstance(req, dict) else None
                    method = req.get("method", "") if isinstance(req, dict) else ""
                    if isinstance(url, str) and str(method).upper() == "DELETE":
                        kind, _, ident = url.strip("/").rpartition("/")
                        if kind and ident:
                            out.setdefault(kind.rsplit("/", 1)[-1], []).append(ident)
        return out

    def finished(self, consumer: str) -> None:
        """``consumer`` (a spec object name) read the export to its end; the last one removes the files."""
        if not self.state or consumer not in self.consumers:
            return
        done = set(self.state.get("done") or []) | {consumer}
        self.state["done"] = sorted(done)
        if self.consumers <= done:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.state = {"job_deleted": True, "manifest": self.state.get("manifest"), "files": {},
                          "done": sorted(done), "removed": True, "deleted_ids": self.state.get("deleted_ids")}
        else:
            self._save()


def since_text(since: datetime | None) -> str | None:
    """``_since`` / ``_lastUpdated`` instant text of a naive-UTC or aware datetime."""
    return json_api.format_since(since) if since is not None else None
