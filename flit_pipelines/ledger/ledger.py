"""The ledger: crosswalk for FK resolution and idempotent re-runs, audit log, prior state, quarantine."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Engine, and_, create_engine, delete, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateSchema

from flit_pipelines.ledger.tables import audit_event, crosswalk, metadata, prior_state, quarantine
from flit_pipelines.ledger.tables import dedup_merge, phi_approval


def _now() -> datetime:
    return datetime.now(UTC)


def _audit_rows(outcomes: list, *, migration: str, target: str, run_id: str | None, wave: str,
                at: datetime) -> list[dict]:
    """``audit_event`` rows of ``outcomes`` (status error when the outcome carries one)."""
    return [{"run_id": run_id, "wave": wave, "migration": migration, "target": target, "source_id": o.source_id,
             "dest_id": o.dest_id, "operation": o.operation, "status": "error" if o.error else "ok",
             "error": o.error, "at": at} for o in outcomes]


@dataclass
class _Pending:
    """One ``record_many`` call's rows, waiting for a group commit (``done`` once committed or failed)."""

    crosswalk: list[dict]
    audit: list[dict]
    done: bool = False
    error: BaseException | None = None


@dataclass(frozen=True)
class RecordOutcome:
    """One destination response, as the ledger records it."""

    source_id: str | None  # None only in a rollback: restoring a prior state that has no crosswalk row
    operation: str  # create | update | skip | match | fallback | fail | flag | delete | restore
    dest_id: str | None = None
    payload_hash: str | None = None
    error: str | None = None
    created_by_migration: bool = True


