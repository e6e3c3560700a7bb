"""Everything one Salesforce sandbox app holds: settings, the org (schema, records, permissions), issued
tokens, Bulk jobs, query cursors, limits, faults and counters.

Limits (notes §0, §1.5, §7): ``DailyApiRequests`` is the kernel ``RateLimiter``'s daily budget (key = the
org, 1 unit per ``/services/data/vXX.X/...`` request; no burst limit, so the window is effectively
unlimited); ``DailyBulkApiBatches`` and ``DailyBulkV2QueryJobs`` are ``DailyCounter``s (counted, not
enforced: UNCONFIRMED what Salesforce answers when they run out). All reset at the next UTC midnight
(Salesforce's allowance is a rolling 24 h, UNCONFIRMED simplification). Today's API usage survives a restart
(meta ``api_usage``).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flit_sandboxes.kernel.ratelimit import RateLimiter
from flit_sandboxes.kernel.state import SandboxState
from flit_sandboxes.kernel.tokens import TokenStore
from flit_sandboxes.salesforce import metadata
from flit_sandboxes.salesforce.bulk import IngestJobs
from flit_sandboxes.salesforce.bulk_query import QueryJobs
from flit_sandboxes.salesforce.dml import SETTINGS_META, Org
from flit_sandboxes.salesforce.ids import STANDARD_PREFIXES, IdSequence, custom_prefix, to18
from flit_sandboxes.salesforce.perms import Permissions
from flit_sandboxes.salesforce.query import Source
from flit_sandboxes.salesforce.rules import JobFaults, RowFaults, ValidationRules
from flit_sandboxes.salesforce.schema import Schema
from flit_sandboxes.salesforce.standard_objects import standard_objects
from flit_sandboxes.salesforce.store import SalesforceStore, Tables
from flit_sandboxes.salesforce.tooling_rows import tooling_rows
from flit_sandboxes.salesforce.values import format_datetime

API_USAGE_META = "api_usage"
ORG_ID = to18("00DSb0000000001")
MB = 1024 * 1024


@dataclass(frozen=True)
class SalesforceSettings:
    """Knobs of ``create_app`` (see its docstring)."""

    client_id: str
    client_secret: str
    api_daily_limit: int = 100_000
    bulk_delay_seconds: float = 0.2
    bulk_batches_daily_limit: int = 15_000
    bulk_query_jobs_daily_limit: int = 10_000
    query_page_size: int = 2000
    token_ttl_seconds: float = 7200.0
    enforce_fls: bool = True
    set_audit_fields: bool = False
    min_api_version: float = 31.0
    max_api_version: float = 67.0
    shuffle_bulk_results: bool = True
    bulk_max_upload_bytes: int = 150 * MB * 3 // 4
    json_blob_max_base64_bytes: int = int(37.5 * MB)
    json_body_max_bytes: int = 50 * MB
    multipart_blob_max_bytes: int = 2048 * MB
    org_name: str = "Sandbox Clinic"
    integration_username: str = "integration@sandbox.flit.example"
    data_storage_mb: int = 1024
    file_storage_mb: int = 10240


class DailyCounter:
    """Units used today (UTC) against a maximum; thread-safe."""

    def __init__(self, maximum: int):
        self.maximum = maximum
        self._lock = threading.Lock()
        self._day = ""
        self._used = 0

    def charge(self, units: int = 1) -> None:
        """Count ``units``."""
        with self._lock:
            self._roll()
            self._used += units

    def remaining(self) -> int:
        """What is left today (never below 0)."""
        with self._lock:
            self._roll()
            return max(0, self.maximum - self._used)

    def reset(self) -> None:
        """Forget today's usage."""
        with self._lock:
            self._used = 0

    def _roll(self) -> None:
        today = datetime.now(timezone.utc).date().isoformat()
        if today != self._day:
            self._day, self._used = today, 0


