"""Writing many records: Bulk API 2.0 ingest jobs, or REST sObject Collections for small sets.

Bulk API 2.0 (notes/salesforce.md §1), one job per chunk, through simple-salesforce's
``bulk2._Bulk2Client``:

1. ``POST /jobs/ingest`` ``{"object", "operation": "upsert", "externalIdFieldName":
   "Source_System_ID__c", "contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA"}``;
2. exactly **one** ``PUT /jobs/ingest/{id}/batches`` with the whole CSV (header = exact field API
   names, RFC-4180 quoting, UTF-8; §1.2); a CSV over ``max_job_bytes`` (default 90 MB, under the
   100 MB advice) is split into several jobs;
3. ``PATCH /jobs/ingest/{id}`` ``{"state": "UploadComplete"}``;
4. ``GET /jobs/ingest/{id}`` until ``JobComplete``/``Failed``/``Aborted`` (interval from
   ``poll_seconds`` growing ×1.5 up to ``poll_max_seconds``; after ``job_timeout_seconds`` the job
   is aborted and its unprocessed rows count as transient);
5. ``GET .../successfulResults``, ``.../failedResults``, ``.../unprocessedrecords`` (lowercase,
   §1.1): rows are matched to the input **by the echoed external-ID column, read by header name**,
   never by position (§1.1: order not guaranteed).

Rows whose error code is transient (``UNABLE_TO_LOCK_ROW`` by default, §7), unprocessed rows and
rows without any result are re-submitted in a new job with exponential backoff (tenacity,
``retry_attempts`` rounds, ``retry_wait_seconds`` base); other failures are final and reported as
``"<errorCode>: <message without values>"``. Upserts are idempotent by external ID, so a replay can
not duplicate (§7 "never fall back to REST" is kept: retries use the same route as the first try).
Rows are sorted by their first relationship column so children of one parent share Salesforce's
internal 10,000-row batches (fewer lock conflicts, §7). A job that ``Failed`` for a reason that
applies to every row (``InvalidBatch``: unknown/not-visible column, §3.3) raises
:class:`BulkJobFailed` (fatal).

sObject Collections (§2.2), for sets of at most ``collections_threshold`` records: ``PATCH
/composite/sobjects/{object}/{externalIdField}`` with ≤ 200 records (``allOrNone: false``), results
in input order, per-record ``statusCode`` errors; transient ones are retried the same way.

Operation ``insert_update`` (``options.operation``; for objects where an external-ID *upsert* is
not possible): creates go to ``insert`` jobs / ``POST /composite/sobjects``, updates to ``update``
jobs / ``PATCH /composite/sobjects`` by ``Id``; rows are still matched by the (plain, echoed)
source ID column; inserts without a result are *not* re-sent (they might have been written). A
``POST /composite/sobjects`` whose answer is lost is resolved exactly once
(``http.retry.send_once``): the records already carrying their source ID are found by SOQL and
adopted, only the others are sent again.

Before every job or Collections request the limit guard checks the daily API and Bulk batch
allowances (:class:`LimitExceeded` stops the load before a floor is crossed).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from simple_salesforce import format_soql
from simple_salesforce.bulk2 import Operation
from simple_salesforce.util import call_salesforce
from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential

from flit_pipelines.http.retry import send_once
from flit_pipelines.destinations.salesforce.bodies import TargetInfo, csv_cell, rest_record, sendable
from flit_pipelines.destinations.salesforce.client import SalesforceClient
from flit_pipelines.destinations.salesforce.errors import (
    BulkJobFailed,
    SalesforceApiError,
    SalesforceTransportError,
    error_text,
    parse_bulk_error,
    scrub,
)

log = logging.getLogger(__name__)

TERMINAL = frozenset({"JobComplete", "Failed", "Aborted"})
DEFAULT_TRANSIENT = frozenset({"UNABLE_TO_LOCK_ROW"})
COLLECTION_MAX = 200  # records per sObject Collections request (notes §2.2)
BULK_BATCH_ROWS = 10_000  # Salesforce's internal batch size; one batch each against the daily allowance (§1.5)
FATAL_JOB_ERRORS = ("InvalidBatch", "InvalidJob", "InvalidVersion", "ClientInputError")


@dataclass
class WriteItem:
    """One record to write: ``key`` = its external ID value (unique within a call), the body, whether
    it is an update of a known record (``record_id``), and the op."""
    key: str
    body: dict[str, Any]
    update: bool
    record_id: str | None = None


@dataclass
class WriteOutcome:
    """``dest_id`` on success (``created`` from ``sf__Created``/``created``), else ``error``."""
    dest_id: str | None = None
    error: str | None = None
    created: bool | None = None
    code: str | None = None


@dataclass
class BulkStats:
    """Counters of the writer (for reports and benchmarks)."""
    jobs: int = 0
    jobs_failed: int = 0
    collections_requests: int = 0
    records_submitted: int = 0
    records_resubmitted: int = 0
    polls: int = 0
    result_reads_skipped: int = 0  # result sets the job's counters showed empty (never requested)
    by_error: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        return dict(self.__dict__, by_error=dict(self.by_error))


class BulkWriter:
    """Bulk API 2.0 / Collections writer for one org (see module docstring).

    Args:
        client: the org's :class:`SalesforceClient` (its limit guard is consulted before sending).
        poll_seconds / poll_max_seconds / job_timeout_seconds: job polling.
        retry_attempts / retry_wait_seconds: re-submission rounds for transient row failures.
        transient_errors: error codes re-submitted (default ``UNABLE_TO_LOCK_ROW``).
        max_job_bytes: CSV size per job.
        sleep: injectable for tests.
    """

    def __init__(self, client: SalesforceClient, *, poll_seconds: float = 1.0, poll_max_seconds: float = 5.0,
                 job_timeout_seconds: float = 3600.0, retry_attempts: int = 3, retry_wait_seconds: float = 2.0,
                 transient_errors: Sequence[str] = tuple(DEFAULT_TRANSIENT), max_job_bytes: int = 90 * 1024 * 1024,
                 sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.poll_seconds = float(poll_seconds)
        self.poll_max_seconds = float(poll_max_seconds)
        self.job_timeout = float(job_timeout_seconds)
        self.retry_attempts = max(0, int(retry_attempts))
        self.retry_wait = float(retry_wait_seconds)
        self.transient = frozenset(transient_errors)
        self.max_job_bytes = int(max_job_bytes)
        self.sleep = sleep
        self.stats = BulkStats()

    # ================================================================== entry point
    def write(self, info: TargetInfo, items: list[WriteItem], *, route: str) -> dict[str, WriteOutcome]:
        """Write ``items`` by ``route`` (``"bulk"`` or ``"collections"``); returns key -> outcome for
        every item. Transient failures are re-submitted (module docstring).

        Raises:
            LimitExceeded: a daily allowance would cross its floor (nothing of the round sent).
            BulkJobFailed: the job (or a Collections request) was refused as a whole.
            SalesforceApiError: a job call was refused (401/403/404...).
        """
        outcomes: dict[str, WriteOutcome] = {}
        pending: list[WriteItem] = list(items)
        rounds = 0

        def one_round() -> list[WriteItem]:
            nonlocal pending, rounds
            batch = pending
            if rounds:
                self.stats.records_resubmitted += len(batch)
            rounds += 1
            try:
                results = self._bulk(info, batch) if route == "bulk" else self._collections(info, batch)
            except SalesforceApiError as exc:
                if rounds == 1:
                    raise
                # a re-submission round cannot be sent (limit floor, refused job): the first round's
                # outcomes still go to the ledger; the pending rows keep their error, not retried
                for item in batch:
                    res = outcomes[item.key]
                    res.error = f"{res.error} (not retried: {exc.error_code})"
                pending = []
                return []
            again: list[WriteItem] = []
            for item in batch:
                res = results.get(item.key) or WriteOutcome(
                    error=error_text("NO_RESULT", "the job returned no result for this record"), code="NO_RESULT")
                if rounds > 1 and res.created is False:
                    res.created = None  # "not created" may mean: by this call's earlier round (not pre-existing)
                outcomes[item.key] = res
            for item in batch:
                res = outcomes[item.key]
                if res.error and self._retryable(res, item, info):
                    again.append(item)
            pending = again
            return again

        Retrying(stop=stop_after_attempt(1 + self.retry_attempts),
                 wait=wait_exponential(multiplier=self.retry_wait, max=60),
                 retry=retry_if_result(bool), sleep=self.sleep,
                 retry_error_callback=lambda _: None)(one_round)  # rounds spent: what is pending is final
        for item in pending:  # still transient after the last round: final
            res = outcomes[item.key]
            res.error = f"{res.error} (after {rounds} attempts)"
        for res in outcomes.values():
            if res.error:
                code = res.code or res.error.split(":", 1)[0]
                self.stats.by_error[code] = self.stats.by_error.get(code, 0) + 1
        return outcomes

    def _retryable(self, res: WriteOutcome, item: WriteItem, info: TargetInfo) -> bool:
        if res.code in self.transient or res.code == "UNPROCESSED":
            return True
        if res.code == "NO_RESULT":  # an upsert/update replay is idempotent; an insert might duplicate
            return info.operation == "upsert" or item.update
        return False

    # ================================================================== Bulk API 2.0
    def _columns(self, info: TargetInfo, items: list[WriteItem], operation: str) -> list[str]:
        cols: dict[str, None] = {info.external_id: None}
        if operation == "update":
            cols = {"Id": None, **cols}
        for item in items:
            for k in sendable(item.body):
                cols.setdefault(k, None)
        return list(cols)

    def _csv_parts(self, columns: list[str], items: list[WriteItem]) -> list[tuple[str, list[WriteItem]]]:
        """CSV texts (header + rows) of at most ``max_job_bytes`` each, with their items."""
        parts: list[tuple[str, list[WriteItem]]] = []
        header = _csv_line(columns)
        buf: list[str] = [header]
        size = len(header.encode())
        part_items: list[WriteItem] = []
        for item in items:
            body = item.body
            cells = [(item.record_id or "") if c == "Id"
                     else (csv_cell(body[c], update=item.update) if c in body else "") for c in columns]
            line = _csv_line(cells)
            n = len(line.encode())
            if part_items and size + n > self.max_job_bytes:
                parts.append(("".join(buf), part_items))
                buf, size, part_items = [header], len(header.encode()), []
            buf.append(line)
            size += n
            part_items.append(item)
        if part_items:
            parts.append(("".join(buf), part_items))
        return parts

    def _bulk(self, info: TargetInfo, items: list[WriteItem]) -> dict[str, WriteOutcome]:
        groups: list[tuple[str, list[WriteItem]]]
        if info.operation == "upsert":
            groups = [("upsert", items)]
        else:
            groups = [("insert", [i for i in items if not i.update]), ("update", [i for i in items if i.update])]
        results: dict[str, WriteOutcome] = {}
        relationship = [lk.column for lk in info.lookups.values() if lk.kind == "relationship"]
        for operation, group in groups:
            if not group:
                continue
            if relationship:  # children of one parent together (fewer UNABLE_TO_LOCK_ROW, notes §7)
                group = sorted(group, key=lambda i: str(i.body.get(relationship[0]) or ""))
            columns = self._columns(info, group, operation)
            for text, part in self._csv_parts(columns, group):
                results.update(self._run_job(info, operation, text, part))
        return results

    def _run_job(self, info: TargetInfo, operation: str, csv_text: str, items: list[WriteItem]
                 ) -> dict[str, WriteOutcome]:
        """One ingest job: create, one upload, close, poll, three result reads (module docstring)."""
        c = self.client
        sobject = info.sobject
        c.limits.require(api_requests=10, bulk_batches=math.ceil(len(items) / BULK_BATCH_ROWS),
                         what=f"a Bulk API 2.0 {operation} job of {len(items)} {sobject} records")
        ext = info.external_id if operation == "upsert" else None
        job_id = ""
        for attempt in (1, 2):
            job = c.bulk_call(sobject, lambda b: b.create_job(Operation(operation), external_id_field=ext), method="POST",
                              path="/jobs/ingest", idempotent=True)
            job_id = str(job["id"])
            self.stats.jobs += 1
            self.stats.records_submitted += len(items)
            try:
                c.bulk_call(sobject, lambda b: b.upload_job_data(job_id, csv_text), method="PUT",  # noqa: B023 (called at once)
                            path="/jobs/ingest/{job}/batches", idempotent=False)
            except SalesforceTransportError:
                # the upload's outcome is unknown and a second PUT is refused (notes §1.1): abort this
                # job (nothing of it is processed before UploadComplete) and start a fresh one once
                self._abort_quietly(sobject, job_id)
                if attempt == 2:
                    raise
                continue
            except Exception:
                self._abort_quietly(sobject, job_id)
                raise
            break
        try:
            c.bulk_call(sobject, lambda b: b.close_job(job_id), method="PATCH", path="/jobs/ingest/{job}")
        except SalesforceApiError:
            # a close whose answer was lost may have been applied: go on if the job left Open
            state = str(c.bulk_call(sobject, lambda b: b.get_job(job_id, False), method="GET",
                                    path="/jobs/ingest/{job}").get("state"))
            if state in ("Open", "Aborted"):
                self._abort_quietly(sobject, job_id)
                raise
        final = self._wait(sobject, job_id)
        state = str(final.get("state"))
        message = str(final.get("errorMessage") or "")
        if state != "JobComplete":
            self.stats.jobs_failed += 1
            if message.strip().startswith(FATAL_JOB_ERRORS) and int(final.get("numberRecordsProcessed") or 0) == 0:
                raise BulkJobFailed(job_id, f"Bulk API 2.0 {operation} job of {sobject} ended {state}: "
                                            f"{scrub(message)} (every row of the job is affected; check the "
                                            "spec's field names and the permission set's field-level security)")
        return self._results(info, job_id, items, state, message, final)

    def _abort_quietly(self, sobject: str, job_id: str) -> None:
        try:
            self.client.bulk_call(sobject, lambda b: b.abort_job(job_id, False), method="PATCH",
                                  path="/jobs/ingest/{job}")
        except Exception:  # noqa: BLE001  best effort; the job expires on its own
            log.info("could not abort Bulk job (it expires after 7 days)")

    def _wait(self, sobject: str, job_id: str) -> dict[str, Any]:
        delay = self.poll_seconds
        deadline = time.monotonic() + self.job_timeout
        while True:
            self.sleep(delay)
            info = self.client.bulk_call(sobject, lambda b: b.get_job(job_id, False), method="GET",
                                         path="/jobs/ingest/{job}")
            self.stats.polls += 1
            if str(info.get("state")) in TERMINAL:
                return info
            if time.monotonic() > deadline:
                log.warning("Bulk job still %s after %.0f s: aborting it", info.get("state"), self.job_timeout)
                self._abort_quietly(sobject, job_id)
                info = self.client.bulk_call(sobject, lambda b: b.get_job(job_id, False), method="GET",
                                             path="/jobs/ingest/{job}")
                return info
            delay = min(delay * 1.5, self.poll_max_seconds)

    def _result_rows(self, sobject: str, job_id: str, kind: str) -> list[dict[str, str]]:
        def fetch(b: Any) -> str:  # like _Bulk2Client.get_ingest_results, but decoded as UTF-8 (CSV has no charset)
            url = b._construct_request_url(job_id, False) + f"/{kind}"
            resp = call_salesforce(url=url, method="GET", session=b.session,
                                   headers=b._get_headers(b.JSON_CONTENT_TYPE, b.CSV_CONTENT_TYPE))
            return resp.content.decode("utf-8", "replace")

        text = self.client.bulk_call(sobject, fetch, method="GET", path=f"/jobs/ingest/{{job}}/{kind}")
        text = (text or "").replace("\x00", "")  # NUL bytes (notes §1.6)
        if not text.strip():
            return []
        return list(csv.DictReader(io.StringIO(text)))

    def _results(self, info: TargetInfo, job_id: str, items: list[WriteItem], state: str, message: str,
                 final: dict[str, Any]) -> dict[str, WriteOutcome]:
        """Outcomes by source key from the job's result sets. Only the sets the finished job's counters
        say are not empty are read (``numberRecordsProcessed`` counts successes and failures,
        ``numberRecordsFailed`` the failures; notes §1.1): a clean job costs one result read, not three."""
        by_key = {i.key: i for i in items}
        ext = info.external_id
        out: dict[str, WriteOutcome] = {}
        processed, failed = _counter(final, "numberRecordsProcessed"), _counter(final, "numberRecordsFailed")
        if state == "JobComplete" and processed is not None and failed is not None:
            wanted = {"successfulResults": processed - failed > 0, "failedResults": failed > 0,
                      "unprocessedrecords": processed < len(items)}
        else:  # counters unknown: read every set
            wanted = {"successfulResults": True, "failedResults": True, "unprocessedrecords": True}
        for read in wanted.values():
            if not read:
                self.stats.result_reads_skipped += 1
        for row in (self._result_rows(info.sobject, job_id, "successfulResults")
                    if wanted["successfulResults"] else []):
            key = row.get(ext)
            if key in by_key:
                out[key] = WriteOutcome(dest_id=row.get("sf__Id") or None,
                                        created=str(row.get("sf__Created", "")).lower() == "true")
        for row in self._result_rows(info.sobject, job_id, "failedResults") if wanted["failedResults"] else []:
            key = row.get(ext)
            if key in by_key:
                values = list(sendable(by_key[key].body).values())
                code, msg = parse_bulk_error(row.get("sf__Error") or "", values)
                out[key] = WriteOutcome(error=error_text(code, msg), code=code)
        for row in (self._result_rows(info.sobject, job_id, "unprocessedrecords")
                    if wanted["unprocessedrecords"] else []):
            key = row.get(ext)
            if key in by_key and key not in out:
                why = f"job ended {state}" + (f": {scrub(message)}" if message else "")
                out[key] = WriteOutcome(error=error_text("UNPROCESSED", why), code="UNPROCESSED")
        return out

    # ================================================================== sObject Collections
    def _collections(self, info: TargetInfo, items: list[WriteItem]) -> dict[str, WriteOutcome]:
        out: dict[str, WriteOutcome] = {}
        c = self.client
        groups: list[tuple[str, list[WriteItem]]]
        if info.operation == "upsert":
            groups = [("upsert", items)]
        else:
            groups = [("insert", [i for i in items if not i.update]), ("update", [i for i in items if i.update])]
        for operation, group in groups:
            for start in range(0, len(group), COLLECTION_MAX):
                part = group[start:start + COLLECTION_MAX]
                c.limits.require(api_requests=1, what=f"an sObject Collections {operation} of {len(part)} "
                                                      f"{info.sobject} records")
                records = [rest_record(i.body, info, update=i.update,
                                       record_id=i.record_id if operation == "update" else None) for i in part]
                payload = {"allOrNone": False, "records": records}
                self.stats.collections_requests += 1
                self.stats.records_submitted += len(part)
                if operation == "upsert":
                    path = f"composite/sobjects/{info.sobject}/{info.external_id}"
                    answer = self._collection_call("PATCH", path, payload, idempotent=True)
                elif operation == "insert":
                    answer = self._insert_once(info, part, records)
                else:
                    answer = self._collection_call("PATCH", "composite/sobjects", payload, idempotent=True)
                results = answer if isinstance(answer, list) else []
                # Collections answer in input order (notes §2.2); a record past a short answer gets no outcome
                # here and NO_RESULT from the caller
                for item, res in zip(part, results, strict=False):
                    if res.get("success"):
                        out[item.key] = WriteOutcome(dest_id=str(res.get("id") or item.record_id or "") or None,
                                                     created=bool(res.get("created", operation == "insert")))
                    else:
                        err = (res.get("errors") or [{}])[0]
                        code = str(err.get("statusCode") or err.get("errorCode") or "UNKNOWN_ERROR")
                        msg = scrub(err.get("message"), list(sendable(item.body).values()))
                        fields = [str(f) for f in err.get("fields") or []]
                        if fields and not any(f in msg for f in fields):
                            msg = f"{msg} [fields: {', '.join(fields)}]"
                        out[item.key] = WriteOutcome(error=error_text(code, msg), code=code)
        return out

    def _insert_once(self, info: TargetInfo, part: list[WriteItem], records: list[dict[str, Any]]) -> list[dict]:
        """``POST /composite/sobjects`` of ``records`` exactly once per record: after a lost answer
        (no answer, 5xx) the records already carrying their source-ID value are looked up (SOQL on
        the external-ID field, 200 values per query) and adopted; only the others are sent again
        (``http.retry.send_once``). Returns one Collections result per record, in order."""
        results: dict[int, dict[str, Any]] = {}
        pending = list(range(len(part)))

        def send() -> bool:
            payload = {"allOrNone": False, "records": [records[i] for i in pending]}
            answer = self._collection_call("POST", "composite/sobjects", payload, idempotent=False)
            # a record past a short answer stays pending: ``find`` looks it up before sending it again
            for i, res in zip(pending, answer if isinstance(answer, list) else [], strict=False):
                results[i] = res
            return True

        def find() -> bool | None:
            keys = [part[i].key for i in pending]
            found: dict[str, str] = {}
            for start in range(0, len(keys), COLLECTION_MAX):
                soql = format_soql("SELECT Id, {:literal} FROM {:literal} WHERE {:literal} IN {}", info.external_id,
                                   info.sobject, info.external_id, keys[start:start + COLLECTION_MAX])
                found.update({str(r.get(info.external_id)): str(r["Id"]) for r in self.client.query(soql)})
            for i in pending:
                if part[i].key in found:
                    results[i] = {"success": True, "id": found[part[i].key], "created": True}
            pending[:] = [i for i in pending if i not in results]
            return True if not pending else None

        c = self.client
        send_once(send, find, policy=c.retry_policy, clock=c.clock, stats=c.stats)
        return [results.get(i, {}) for i in range(len(part))]

    def _collection_call(self, method: str, path: str, payload: dict[str, Any], *, idempotent: bool) -> Any:
        try:
            return self.client.rest(method, path, json=payload, idempotent=idempotent)
        except SalesforceTransportError:
            raise
        except SalesforceApiError as exc:
            if exc.status == 400:
                raise BulkJobFailed("", f"sObject Collections request refused as a whole: {exc.error_code}: "
                                        f"{exc.message}") from None
            raise


def _csv_line(cells: Sequence[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(cells)
    return buf.getvalue()


def _counter(job: dict[str, Any], name: str) -> int | None:
    """A job-info counter as an int, or None when absent or not a number (then every result set is read)."""
    try:
        return int(job[name])
    except (KeyError, TypeError, ValueError):
        return None
