"""Bulk API 2.0 ingest jobs: the state machine and the processing of one upload (notes §1).

States: ``Open`` (created) -> one ``PUT`` of CSV -> ``PATCH UploadComplete`` -> ``InProgress`` -> ``JobComplete`` |
``Failed``; ``Aborted`` from Open/UploadComplete/InProgress. The first ``GET`` after the close always shows
``InProgress`` (pollers are exercised); the job is then processed on the first look at least
``bulk_delay_seconds`` after the close (plus any ``in_progress_polls`` of a job fault). Processing is
synchronous (one ``dml.Org.save`` over all rows with ``isolate`` so rows do not see each other, notes
§1.4); one Bulk batch per 10,000 records is charged to ``DailyBulkApiBatches`` (notes §1.5).

Column rules (notes §1.2, §1.4): the header holds field API names (matched case-insensitively; unknown or
not visible -> job ``Failed`` with ``InvalidBatch : Field name not found : <column>``, notes §1.3) and
relationship columns ``Rel__r.Ext__c`` / ``Account.Ext__c`` / ``Type:Rel.Field`` (polymorphic relations need
the ``Type:``; the field must be an External ID or idLookup field). ``delete``/``hardDelete`` uploads hold only
``Id``; ``update`` rows need ``Id``; ``upsert`` needs the ``externalIdFieldName`` column. Cell values as
``values.from_csv``; a cell of the wrong type fails its row with ``INVALID_FIELD:Failed to deserialize field at
col N. Due to, 'v' is not a valid value for the type xsd:date:--`` (wording UNCONFIRMED).

Results: ``successfulResults`` ``"sf__Id","sf__Created",<uploaded columns>``; ``failedResults``
``"sf__Id","sf__Error",<uploaded columns>`` (``sf__Id`` empty for failed inserts); ``unprocessedrecords`` the
uploaded columns of rows never processed (aborted or failed jobs). Cells echo the upload verbatim; row order
is shuffled (deterministically per job) unless ``shuffle_bulk_results=False`` (notes §1.1 item 5, §8 item 3).
Results of a job that has not finished are the header only (UNCONFIRMED).
"""

from __future__ import annotations

import builtins  # annotations inside a class with a method named ``list``
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flit_sandboxes.salesforce import csvio
from flit_sandboxes.salesforce.dml import Org, Ref, Row, SaveResult
from flit_sandboxes.salesforce.errors import RowError, SfError, not_found
from flit_sandboxes.salesforce.ids import JOB_PREFIX, normalize
from flit_sandboxes.salesforce.rules import JobFaults
from flit_sandboxes.salesforce.schema import Field, SObject
from flit_sandboxes.salesforce.store import SalesforceStore
from flit_sandboxes.salesforce.values import KEEP, TypeProblem, from_csv

logger = logging.getLogger("flit_sandboxes.salesforce")
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
TERMINAL = ("JobComplete", "Failed", "Aborted")
RECORDS_PER_BATCH = 10_000
UNSUPPORTED_OBJECTS = {"contentversion", "contentdocument", "organization", "user"}
_XSD = {"date": "xsd:date", "datetime": "xsd:dateTime", "boolean": "xsd:boolean", "double": "xsd:double",
        "currency": "xsd:double", "percent": "xsd:double", "int": "xsd:int", "base64": "xsd:base64Binary"}


def invalid_job(message: str, status: int = 400) -> SfError:
    """A Bulk 2.0 request error ``[{"errorCode": "INVALIDJOB", "message"}]`` (code UNCONFIRMED)."""
    return SfError(status, "INVALIDJOB", message)


@dataclass
class Column:
    """How one CSV column is written: to ``field`` directly or through a parent by external ID."""

    field: Field | None = None
    ref: Field | None = None
    target: SObject | None = None
    key: Field | None = None
    is_id: bool = False


class JobRegistry:
    """Jobs of one Bulk API 2.0 family by ID (``self.jobs``: job ID -> job info with private ``_`` keys)."""

    jobs: dict[str, dict[str, Any]]

    @staticmethod
    def public(job: dict[str, Any]) -> dict[str, Any]:
        """The job info without the sandbox's private keys."""
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def _job(self, job_id: str) -> dict[str, Any]:
        """The job (15- or 18-character ID). Raises the 404 ``NOT_FOUND`` SfError if unknown."""
        job = self.jobs.get(normalize(job_id) or job_id)
        if job is None:
            raise not_found()
        return job