class Cursors:
    """Open query cursors (``nextRecordsUrl``): locator -> remaining rendered rows (15-minute life)."""

    LIFETIME_SECONDS = 900.0

    def __init__(self, ids: IdSequence):
        self.ids = ids
        self._lock = threading.Lock()
        self._open: dict[str, tuple[list[dict[str, Any]], int, float]] = {}

    def open(self, rows: list[dict[str, Any]], size: int) -> str:
        """A new cursor over ``rows`` (the first ``size`` already returned); its locator id."""
        locator = self.ids.new("01g")
        with self._lock:
            now = time.monotonic()
            self._open = {k: v for k, v in self._open.items() if v[2] > now}
            self._open[locator] = (rows, size, now + self.LIFETIME_SECONDS)
        return locator

    def page(self, locator: str, start: int) -> tuple[list[dict[str, Any]], int, int] | None:
        """``(rows, page size, total)`` of a live cursor, or None."""
        with self._lock:
            found = self._open.get(locator)
            if found is None or found[2] < time.monotonic():
                return None
            rows, size, _ = found
            return rows[start:start + size], size, len(rows)


class SalesforceContext(SandboxState):
    """State and services of one app instance, shared by the gateway and the handlers.

    Raises:
        ValueError: empty credentials or non-positive limits.
    """

    def __init__(self, state_path: str | Path, settings: SalesforceSettings, users: list[dict[str, Any]] | None):
        if not settings.client_id or not settings.client_secret:
            raise ValueError("client_id and client_secret must be non-empty strings")
        if settings.api_daily_limit < 1 or settings.query_page_size < 1 or settings.token_ttl_seconds <= 0:
            raise ValueError("api_daily_limit, query_page_size and token_ttl_seconds must be positive")
        self.settings = settings
        self.store = SalesforceStore(state_path)
        self.schema = Schema(standard_objects())
        self.tooling_schema = metadata.tooling_schema()
        self.ids = IdSequence(int(self.store.get_meta(SETTINGS_META) or 0))
        self._replay_metadata()
        self.tables = Tables(self.store)
        self.user_id = self._seed(users or [])
        self.perms = Permissions(self.tables, self.user_id, settings.enforce_fls)
        self.row_faults, self.rules, self.job_faults = RowFaults(), ValidationRules(), JobFaults()
        self.org = Org(self.schema, self.tables, self.perms, self.ids, user_id=self.user_id,
                       set_audit_fields=settings.set_audit_fields, row_faults=self.row_faults, rules=self.rules,
                       clock=lambda: datetime.now(timezone.utc))
        # Salesforce session ids look like "<org id prefix>!<random>" (notes §0)
        self.tokens = TokenStore(settings.token_ttl_seconds,
                                 make_token=lambda: f"{ORG_ID[:15]}!{secrets.token_urlsafe(40)}")
        self.cursors = Cursors(self.ids)
        self.batches = DailyCounter(settings.bulk_batches_daily_limit)
        self.query_jobs_counter = DailyCounter(settings.bulk_query_jobs_daily_limit)
        self.ingest = IngestJobs(self.org, self.store, delay_seconds=settings.bulk_delay_seconds,
                                 shuffle=settings.shuffle_bulk_results, max_upload=settings.bulk_max_upload_bytes,
                                 faults=self.job_faults, charge_batches=self.batches.charge, clock=self.now)
        self.query_jobs = QueryJobs(self.source, self.ids, self.user_id,
                                    delay_seconds=settings.bulk_delay_seconds, charge=self.query_jobs_counter.charge,
                                    clock=self.now)
        limiter = RateLimiter(burst_limit=1_000_000_000, window_seconds=1.0, daily_budget=settings.api_daily_limit)
        limiter.load_usage(self.store.get_meta(API_USAGE_META))
        super().__init__(limiter, api_path)

    @staticmethod
    def now() -> str:
        """Now in the Bulk job info form ``2024-01-03T23:52:01.000+0000``."""
        return format_datetime(datetime.now(timezone.utc))

    # -------------------------------------------------------------- start-up
    def _replay_metadata(self) -> None:
        for kind, object_name, field_name, data in self.store.custom_metadata():
            if kind == "object":
                sobject = metadata.build_object(self.schema, object_name, data["metadata"], data["prefix"])
                sobject.tooling_id = data["tooling_id"]
                sobject.metadata = {**data["metadata"], "_created": data.get("created")}
                self.schema.add_object(sobject)
            else:
                field = metadata.build_field(self.schema, object_name, field_name, data["metadata"], replay=True)
                field.tooling_id = data["tooling_id"]
                self.schema.add_field(object_name, field)

    def next_custom_prefix(self) -> str:
        """The key prefix for the next custom object."""
        return custom_prefix(len(self.schema.custom_objects()))

    def _seed(self, users: list[dict[str, Any]]) -> str:
        """Create (or refresh) the Organization row, the integration user and the given users."""
        now = self.now()
        stamp = {"IsDeleted": False, "CreatedDate": now, "LastModifiedDate": now, "SystemModstamp": now}
        changes: dict[str, tuple[str, dict[str, Any]]] = {}
        existing = {r.get("Username", "").lower(): r for r in self.tables.rows("User")}
        integration = dict(Username=self.settings.integration_username, FirstName="Integration", LastName="User",
                           Email=self.settings.integration_username, IsActive=True)
        user_id = ""
        for position, spec in enumerate([integration, *users]):
            if not isinstance(spec, dict) or not spec.get("Email") or not spec.get("LastName"):
                raise ValueError("each user needs at least Email and LastName")
            username = spec.get("Username") or spec["Email"]
            old = existing.get(username.lower())
            record_id = old["Id"] if old else self.ids.new(STANDARD_PREFIXES["User"])
            first = spec.get("FirstName")
            record = {**(old or stamp), "Id": record_id, "Username": username, "Email": spec["Email"],
                      "FirstName": first, "LastName": spec["LastName"],
                      "Name": " ".join(p for p in (first, spec["LastName"]) if p),
                      "Alias": spec.get("Alias") or ((first or "")[:1] + spec["LastName"])[:8].lower(),
                      "IsActive": bool(spec.get("IsActive", True)), "Title": spec.get("Title"),
                      "TimeZoneSidKey": spec.get("TimeZoneSidKey", "America/New_York"), "UserType": "Standard"}
            changes[record_id] = ("User", record)
            if position == 0:
                user_id = record_id
        for _, record in changes.values():
            record.setdefault("CreatedById", user_id)
            record.setdefault("LastModifiedById", user_id)
        organization = {**stamp, "Id": ORG_ID, "Name": self.settings.org_name, "IsSandbox": True,
                        "OrganizationType": "Enterprise Edition", "InstanceName": "SB1", "CreatedById": user_id,
                        "LastModifiedById": user_id}
        if self.tables.get(ORG_ID) is None:
            changes[ORG_ID] = ("Organization", organization)
        self.tables.apply(changes, {SETTINGS_META: str(self.ids.value)})
        return user_id

    # ---------------------------------------------------------------- queries
    def source(self, version: str, tooling: bool = False) -> Source:
        """Where ``/query`` (or Tooling ``/query``) reads."""
        if tooling:
            return Source(self.tooling_schema, lambda name, _deleted: tooling_rows(self.schema, name), lambda _id: None,
                          lambda name, rid: f"/services/data/v{version}/tooling/sobjects/{name}/{rid}")

        def lookup(record_id: str) -> tuple[str, dict[str, Any]] | None:
            record = self.tables.get(record_id)
            object_name = self.tables.type_of.get(record_id)
            return (object_name, record) if record is not None and object_name is not None else None

        return Source(self.schema, lambda name, _deleted: self.tables.rows(name), lookup,
                      lambda name, rid: f"/services/data/v{version}/sobjects/{name}/{rid}", self.perms)

    # --------------------------------------------------------------- shutdown
    def release(self) -> None:
        """Persist today's API usage and close the state file (once, from ``close``)."""
        try:
            self.store.set_meta(API_USAGE_META, self.limiter.dump_usage())
        finally:
            self.store.close()


def api_path(path: str) -> str:
    """The path below ``/services/data/vXX.X`` (fault rules match it, so ``/jobs/ingest`` or
    ``/services/data/v60.0/jobs/ingest`` both work); other paths unchanged."""
    if path.startswith("/services/data/v"):
        rest = path[len("/services/data/"):]
        _, slash, tail = rest.partition("/")
        return "/" + tail if slash else "/"
    return path