class Ledger:
    """SQLAlchemy-backed ledger. Thread-safe: writes are serialised by a lock, each in its own transaction.

    ``record`` / ``record_many`` return only once the outcome is committed (a crash after a write never
    loses its crosswalk row), but the load's concurrent writers share commits: outcomes that arrive while
    a transaction is committing go into the next one together (group commit), so a load's rate is not
    capped at one record per commit (~20 ms with SQLite's fsync on a busy disk).

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:////abs/path/ledger.db`` or ``postgresql+psycopg2://...``.
        schema: PostgreSQL only: the schema holding this ledger's tables (created if missing), so tenants
            of one server keep separate ledgers (``tenants.paths.ledger_schema``). None: the default schema.
            Raises ValueError for a schema on a database without schemas (SQLite).
    """

    def __init__(self, url: str, schema: str | None = None):
        self.url = url
        self.schema = schema
        # SQLite: SQLAlchemy's default pool keeps connections open (a connection per transaction cost
        # ~3 ms CPU per record: open, WAL pragma, close)
        kwargs: dict = {} if url.startswith("sqlite") else {"pool_pre_ping": True}
        if schema is not None:
            if not url.startswith("postgresql"):
                raise ValueError("a ledger schema needs a PostgreSQL ledger URL")
            # every statement (DDL too) names the tenant's schema instead of the default one
            kwargs["execution_options"] = {"schema_translate_map": {None: schema}}
        self.engine: Engine = create_engine(url, **kwargs)
        if schema is not None:
            with self.engine.begin() as conn:
                conn.execute(CreateSchema(schema, if_not_exists=True))
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _pragmas(conn, _record):  # WAL: readers (checks, reports) don't block the loader
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []  # outcomes waiting for the next group commit
        self._waiting_lock = threading.Lock()
        metadata.create_all(self.engine)

    # -- crosswalk -----------------------------------------------------------------------------
    def _upsert_crosswalk(self):
        dialect = self.engine.dialect.name
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(crosswalk)
        return ins.on_conflict_do_update(
            index_elements=["migration", "target", "source_id"],
            set_={c: ins.excluded[c] for c in ("dest_id", "payload_hash", "run_id", "wave", "updated_at")},
        )

    def crosswalk_frame(self, migration: str, target: str) -> pd.DataFrame:
        """Columns source_id, dest_id, payload_hash, created_by_migration for one target."""
        q = select(crosswalk.c.source_id, crosswalk.c.dest_id, crosswalk.c.payload_hash,
                   crosswalk.c.created_by_migration).where(
            and_(crosswalk.c.migration == migration, crosswalk.c.target == target))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return pd.DataFrame(rows, columns=["source_id", "dest_id", "payload_hash", "created_by_migration"]).astype(
            {"source_id": "string", "dest_id": "string", "payload_hash": "string"})

    def record(self, *, migration: str, target: str, run_id: str, wave: str, outcome: RecordOutcome) -> None:
        """Write the crosswalk row (on success) and the audit event in one transaction."""
        self.record_many(migration=migration, target=target, run_id=run_id, wave=wave, outcomes=[outcome])

    def record_many(self, *, migration: str, target: str, run_id: str, wave: str,
                    outcomes: Iterable[RecordOutcome]) -> None:
        """Crosswalk upserts (successful writes and matches) and one audit event per outcome, in one transaction."""
        outcomes = list(outcomes)
        if not outcomes:
            return
        now = _now()
        xw = [
            {"migration": migration, "target": target, "source_id": o.source_id, "dest_id": o.dest_id,
             "payload_hash": o.payload_hash, "run_id": run_id, "wave": wave,
             "created_by_migration": int(o.created_by_migration), "updated_at": now}
            for o in outcomes if o.dest_id is not None and o.operation in ("create", "update", "match", "fallback")
        ]
        audit = _audit_rows(outcomes, migration=migration, target=target, run_id=run_id, wave=wave, at=now)
        self._commit_grouped(_Pending(xw, audit))

    def _commit_grouped(self, mine: _Pending) -> None:
        """Commit ``mine`` together with whatever other threads queued meanwhile; return once it is committed.

        The thread that gets the write lock commits every queued entry in one transaction; a thread whose
        entry a previous holder already committed returns at once. Raises what the transaction raised (for
        every entry it held)."""
        with self._waiting_lock:
            self._waiting.append(mine)
        with self._lock:
            if not mine.done:
                with self._waiting_lock:
                    batch, self._waiting = self._waiting, []
                try:
                    with self.engine.begin() as conn:
                        if xw := [row for p in batch for row in p.crosswalk]:
                            conn.execute(self._upsert_crosswalk(), xw)
                        conn.execute(audit_event.insert(), [row for p in batch for row in p.audit])
                except BaseException as exc:
                    for p in batch:
                        p.error = exc
                    raise
                finally:
                    for p in batch:
                        p.done = True
        if mine.error is not None:
            raise mine.error

    def forget(self, migration: str, target: str, source_ids: Iterable[str]) -> None:
        """Drop crosswalk rows (after a rollback deleted the destination records)."""
        ids = list(source_ids)
        with self._lock, self.engine.begin() as conn:
            for i in range(0, len(ids), 500):
                conn.execute(delete(crosswalk).where(and_(
                    crosswalk.c.migration == migration, crosswalk.c.target == target,
                    crosswalk.c.source_id.in_(ids[i:i + 500]))))

    # -- prior state ---------------------------------------------------------------------------
    def save_prior_state(self, migration: str, target: str, dest_id: str, payload: dict) -> None:
        """Keep the first captured state of a pre-existing record (later captures don't overwrite it)."""
        ins = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(prior_state)
        stmt = ins.on_conflict_do_nothing(index_elements=["migration", "target", "dest_id"])
        with self._lock, self.engine.begin() as conn:
            conn.execute(stmt, {"migration": migration, "target": target, "dest_id": dest_id,
                                "payload": json.dumps(payload, sort_keys=True), "captured_at": _now()})

    def save_prior_states(self, migration: str, target: str, states: dict[str, dict]) -> None:
        """``save_prior_state`` for many records (dest_id -> payload) in one transaction; first capture kept."""
        if not states:
            return
        ins = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(prior_state)
        stmt = ins.on_conflict_do_nothing(index_elements=["migration", "target", "dest_id"])
        now = _now()
        rows = [{"migration": migration, "target": target, "dest_id": str(d),
                 "payload": json.dumps(p, sort_keys=True, default=str), "captured_at": now} for d, p in states.items()]
        with self._lock, self.engine.begin() as conn:
            conn.execute(stmt, rows)

    def prior_states(self, migration: str, target: str) -> pd.DataFrame:
        """Columns dest_id, payload (JSON text) of records captured before the migration changed them."""
        q = select(prior_state.c.dest_id, prior_state.c.payload).where(
            and_(prior_state.c.migration == migration, prior_state.c.target == target))
        with self.engine.connect() as conn:
            return pd.DataFrame(conn.execute(q).all(), columns=["dest_id", "payload"])

    def prior_state_ids(self, migration: str, target: str) -> set[str]:
        """Destination IDs of one target whose prior state is captured (without reading the payloads)."""
        q = select(prior_state.c.dest_id).where(
            and_(prior_state.c.migration == migration, prior_state.c.target == target))
        with self.engine.connect() as conn:
            return {str(d) for (d,) in conn.execute(q)}

    def forget_prior_state(self, migration: str, target: str, dest_ids: Iterable[str]) -> None:
        """Drop prior-state rows (after a rollback restored those records)."""
        self.record_rollback(migration=migration, target=target, run_id=None, outcomes=[],
                             forget_prior_dest_ids=dest_ids)

    def record_rollback(self, *, migration: str, target: str, run_id: str | None, outcomes: Iterable[RecordOutcome],
                        forget_source_ids: Iterable[str | None] = (), forget_prior_dest_ids: Iterable[str] = (),
                        wave: str = "rollback") -> None:
        """One rollback chunk in one transaction: audit events (operation delete|restore, error -> status
        error), crosswalk rows dropped by source ID, prior-state rows dropped by destination ID.

        Writing them together keeps the ledger the truth for a resumed rollback: a record is either still
        listed (and is retried; an already-deleted record then reports "gone", which counts as done) or
        gone from the ledger together with its audit event.
        """
        outcomes = list(outcomes)
        sids = [s for s in forget_source_ids if s is not None]
        dids = [str(d) for d in forget_prior_dest_ids]
        now = _now()
        audit = _audit_rows(outcomes, migration=migration, target=target, run_id=run_id, wave=wave, at=now)
        with self._lock, self.engine.begin() as conn:
            for i in range(0, len(sids), 500):
                conn.execute(delete(crosswalk).where(and_(
                    crosswalk.c.migration == migration, crosswalk.c.target == target,
                    crosswalk.c.source_id.in_(sids[i:i + 500]))))
            for i in range(0, len(dids), 500):
                conn.execute(delete(prior_state).where(and_(
                    prior_state.c.migration == migration, prior_state.c.target == target,
                    prior_state.c.dest_id.in_(dids[i:i + 500]))))
            if audit:
                conn.execute(audit_event.insert(), audit)

    # -- quarantine ----------------------------------------------------------------------------
    def replace_quarantine(self, *, migration: str, wave: str, stage: str, obj: str, run_id: str,
                           rows: pd.DataFrame) -> None:
        """Replace the quarantine rows of one (migration, wave, stage, object): re-runs stay idempotent.

        ``rows`` has columns source_id, row_number (may be null), reason.
        """
        now = _now()
        records = [
            {"migration": migration, "wave": wave, "stage": stage, "object": obj,
             "source_id": None if pd.isna(r.source_id) or r.source_id == "" else str(r.source_id),
             "row_number": None if pd.isna(r.row_number) else int(r.row_number),
             "reason": str(r.reason), "run_id": run_id, "at": now}
            for r in rows.itertuples(index=False)
        ]
        with self._lock, self.engine.begin() as conn:
            conn.execute(delete(quarantine).where(and_(
                quarantine.c.migration == migration, quarantine.c.wave == wave,
                quarantine.c.stage == stage, quarantine.c.object == obj)))
            if records:
                conn.execute(quarantine.insert(), records)

    def quarantine_frame(self, migration: str, wave: str | None = None, stage: str | None = None,
                         obj: str | None = None) -> pd.DataFrame:
        """Columns wave, stage, object, source_id, row_number, reason; filters optional."""
        conds = [quarantine.c.migration == migration]
        if wave is not None:
            conds.append(quarantine.c.wave == wave)
        if stage is not None:
            conds.append(quarantine.c.stage == stage)
        if obj is not None:
            conds.append(quarantine.c.object == obj)
        q = select(quarantine.c.wave, quarantine.c.stage, quarantine.c.object, quarantine.c.source_id,
                   quarantine.c.row_number, quarantine.c.reason).where(and_(*conds))
        with self.engine.connect() as conn:
            return pd.DataFrame(conn.execute(q).all(),
                                columns=["wave", "stage", "object", "source_id", "row_number", "reason"])

    # -- audit ---------------------------------------------------------------------------------
    def audit_frame(self, migration: str, *, target: str | None = None, run_id: str | None = None,
                    wave: str | None = None, operations: Iterable[str] | None = None,
                    status: str | None = None) -> pd.DataFrame:
        """The audit log (one row per record event) in event order; filters optional."""
        conds = [audit_event.c.migration == migration]
        if operations is not None:
            conds.append(audit_event.c.operation.in_(list(operations)))
        if status is not None:
            conds.append(audit_event.c.status == status)
        if target is not None:
            conds.append(audit_event.c.target == target)
        if run_id is not None:
            conds.append(audit_event.c.run_id == run_id)
        if wave is not None:
            conds.append(audit_event.c.wave == wave)
        cols = [audit_event.c.id, audit_event.c.run_id, audit_event.c.wave, audit_event.c.target,
                audit_event.c.source_id, audit_event.c.dest_id, audit_event.c.operation, audit_event.c.status,
                audit_event.c.error, audit_event.c.at]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*cols).where(and_(*conds)).order_by(audit_event.c.id)).all()
        return pd.DataFrame(rows, columns=[c.name for c in cols])

    def operation_counts(self, migration: str, target: str, run_id: str) -> dict[str, int]:
        """Operation -> count for one run of one target; error events count as "failed"."""
        q = (select(audit_event.c.operation, audit_event.c.status, func.count())
             .where(and_(audit_event.c.migration == migration, audit_event.c.target == target,
                         audit_event.c.run_id == run_id))
             .group_by(audit_event.c.operation, audit_event.c.status))
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for op, status, n in conn.execute(q):
                key = "failed" if status == "error" else op
                out[key] = out.get(key, 0) + int(n)
        return out

    # -- PHI review approvals ------------------------------------------------------------------
    def approve_phi(self, migration: str, target: str, held: dict[str, str], approved_by: str) -> int:
        """Record a person's approval of held records (source ID -> pattern names); the next load sends
        them. Already-approved IDs keep their first approval. Returns how many approvals are new."""
        if not held:
            return 0
        ins = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(phi_approval)
        stmt = ins.on_conflict_do_nothing(index_elements=["migration", "target", "source_id"])
        before = len(self.phi_approvals(migration, target))
        now = _now()
        rows = [{"migration": migration, "target": target, "source_id": str(s), "patterns": p,
                 "approved_by": approved_by, "approved_at": now} for s, p in held.items()]
        with self._lock, self.engine.begin() as conn:
            conn.execute(stmt, rows)
        return len(self.phi_approvals(migration, target)) - before

    def phi_approvals(self, migration: str, target: str | None = None) -> pd.DataFrame:
        """Columns target, source_id, patterns, approved_by, approved_at (one migration, target optional)."""
        conds = [phi_approval.c.migration == migration]
        if target is not None:
            conds.append(phi_approval.c.target == target)
        cols = [phi_approval.c.target, phi_approval.c.source_id, phi_approval.c.patterns,
                phi_approval.c.approved_by, phi_approval.c.approved_at]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*cols).where(and_(*conds)).order_by(phi_approval.c.approved_at)).all()
        return pd.DataFrame(rows, columns=[c.name for c in cols])

    # -- deduplication merges ------------------------------------------------------------------
    def begin_merges(self, migration: str, target: str, rows: Iterable[dict], *, run_id: str, wave: str) -> None:
        """Record intended merges as ``pending`` (before any merge request). ``rows`` carry match_key,
        survivor_source_id, survivor_dest_id, merged_source_id, merged_dest_id."""
        rows = [{"migration": migration, "target": target, "status": "pending", "error": None, "run_id": run_id,
                 "wave": wave, "at": _now(), **r} for r in rows]
        if not rows:
            return
        ins = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(dedup_merge)
        stmt = ins.on_conflict_do_update(
            index_elements=["migration", "target", "merged_source_id"],
            set_={c: ins.excluded[c] for c in ("match_key", "survivor_source_id", "survivor_dest_id",
                                                "merged_dest_id", "status", "error", "run_id", "wave", "at")})
        with self._lock, self.engine.begin() as conn:
            conn.execute(stmt, rows)

    def finish_merge(self, migration: str, target: str, merged_source_id: str, *, run_id: str, wave: str,
                     error: str | None = None) -> None:
        """Close a pending merge in one transaction: ``done`` re-points the merged source ID's crosswalk
        row at the survivor (its payload hash kept) and writes audit event ``merge``; with ``error`` the
        merge is ``failed`` and the audit event carries the error."""
        key = and_(dedup_merge.c.migration == migration, dedup_merge.c.target == target,
                   dedup_merge.c.merged_source_id == merged_source_id)
        now = _now()
        with self._lock, self.engine.begin() as conn:
            survivor = conn.execute(select(dedup_merge.c.survivor_dest_id).where(key)).scalar_one()
            conn.execute(dedup_merge.update().where(key).values(
                status="failed" if error else "done", error=error, run_id=run_id, wave=wave, at=now))
            if not error:
                conn.execute(crosswalk.update().where(and_(
                    crosswalk.c.migration == migration, crosswalk.c.target == target,
                    crosswalk.c.source_id == merged_source_id)).values(dest_id=survivor, run_id=run_id, wave=wave,
                                                                      updated_at=now))
            conn.execute(audit_event.insert(), [{
                "run_id": run_id, "wave": wave, "migration": migration, "target": target,
                "source_id": merged_source_id, "dest_id": survivor, "operation": "merge",
                "status": "error" if error else "ok", "error": error, "at": now}])

    def merges_frame(self, migration: str, target: str | None = None) -> pd.DataFrame:
        """The merge log: columns target, match_key, survivor_source_id, survivor_dest_id,
        merged_source_id, merged_dest_id, status, error, run_id, wave, at (in time order)."""
        conds = [dedup_merge.c.migration == migration]
        if target is not None:
            conds.append(dedup_merge.c.target == target)
        cols = [dedup_merge.c.target, dedup_merge.c.match_key, dedup_merge.c.survivor_source_id,
                dedup_merge.c.survivor_dest_id, dedup_merge.c.merged_source_id, dedup_merge.c.merged_dest_id,
                dedup_merge.c.status, dedup_merge.c.error, dedup_merge.c.run_id, dedup_merge.c.wave, dedup_merge.c.at]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*cols).where(and_(*conds)).order_by(dedup_merge.c.at)).all()
        return pd.DataFrame(rows, columns=[c.name for c in cols])
