"""Bulk API 2.0 query jobs, for read-back and verification (notes §1.6).

``POST /jobs/query`` ``{"operation": "query"|"queryAll", "query", "columnDelimiter"?, "lineEnding"?}`` runs the
SOQL at once (a bad query is answered like REST: 400 ``MALFORMED_QUERY``/``INVALID_FIELD``/``INVALID_TYPE``;
``COUNT()``, aggregate functions, GROUP BY and parent-to-child sub-queries are refused, as "Understanding Bulk
API 2.0 Query" lists them unsupported) and answers the job info (state ``UploadComplete``; the first ``GET`` shows
``InProgress``, then ``JobComplete`` once ``bulk_delay_seconds`` have passed). ``GET /jobs/query/{id}/results
?maxRecords=&locator=`` answers CSV (header = the SELECT paths, e.g. ``Patient__r.Source_System_ID__c``;
null = empty cell; checkboxes ``true``/``false``) with ``Sforce-Locator`` (``null`` on the last page) and
``Sforce-NumberOfRecords``. Each job is charged to ``DailyBulkV2QueryJobs``. Locators are opaque offsets
(UNCONFIRMED format). ``PATCH {"state": "Aborted"}`` and ``DELETE`` as for ingest jobs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flit_sandboxes.salesforce import csvio
from flit_sandboxes.salesforce.bulk import JobRegistry, invalid_job
from flit_sandboxes.salesforce.ids import JOB_PREFIX, IdSequence, normalize
from flit_sandboxes.salesforce.query import Runner, Source
from flit_sandboxes.salesforce.values import to_csv

DEFAULT_PAGE = 50_000


class QueryJobs(JobRegistry):
    """Bulk query jobs (in memory; results are kept until the job is deleted)."""

    def __init__(self, source: Callable[[str], Source], ids: IdSequence, user_id: str, *, delay_seconds: float,
                 charge: Callable[[], None], clock: Callable[[], str]):
        self.source = source
        self.ids = ids
        self.user_id = user_id
        self.delay_seconds = delay_seconds
        self.charge = charge
        self.clock = clock
        self.lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}

    def create(self, body: Any, version: str, lock: Any) -> dict[str, Any]:
        """``POST /jobs/query``."""
        if not isinstance(body, dict) or body.get("operation") not in ("query", "queryAll"):
            raise invalid_job("InvalidJob : operation must be query or queryAll")
        delimiter, ending = body.get("columnDelimiter", "COMMA"), body.get("lineEnding", "LF")
        if delimiter not in csvio.DELIMITERS or ending not in csvio.LINE_ENDINGS:
            raise invalid_job("InvalidJob : bad columnDelimiter or lineEnding")
        with lock:
            runner = Runner(self.source(version), body.get("query") or "")
            if runner.query.count:
                raise invalid_job("InvalidJob : COUNT() is not supported by Bulk API 2.0 query")
            if runner.grouping is not None or runner.children:
                raise invalid_job("InvalidJob : aggregate functions, GROUP BY and parent-to-child relationship "
                                  "queries are not supported by Bulk API 2.0 query")
            rows = runner.rows(body["operation"] == "queryAll")
            lines = [[_cell(runner.render(r), path) for path in runner.query.fields] for r in rows]
        self.charge()
        now = self.clock()
        job_id = self.ids.new(JOB_PREFIX)
        job = {"id": job_id, "operation": body["operation"], "object": runner.sobject.name,  # type: ignore[union-attr]
               "createdById": self.user_id, "createdDate": now, "systemModstamp": now, "state": "UploadComplete",
               "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": float(version), "jobType": "V2Query",
               "lineEnding": ending, "columnDelimiter": delimiter, "numberRecordsProcessed": len(lines), "retries": 0,
               "totalProcessingTime": 0, "_header": list(runner.query.fields), "_lines": lines,
               "_created": time.monotonic()}
        with self.lock:
            self.jobs[job_id] = job
        out = self.public(job)
        out.pop("numberRecordsProcessed")
        return out

    def info(self, job_id: str) -> dict[str, Any]:
        """``GET /jobs/query/{id}``."""
        with self.lock:
            job = self._job(job_id)
            if job["state"] == "UploadComplete":
                job["state"] = "InProgress"
            elif job["state"] == "InProgress" and time.monotonic() - job["_created"] >= self.delay_seconds:
                job["state"] = "JobComplete"
            return self.public(job)

    def results(self, job_id: str, max_records: str | None, locator: str | None) -> tuple[str, str, int]:
        """``(csv, Sforce-Locator, Sforce-NumberOfRecords)`` of one page."""
        with self.lock:
            job = self._job(job_id)
            if job["state"] != "JobComplete":
                raise invalid_job(f"InvalidJob : Job {job_id} is not complete (state {job['state']})")
            try:
                size = int(max_records) if max_records else DEFAULT_PAGE
                start = int(locator) if locator and locator != "null" else 0
            except ValueError:
                raise invalid_job("InvalidJob : bad maxRecords or locator") from None
            if size < 1 or start < 0:
                raise invalid_job("InvalidJob : bad maxRecords or locator")
            page = job["_lines"][start:start + size]
            following = start + size
            next_locator = str(following) if following < len(job["_lines"]) else "null"
            text = csvio.write(job["_header"], page, csvio.DELIMITERS[job["columnDelimiter"]], job["lineEnding"])
            return text, next_locator, len(page)

    def abort(self, job_id: str, body: Any) -> dict[str, Any]:
        """``PATCH /jobs/query/{id}`` ``{"state": "Aborted"}``."""
        with self.lock:
            job = self._job(job_id)
            if not isinstance(body, dict) or body.get("state") != "Aborted" or job["state"] == "JobComplete":
                raise invalid_job("InvalidJob : only an unfinished query job can be Aborted")
            job["state"] = "Aborted"
            return self.public(job)

    def delete(self, job_id: str) -> None:
        """``DELETE /jobs/query/{id}``."""
        with self.lock:
            self._job(job_id)
            del self.jobs[normalize(job_id) or job_id]

    def list(self) -> dict[str, Any]:
        """``GET /jobs/query``."""
        with self.lock:
            return {"done": True, "records": [self.public(j) for j in self.jobs.values()], "nextRecordsUrl": None}


def _cell(rendered: dict[str, Any], path: str) -> str:
    current: Any = rendered
    parts = path.split(".")
    for part in parts:
        if not isinstance(current, dict):
            return ""
        current = next((v for k, v in current.items() if k.lower() == part.lower()), None)
    return to_csv(None, current)
