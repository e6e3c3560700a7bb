"""Bulk Data export jobs of the FHIR sandbox (HL7 FHIR Bulk Data IG v2, "Export").

A kick-off creates a ``Job`` and a worker thread that first waits ``export_delay_seconds`` (the
artificial delay; ``progress`` climbs to 100 % over it, shown as ``X-Progress``), then writes the
output: per requested type present in the store, NDJSON files of at most ``file_resources``
resources (gzip level 1 on disk; served compressed to clients that accept gzip), with ``_since``
only resources changed after it plus a ``deleted`` file of transaction Bundles (``DELETE Type/id``)
for tombstones after it, and an ``error`` file of OperationOutcomes for resources the admin marked
as failing (``export_errors``; ``unattributed`` errors name no resource). A job the admin marked to
fail ends ``failed``: its status answers 500 with a non-transient OperationOutcome. Jobs live in
memory (a restarted sandbox answers 404 for old status URLs, as an expired job) and their files
under ``<state dir>/exports/<job id>/``; ``DELETE`` on the status URL removes both.
"""

from __future__ import annotations

import gzip
import json
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flit_sandboxes.fhir.store import FhirStore, instant


@dataclass
class Job:
    """One export job. ``state``: ``running`` | ``complete`` | ``failed``."""

    id: str
    types: list[str]
    since: float | None
    request_url: str
    server: str
    started: float
    delay: float
    state: str = "running"
    files: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    transaction_time: str = ""

    def progress(self, now: float) -> int:
        """Percent done (99 until the files are written)."""
        if self.state != "running":
            return 100
        return min(99, int(100 * (now - self.started) / self.delay)) if self.delay > 0 else 99

    def manifest(self, requires_token: bool) -> dict[str, Any]:
        """The completion manifest (IG "Response - Complete Status")."""
        return {"transactionTime": self.transaction_time, "request": self.request_url,
                "requiresAccessToken": requires_token,
                "output": [{"type": f["type"], "url": self._url(f["name"]), "count": f["count"]} for f in self.files],
                "deleted": [{"type": "Bundle", "url": self._url(f["name"]), "count": f["count"]} for f in self.deleted],
                "error": [{"type": "OperationOutcome", "url": self._url(f["name"]), "count": f["count"]}
                          for f in self.errors]}

    def _url(self, name: str) -> str:
        return f"{self.server}/fhir/$export-files/{self.id}/{name}"


class Jobs:
    """The export jobs of one sandbox; thread-safe.

    Args:
        store: the resources.
        root: where job files go (``<state dir>/exports``).
        delay: the artificial delay before files are written (seconds).
        file_resources: resources per output file.
    """

    def __init__(self, store: FhirStore, root: Path, *, delay: float, file_resources: int):
        self.store = store
        self.root = root
        self.delay = delay
        self.file_resources = max(1, file_resources)
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self.error_resources: set[str] = set()  # "Type/id" exported as errors instead of output
        self.unattributed_errors = 0
        self.fail_next = 0
        self.counters = {"kicked_off": 0, "completed": 0, "failed": 0, "deleted": 0, "files_served": 0}

    def start(self, types: list[str], since: float | None, request_url: str, server: str) -> Job:
        """Create a job and start its worker."""
        with self._lock:
            job = Job(secrets.token_hex(8), types, since, request_url, server, time.time(), self.delay)
            fail, self.fail_next = self.fail_next > 0, max(0, self.fail_next - 1)
            self._jobs[job.id] = job
            self.counters["kicked_off"] += 1
        threading.Thread(target=self._run, args=(job, fail), name=f"fhir-export-{job.id}", daemon=True).start()
        return job

    def get(self, ident: str) -> Job | None:
        """The job, or None (unknown or deleted)."""
        with self._lock:
            return self._jobs.get(ident)

    def delete(self, ident: str) -> bool:
        """Cancel/delete a job and its files; False when unknown."""
        with self._lock:
            job = self._jobs.pop(ident, None)
            if job is not None:
                self.counters["deleted"] += 1
        if job is not None:
            shutil.rmtree(self.root / ident, ignore_errors=True)
        return job is not None

    def path(self, ident: str, name: str) -> Path | None:
        """A complete job's file, or None."""
        job = self.get(ident)
        if job is None or job.state != "complete" or "/" in name or name.startswith("."):
            return None
        path = self.root / ident / name
        return path if path.is_file() else None

    def served(self) -> None:
        """Count one file download."""
        with self._lock:
            self.counters["files_served"] += 1

    def active(self) -> int:
        """Jobs not yet deleted."""
        with self._lock:
            return len(self._jobs)

    # ----------------------------------------------------------------- the worker
    def _run(self, job: Job, fail: bool) -> None:
        time.sleep(job.delay)
        if fail:
            job.state = "failed"
            with self._lock:
                self.counters["failed"] += 1
            return
        folder = self.root / job.id
        folder.mkdir(parents=True, exist_ok=True)
        job.transaction_time = instant(time.time())
        errors = {ref for ref in self.error_resources if ref.split("/", 1)[0] in job.types}
        for rtype in job.types:
            skip = {ref.split("/", 1)[1] for ref in errors if ref.startswith(rtype + "/")}
            self._write(job, folder, rtype, self.store.stream(rtype, job.since, skip), job.files)
            if job.since is not None:
                bundles = (json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [
                    {"request": {"method": "DELETE", "url": f"{rtype}/{ident}"}}]}, separators=(",", ":"))
                    for ident in self.store.deleted_since(rtype, job.since))
                self._write(job, folder, f"{rtype}-deleted", bundles, job.deleted, kind="Bundle")
        outcomes = [_outcome(ref) for ref in sorted(errors)] + [_outcome(None)] * self.unattributed_errors
        self._write(job, folder, "errors", iter(outcomes), job.errors, kind="OperationOutcome")
        job.state = "complete"
        with self._lock:
            self.counters["completed"] += 1

    def _write(self, job: Job, folder: Path, stem: str, lines, out: list[dict[str, Any]], *, kind: str | None = None):
        part, count, fh = 0, 0, None
        for text in lines:
            if fh is None or count >= self.file_resources:
                if fh is not None:
                    fh.close()
                    out[-1]["count"] = count
                name = f"{stem}.{part:03d}.ndjson.gz"
                fh = gzip.open(folder / name, "wt", encoding="utf-8", compresslevel=1)
                out.append({"type": kind or stem, "name": name, "count": 0})
                part, count = part + 1, 0
            fh.write(text + "\n")
            count += 1
        if fh is not None:
            fh.close()
            out[-1]["count"] = count


def _outcome(ref: str | None) -> str:
    issue: dict[str, Any] = {"severity": "error", "code": "processing",
                             "details": {"text": "The resource could not be exported"}}
    if ref:
        issue["expression"] = [ref]
    return json.dumps({"resourceType": "OperationOutcome", "issue": [issue]}, separators=(",", ":"))
