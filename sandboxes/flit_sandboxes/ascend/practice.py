"""Read-only access to the demo Dentrix practice behind the Ascend sandbox.

The practice file (``dentrix_practice.build_practice``) is attached read-only as schema ``admin`` to
an in-memory SQLite connection (``ATTACH DATABASE 'file:...?mode=ro' AS admin``, as the builder's
docstring describes); the sandbox never writes to it. At start-up a few derived tables are built in
the in-memory ``main`` database (``MATERIALISE``), because the practice has no such objects or no
index for them:

* ``main.referral_in``: each patient's first "in" referral (``patients.referralSource``).
* ``main.tplan`` / ``main.tplan_item``: treatment plans (one row per ``plan_id``) and their items
  with the procedure description. Plan ``status``: ``COMPLETED`` when every item is completed,
  ``ACCEPTED`` when any item is accepted or completed, else ``PROPOSED``; ``lastModified`` is the
  newest item's (UNCONFIRMED vocabulary).
* ``main.claim``: the claims derivation (the practice has no claims table; UNCONFIRMED endpoint):

  - one claim per *finished* appointment (status -106 complete / 150 checked out) with a
    non-zero ``amount`` of a patient whose ``primdentalinsuredid`` is set; claim id = appointment id;
  - carrier/plan = that insured row's ``ins_plan_id``; ``memberId`` = ``v_insured.id_num``;
    subscriber = ``ins_party_id``; ``billedAmount`` = ``v_appt.amount`` (the sum of the visit's fees);
  - ``paidAmount``: the practice does not link a payment to a procedure, so each insurance payment
    (``fullproclog`` chartstatus 90, proclogclass 2) is allocated to the same patient's latest claim
    whose service date lies 14-60 days before the payment date (the builder's window for insurance
    payments), and a claim's sum is capped at its billed amount. Deterministic; payments with no
    such claim stay unallocated, so the sum of ``paidAmount`` never exceeds the insurance payments
    and no claim is paid more than billed (an approximation: the ledger stays the money truth);
  - ``paidDate`` = newest allocated payment date; ``status`` ``PAID`` if ``paidAmount > 0`` else
    ``SUBMITTED``; ``lastModified`` = max(appointment modified-at, allocated payments' modified-at).

Paging is SQL ``ORDER BY <id> LIMIT ? OFFSET ?`` with a ``COUNT(*)`` for the total, so a page costs
the same whatever the practice size (ids are SQLite rowid aliases: ordered scans are cheap).
Thread-safe: one connection behind a lock (queries are milliseconds).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from flit_sandboxes import dentrix_practice_codes as C
from flit_sandboxes.ascend.resources import RESOURCES, RenderContext, Resource, render_aging

REQUIRED_TABLES = ("v_patient", "v_provider", "v_operatory", "v_appt", "v_appt_status_codes", "v_guarantor_balance",
                   "v_insurance_plans", "v_insured", "v_patient_insurance", "v_treatment_plan", "proccode",
                   "v_clinical_notes", "fullproclog", "v_referral", "v_referral_specialty", "v_patient_referral",
                   "v_document")
FINISHED = f"({C.STATUS_COMPLETE}, {C.STATUS_CHECKED_OUT})"
PAYMENT_LAG_DAYS = (14, 60)  # insurance payments arrive 14-60 days after the charge (builder)

MATERIALISE = (
    "CREATE TABLE main.referral_in (patient_id INTEGER PRIMARY KEY, referral_id INTEGER NOT NULL)",
    "INSERT INTO main.referral_in SELECT patient_id, referral_id FROM admin.v_patient_referral "
    "WHERE patient_referral_id IN (SELECT MIN(patient_referral_id) FROM admin.v_patient_referral "
    "WHERE direction = 'in' GROUP BY patient_id)",
    "CREATE TABLE main.tplan (plan_id INTEGER PRIMARY KEY, patient_id INTEGER, provider_id INTEGER, plan_date TEXT, "
    "status TEXT, total_fee REAL, modified TEXT)",
    "INSERT INTO main.tplan SELECT plan_id, MIN(patient_id), MIN(provider_id), MIN(plan_date), "
    "CASE WHEN SUM(status = 'completed') = COUNT(*) THEN 'COMPLETED' "
    "WHEN SUM(status IN ('accepted', 'completed')) > 0 THEN 'ACCEPTED' ELSE 'PROPOSED' END, "
    "ROUND(SUM(fee), 2), MAX(modified_time_stamp) FROM admin.v_treatment_plan GROUP BY plan_id",
    "CREATE TABLE main.tplan_item AS SELECT t.*, pc.description AS description FROM admin.v_treatment_plan t "
    "LEFT JOIN admin.proccode pc ON pc.proccodeid = t.proccodeid",
    "CREATE INDEX main.tplan_item_plan ON tplan_item (plan_id, item_order)",
    "CREATE TABLE main.claim_base (claim_id INTEGER PRIMARY KEY, patient_id INTEGER, provider_id INTEGER, "
    "service_date TEXT, billed REAL, plan_id INTEGER, member_id TEXT, subscriber_id INTEGER, appt_modified TEXT)",
    "INSERT INTO main.claim_base SELECT a.appointment_id, a.patient_id, a.provider_id, a.appointment_date, a.amount, "
    "i.ins_plan_id, i.id_num, i.ins_party_id, a.modified_time_stamp FROM admin.v_appt a "
    "JOIN admin.v_patient p ON p.patient_id = a.patient_id "
    "JOIN admin.v_insured i ON i.insured_id = p.primdentalinsuredid "
    f"WHERE a.status_id IN {FINISHED} AND a.amount > 0",
    "CREATE INDEX main.claim_base_patient ON claim_base (patient_id, service_date, claim_id)",
    "CREATE TABLE main.claim_payment AS SELECT f.procid, -f.amt AS amount, f.procdate, "
    "f.automodifiedtimestamp AS modified, (SELECT c.claim_id FROM main.claim_base c WHERE c.patient_id = f.patid "
    f"AND c.service_date <= date(f.procdate, '-{PAYMENT_LAG_DAYS[0]} days') "
    f"AND c.service_date >= date(f.procdate, '-{PAYMENT_LAG_DAYS[1]} days') "
    "ORDER BY c.service_date DESC, c.claim_id DESC LIMIT 1) AS claim_id FROM admin.fullproclog f "
    f"WHERE f.chartstatus = {C.CHART_LEDGER} AND f.proclogclass = {C.CLASS_INSURANCE_PAYMENT}",
    "CREATE INDEX main.claim_payment_claim ON claim_payment (claim_id)",
    "CREATE TABLE main.claim (claim_id INTEGER PRIMARY KEY, patient_id INTEGER, provider_id INTEGER, "
    "service_date TEXT, billed REAL, plan_id INTEGER, member_id TEXT, subscriber_id INTEGER, paid REAL, "
    "paid_date TEXT, modified TEXT)",
    "INSERT INTO main.claim SELECT c.claim_id, c.patient_id, c.provider_id, c.service_date, c.billed, c.plan_id, "
    "c.member_id, c.subscriber_id, ROUND(min(c.billed, COALESCE(SUM(pay.amount), 0)), 2), MAX(pay.procdate), "
    "max(c.appt_modified, COALESCE(MAX(pay.modified), '')) FROM main.claim_base c "
    "LEFT JOIN main.claim_payment pay ON pay.claim_id = c.claim_id GROUP BY c.claim_id",
    "DROP TABLE main.claim_payment",
    "DROP TABLE main.claim_base",
)


class PracticeData:
    """The practice file attached read-only, with the derived tables built.

    Args:
        path: SQLite file written by ``build_practice``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file lacks practice tables (names them).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"practice database not found: {self.path}")
        self._lock = threading.Lock()
        self._conn = sqlite3.connect("file::memory:", uri=True, check_same_thread=False)
        try:
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("ATTACH DATABASE ? AS admin", (self.path.resolve().as_uri() + "?mode=ro",))
            present = {r[0] for r in self._conn.execute("SELECT name FROM admin.sqlite_master WHERE type = 'table'")}
            missing = [t for t in REQUIRED_TABLES if t not in present]
            if missing:
                raise ValueError(f"{self.path.name} is not a demo practice database: missing tables {missing}")
            for stmt in MATERIALISE:
                self._conn.execute(stmt)
            self._conn.commit()
        except BaseException:
            self._conn.close()
            raise

    # ---------------------------------------------------------------- collections
    def page(self, res: Resource, conds: list[str], params: list[Any], page: int, size: int,
             ctx: RenderContext) -> tuple[list[dict[str, Any]], int]:
        """One page of ``res`` (rendered) and the total row count under the same conditions.

        ``conds``/``params`` come from ``filters.to_sql``; ``page`` is 1-based.
        """
        where = [c for c in (res.where, *conds) if c]
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            total = self._conn.execute(f"SELECT COUNT(*) FROM {res.source}{clause}", params).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT {res.columns}, {res.id_sql} AS __id FROM {res.source}{clause} ORDER BY {res.id_sql} "
                "LIMIT ? OFFSET ?", [*params, size, (page - 1) * size]).fetchall()
            items = self._items(res, [r["__id"] for r in rows])
        return self._render(res, rows, items, ctx), total

    def get(self, res: Resource, ident: int, ctx: RenderContext) -> dict[str, Any] | None:
        """One row of ``res`` by id, rendered, or None."""
        where = " AND ".join(c for c in (res.where, f"{res.id_sql} = ?") if c)
        with self._lock:
            rows = self._conn.execute(f"SELECT {res.columns}, {res.id_sql} AS __id FROM {res.source} WHERE {where}",
                                      (ident,)).fetchall()
            items = self._items(res, [r["__id"] for r in rows])
        rendered = self._render(res, rows, items, ctx)
        return rendered[0] if rendered else None

    def _items(self, res: Resource, ids: list[int]) -> dict[int, list[sqlite3.Row]]:
        if res.items_sql is None or not ids:
            return {}
        out: dict[int, list[sqlite3.Row]] = {}
        sql = res.items_sql.format(ids=", ".join("?" * len(ids)))
        for row in self._conn.execute(sql, ids):
            out.setdefault(row["parent_id"], []).append(row)
        return out

    @staticmethod
    def _render(res: Resource, rows: list[sqlite3.Row], items: dict[int, list[sqlite3.Row]],
                ctx: RenderContext) -> list[dict[str, Any]]:
        out = []
        for row in rows:
            obj = res.render(row, ctx)
            if res.render_item is not None:
                obj["items"] = [res.render_item(item, ctx) for item in items.get(row["__id"], [])]
            out.append(obj)
        return out

    # ---------------------------------------------------------------- special reads
    def aging_for_patient(self, patient_id: int, ctx: RenderContext) -> dict[str, Any] | None:
        """The aging of ``patient_id``'s guarantor account (``patient`` = that patient), or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT g.*, p.patient_id AS patient_id FROM admin.v_patient p "
                "JOIN admin.v_guarantor_balance g ON g.guar_id = p.guar_id WHERE p.patient_id = ?",
                (patient_id,)).fetchone()
        return None if row is None else render_aging(row, ctx)

    def document(self, document_id: int) -> dict[str, Any] | None:
        """``{document_id, file_name, file_type, file_size}`` of a document, or None."""
        with self._lock:
            row = self._conn.execute("SELECT document_id, file_name, file_type, file_size FROM admin.v_document "
                                     "WHERE document_id = ?", (document_id,)).fetchone()
        return None if row is None else dict(row)

    def counts(self) -> dict[str, int]:
        """Rows per resource path (for the stats endpoint)."""
        out = {}
        with self._lock:
            for res in RESOURCES:
                clause = f" WHERE {res.where}" if res.where else ""
                out[res.path] = self._conn.execute(f"SELECT COUNT(*) FROM {res.source}{clause}").fetchone()[0]
        return out

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()