class IngestJobs(JobRegistry):
    """All ingest jobs of the org (in memory, persisted in the state file)."""

    def __init__(self, org: Org, store: SalesforceStore, *, delay_seconds: float, shuffle: bool, max_upload: int,
                 faults: JobFaults, charge_batches: Callable[[int], None], clock: Callable[[], str]):
        self.org = org
        self.store = store
        self.delay_seconds = delay_seconds
        self.shuffle = shuffle
        self.max_upload = max_upload
        self.faults = faults
        self.charge_batches = charge_batches
        self.clock = clock
        self.lock = threading.RLock()
        self.jobs: dict[str, dict[str, Any]] = {j["id"]: j for j in store.load_jobs() if j.get("jobType") == "V2Ingest"}
        for job in self.jobs.values():
            job["_closed_at"] = 0.0  # monotonic times do not survive a restart: closed jobs are due at once

    # ---------------------------------------------------------------- requests
    def create(self, body: Any, version: str) -> dict[str, Any]:
        """``POST /jobs/ingest``: the job info with ``contentUrl`` (state Open)."""
        if not isinstance(body, dict):
            raise invalid_job("The request body must be a JSON object")
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise invalid_job(f"InvalidJob : Invalid operation: {operation}")
        sobject = self.org.schema.get(body.get("object") or "")
        if sobject is None or not self.org.perms.can_see(sobject) or sobject.name.lower() in UNSUPPORTED_OBJECTS:
            raise invalid_job(f"InvalidJob : Unable to find object: {body.get('object')}"
                              if sobject is None or not self.org.perms.can_see(sobject) else
                              f"InvalidJob : Entity '{sobject.name}' is not supported by the Bulk API.")
        content_type = body.get("contentType", "CSV")
        line_ending = body.get("lineEnding", "LF")
        delimiter = body.get("columnDelimiter", "COMMA")
        if content_type != "CSV" or line_ending not in csvio.LINE_ENDINGS or delimiter not in csvio.DELIMITERS:
            raise invalid_job("InvalidJob : contentType must be CSV, lineEnding LF or CRLF, columnDelimiter one of "
                              + ", ".join(csvio.DELIMITERS))
        info: dict[str, Any] = {}
        if operation == "upsert":
            ext = body.get("externalIdFieldName")
            if not ext:
                raise invalid_job(f"InvalidJob : External ID was blank for {sobject.name}. An External ID must be "
                                  "specified for upsert.")
            ext_field = self.org.perms.visible_field(sobject, ext)
            if ext_field is None or not ext_field.indexed:
                raise invalid_job(f"InvalidJob : Field name provided, {ext} does not match an External ID, Salesforce "
                                  f"Id, or indexed field for {sobject.name}")
            info["externalIdFieldName"] = ext_field.name
        now = self.clock()
        job_id = self.org.ids.new(JOB_PREFIX)
        job = {"id": job_id, "operation": operation, "object": sobject.name, "createdById": self.org.user_id,
               "createdDate": now, "systemModstamp": now, "state": "Open", **info, "concurrencyMode": "Parallel",
               "contentType": "CSV", "apiVersion": float(version), "jobType": "V2Ingest", "lineEnding": line_ending,
               "columnDelimiter": delimiter, "numberRecordsProcessed": 0, "numberRecordsFailed": 0, "retries": 0,
               "totalProcessingTime": 0, "apiActiveProcessingTime": 0, "apexProcessingTime": 0,
               "_uploaded": False}
        with self.lock:
            self.jobs[job_id] = job
            self.store.save_job(job_id, job)
        out = self.public(job)
        for counter in ("numberRecordsProcessed", "numberRecordsFailed", "retries", "totalProcessingTime",
                        "apiActiveProcessingTime", "apexProcessingTime"):
            out.pop(counter, None)
        out["contentUrl"] = f"services/data/v{version}/jobs/ingest/{job_id}/batches"
        return out

    def upload(self, job_id: str, content: bytes, content_type: str) -> None:
        """``PUT /jobs/ingest/{id}/batches``: the one CSV upload (201 empty body)."""
        with self.lock:
            job = self._job(job_id)
            if job["_uploaded"]:
                raise invalid_job(f"Found multiple contents for job: <{job_id}>, please 'Close' / 'Abort' / 'Delete' "
                                  "the current Job then create a new Job and make sure you only do 'PUT' once on a "
                                  "given Job.")
            if job["state"] != "Open":
                raise invalid_job(f"InvalidJob : Job {job_id} is not in the Open state", 409)
            if not content_type.lower().startswith("text/csv"):
                raise invalid_job("InvalidJob : Content-Type must be text/csv", 400)
            if len(content) > self.max_upload:
                raise SfError(413, "INVALIDJOB", f"InvalidJob : The upload is larger than the maximum of "
                                                 f"{self.max_upload} bytes")
            self.store.put_blob(f"job:{job_id}:data", content)
            job["_uploaded"] = True
            job["systemModstamp"] = self.clock()
            self.store.save_job(job_id, job)

    def set_state(self, job_id: str, body: Any) -> dict[str, Any]:
        """``PATCH /jobs/ingest/{id}`` ``{"state": "UploadComplete"|"Aborted"}``."""
        state = body.get("state") if isinstance(body, dict) else None
        with self.lock:
            job = self._job(job_id)
            if state == "UploadComplete":
                if job["state"] != "Open":
                    raise invalid_job(f"InvalidJob : Can't change state of job {job_id} from {job['state']} to "
                                      "UploadComplete", 409)
                job["state"] = "UploadComplete"
                job["_closed_at"] = time.monotonic()
                fault = self.faults.take(job["object"])
                job["_extra_polls"] = fault["in_progress_polls"] if fault else 0
                job["_fail"] = fault["fail"] if fault else None
            elif state == "Aborted":
                if job["state"] in TERMINAL:
                    raise invalid_job(f"InvalidJob : Can't change state of job {job_id} from {job['state']} to "
                                      "Aborted", 409)
                job["state"] = "Aborted"
                self._all_unprocessed(job)
            else:
                raise invalid_job(f"InvalidJob : Invalid state: {state}")
            job["systemModstamp"] = self.clock()
            self.store.save_job(job_id, job)
            out = self.public(job)
        for counter in ("numberRecordsProcessed", "numberRecordsFailed", "retries", "totalProcessingTime",
                        "apiActiveProcessingTime", "apexProcessingTime", "lineEnding", "columnDelimiter"):
            out.pop(counter, None)
        return out

    def info(self, job_id: str) -> dict[str, Any]:
        """``GET /jobs/ingest/{id}`` (advances the state machine, may process the job)."""
        with self.lock:
            job = self._job(job_id)
            self._advance(job)
            return self.public(job)

    def results(self, job_id: str, kind: str) -> str:
        """The CSV of ``successfulResults`` / ``failedResults`` / ``unprocessedrecords``."""
        with self.lock:
            job = self._job(job_id)
            self._advance(job)
            stored = self.store.get_blob(f"job:{job_id}:{kind}")
            if stored is not None:
                return stored.decode("utf-8")
            header = self._header(job)
            prefix = {"successfulResults": ["sf__Id", "sf__Created"], "failedResults": ["sf__Id", "sf__Error"]}
            return csvio.write(prefix.get(kind, []) + header, [], csvio.DELIMITERS[job["columnDelimiter"]],
                               job["lineEnding"])

    def delete(self, job_id: str) -> None:
        """``DELETE /jobs/ingest/{id}`` (not while Open or InProgress; UNCONFIRMED rule)."""
        with self.lock:
            job = self._job(job_id)
            self._advance(job)
            if job["state"] in ("Open", "InProgress"):
                raise invalid_job(f"InvalidJob : Job {job_id} can't be deleted in state {job['state']}", 409)
            del self.jobs[job_id]
            self.store.delete_job(job_id)

    def list(self) -> dict[str, Any]:
        """``GET /jobs/ingest``."""
        with self.lock:
            records = []
            for job in list(self.jobs.values()):
                self._advance(job)
                records.append(self.public(job))
        return {"done": True, "records": records, "nextRecordsUrl": None}

    # --------------------------------------------------------------- processing
    def _advance(self, job: dict[str, Any]) -> None:
        if job["state"] == "UploadComplete":
            job["state"] = "InProgress"
            job["systemModstamp"] = self.clock()
            self.store.save_job(job["id"], job)
            return
        if job["state"] != "InProgress":
            return
        if job.get("_extra_polls"):
            job["_extra_polls"] -= 1
            return
        if time.monotonic() - job.get("_closed_at", 0.0) < self.delay_seconds:
            return
        started = time.monotonic()
        try:
            self._process(job)
        except Exception as error:  # a sandbox bug must not leave the job InProgress forever
            logger.error("bulk job %s failed unexpectedly: %s", job["id"], type(error).__name__)  # no values: PHI
            self._fail(job, f"InternalServerError : {type(error).__name__}")
        elapsed = int((time.monotonic() - started) * 1000)
        job.update(totalProcessingTime=elapsed, apiActiveProcessingTime=elapsed, systemModstamp=self.clock())
        self.store.save_job(job["id"], job)

    def _fail(self, job: dict[str, Any], message: str) -> None:
        job["state"] = "Failed"
        job["errorMessage"] = message
        self._all_unprocessed(job)

    def _upload_text(self, job: dict[str, Any]) -> str | None:
        content = self.store.get_blob(f"job:{job['id']}:data")
        return content.decode("utf-8", errors="replace") if content is not None else None

    def _header(self, job: dict[str, Any]) -> builtins.list[str]:
        text = self._upload_text(job)
        if text is None:
            return []
        try:
            return csvio.parse(text, csvio.DELIMITERS[job["columnDelimiter"]], job["lineEnding"])[0]
        except csvio.CsvJobError:
            return []

    def _all_unprocessed(self, job: dict[str, Any]) -> None:
        text = self._upload_text(job)
        if text is None:
            return
        delimiter = csvio.DELIMITERS[job["columnDelimiter"]]
        try:
            header, rows = csvio.parse(text, delimiter, job["lineEnding"])
            content = csvio.write(header, [r.cells for r in rows], delimiter, job["lineEnding"])
        except csvio.CsvJobError:
            content = text
        self.store.put_blob(f"job:{job['id']}:unprocessedrecords", content.encode("utf-8"))

    def _process(self, job: dict[str, Any]) -> None:
        if job.get("_fail"):
            self._fail(job, job["_fail"])
            return
        text = self._upload_text(job)
        if text is None:
            self._fail(job, "InvalidBatch : No data was uploaded for this job")
            return
        delimiter = csvio.DELIMITERS[job["columnDelimiter"]]
        try:
            header, parsed = csvio.parse(text, delimiter, job["lineEnding"])
            sobject = self.org.schema.get(job["object"])
            if sobject is None:
                raise csvio.CsvJobError(f"InvalidBatch : Unable to find object: {job['object']}")
            columns = self._columns(job, sobject, header)
        except csvio.CsvJobError as error:
            self._fail(job, str(error))
            return
        self.charge_batches(max(1, -(-len(parsed) // RECORDS_PER_BATCH)))
        outcomes: list[SaveResult | None] = [None] * len(parsed)
        rows, positions = [], []
        for position, parsed_row in enumerate(parsed):
            if parsed_row.error:
                outcomes[position] = SaveResult(None, False, [RowError("INVALID_FIELD", parsed_row.error)])
                continue
            try:
                rows.append(self._row(job, header, columns, parsed_row.cells))
                positions.append(position)
            except _CellProblem as problem:
                outcomes[position] = SaveResult(None, False, [problem.error])
        ext = sobject.field(job["externalIdFieldName"]) if job.get("externalIdFieldName") else None
        for position, result in zip(positions, self.org.save(job["operation"], sobject, rows, ext_field=ext,
                                                             isolate=True), strict=True):
            outcomes[position] = result
        self._write_results(job, header, parsed, outcomes, delimiter)

    def _write_results(self, job: dict[str, Any], header: builtins.list[str], parsed: builtins.list[csvio.CsvRow],
                       outcomes: builtins.list[SaveResult | None], delimiter: str) -> None:
        good, bad = [], []
        for parsed_row, result in zip(parsed, outcomes, strict=True):
            assert result is not None
            if result.success:
                good.append([result.id or "", "true" if result.created else "false", *parsed_row.cells])
            else:
                bad.append([result.id or "", result.errors[0].as_bulk_cell(), *parsed_row.cells])
        if self.shuffle:
            shuffler = random.Random(job["id"])
            shuffler.shuffle(good)
            shuffler.shuffle(bad)
        ending = job["lineEnding"]
        self.store.put_blob(f"job:{job['id']}:successfulResults",
                            csvio.write(["sf__Id", "sf__Created", *header], good, delimiter, ending).encode("utf-8"))
        self.store.put_blob(f"job:{job['id']}:failedResults",
                            csvio.write(["sf__Id", "sf__Error", *header], bad, delimiter, ending).encode("utf-8"))
        self.store.put_blob(f"job:{job['id']}:unprocessedrecords", csvio.write(header, [], delimiter, ending).encode())
        job.update(state="JobComplete", numberRecordsProcessed=len(parsed), numberRecordsFailed=len(bad))

    def _columns(self, job: dict[str, Any], sobject: SObject, header: builtins.list[str]) -> builtins.list[Column]:
        perms = self.org.perms
        seen: set[str] = set()
        columns = []
        for name in header:
            if name.lower() in seen:
                raise csvio.CsvJobError(f"InvalidBatch : Duplicate field name: {name}")
            seen.add(name.lower())
            if "." in name:
                columns.append(self._relationship_column(sobject, name))
                continue
            found = perms.visible_field(sobject, name)
            if found is None:
                raise csvio.CsvJobError(f"InvalidBatch : Field name not found : {name}")
            columns.append(Column(field=found, is_id=found.type == "id"))
        names = [c.field.name for c in columns if c.field is not None]
        if job["operation"] in ("delete", "hardDelete") and names != ["Id"]:
            raise csvio.CsvJobError(f"InvalidBatch : The '{job['operation']}' batch must contain only the 'Id' field")
        ext = job.get("externalIdFieldName")
        if ext and ext not in names:
            raise csvio.CsvJobError(f"InvalidBatch : The External ID field {ext} is not specified in the CSV")
        return columns

    def _relationship_column(self, sobject: SObject, name: str) -> Column:
        perms = self.org.perms
        qualifier, _, path = name.rpartition(":")
        relationship, _, key_name = path.partition(".")
        ref = sobject.relationship(relationship)
        if ref is None or "." in key_name or not perms.field_access(sobject, ref)[0]:
            raise csvio.CsvJobError(f"InvalidBatch : Field name not found : {name}")
        targets = self.org.schema.targets(ref)
        if qualifier:
            target_name = next((t for t in targets if t.lower() == qualifier.lower()), None)
        else:
            target_name = targets[0] if len(targets) == 1 else None
        target = self.org.schema.get(target_name) if target_name else None
        key = perms.visible_field(target, key_name) if target is not None and perms.can_see(target) else None
        if key is None or not key.indexed:
            raise csvio.CsvJobError(f"InvalidBatch : Field name not found : {name}")
        return Column(ref=ref, target=target, key=key)

    def _row(self, job: dict[str, Any], header: builtins.list[str], columns: builtins.list[Column],
             cells: builtins.list[str]) -> Row:
        row = Row()
        for index, (column, cell) in enumerate(zip(columns, cells, strict=False)):
            target = column.key if column.ref is not None else column.field
            assert target is not None
            try:
                value = from_csv(target, cell)
            except TypeProblem:
                raise _CellProblem(RowError("INVALID_FIELD", f"Failed to deserialize field at col {index}. Due to, "
                                            f"'{cell}' is not a valid value for the type "
                                            f"{_XSD.get(target.type, 'xsd:string')}", [])) from None
            if value is KEEP:
                continue
            if column.ref is not None:
                assert column.target is not None and column.key is not None
                row.refs.append(Ref(column.ref, column.target, column.key, value))
            elif column.is_id:
                if job["operation"] == "upsert" and job.get("externalIdFieldName") != "Id":
                    row.values["Id"] = value
                else:
                    row.record_id = value
            else:
                row.values[target.name] = value
        return row


class _CellProblem(Exception):
    def __init__(self, error: RowError):
        super().__init__(error.message)
        self.error = error
