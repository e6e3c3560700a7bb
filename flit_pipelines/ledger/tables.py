"""Ledger tables (SQLAlchemy Core): crosswalk, audit events, prior state, quarantine.

ARCHITECTURE.md "The ledger". One database per deployment; SQLite file by default, PostgreSQL in
production. Only IDs, hashes, statuses and reasons are stored here, except ``prior_state.payload``,
which holds the destination's own copy of a record before we changed it (what rollback restores).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

crosswalk = Table(
    "crosswalk", metadata,
    Column("migration", String(100), nullable=False),
    Column("target", String(100), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("dest_id", String(100), nullable=False),
    Column("payload_hash", String(64)),
    Column("run_id", String(64)),
    Column("wave", String(100)),
    Column("created_by_migration", Integer, nullable=False, default=1),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("migration", "target", "source_id", name="uq_crosswalk_source"),
)
Index("ix_crosswalk_dest", crosswalk.c.migration, crosswalk.c.target, crosswalk.c.dest_id)

audit_event = Table(
    "audit_event", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64)),
    Column("wave", String(100)),
    Column("migration", String(100), nullable=False),
    Column("target", String(100), nullable=False),
    Column("source_id", String(200)),
    Column("dest_id", String(100)),
    # create | update | skip | match | quarantine | fail | delete | restore | hold (PHI review) | merge (dedup)
    Column("operation", String(20), nullable=False),
    Column("status", String(20), nullable=False),  # ok | error
    Column("error", Text),
    Column("at", DateTime(timezone=True), nullable=False),
)
Index("ix_audit_run", audit_event.c.migration, audit_event.c.wave, audit_event.c.target)

prior_state = Table(
    "prior_state", metadata,
    Column("migration", String(100), nullable=False),
    Column("target", String(100), nullable=False),
    Column("dest_id", String(100), nullable=False),
    Column("payload", Text, nullable=False),
    Column("captured_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("migration", "target", "dest_id", name="uq_prior_state"),
)

quarantine = Table(
    "quarantine", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("migration", String(100), nullable=False),
    Column("wave", String(100), nullable=False),
    Column("stage", String(20), nullable=False),  # extract | load
    Column("object", String(100), nullable=False),  # source object (extract) or target (load)
    Column("source_id", String(200)),
    Column("row_number", Integer),
    Column("reason", Text, nullable=False),
    Column("run_id", String(64)),
    Column("at", DateTime(timezone=True), nullable=False),
)
Index("ix_quarantine_scope", quarantine.c.migration, quarantine.c.wave, quarantine.c.stage, quarantine.c.object)

# A person's approval of a record held for PHI review (``flit phi approve``): the next load sends it.
# ``patterns`` are the detector's pattern names when it was held (never the matched text).
phi_approval = Table(
    "phi_approval", metadata,
    Column("migration", String(100), nullable=False),
    Column("target", String(100), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("patterns", String(200)),
    Column("approved_by", String(200), nullable=False),
    Column("approved_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("migration", "target", "source_id", name="uq_phi_approval"),
)

# Deduplication pass: one row per record merged into a survivor (the reconciliation log). Written as
# "pending" before the merge request and "done" (crosswalk re-pointed in the same transaction) or
# "failed" after it, so a crash in between is finished, not forgotten, by the next pass.
dedup_merge = Table(
    "dedup_merge", metadata,
    Column("migration", String(100), nullable=False),
    Column("target", String(100), nullable=False),
    Column("match_key", String(40), nullable=False),  # the kind of key (email), never its value
    Column("survivor_source_id", String(200), nullable=False),
    Column("survivor_dest_id", String(100), nullable=False),
    Column("merged_source_id", String(200), nullable=False),
    Column("merged_dest_id", String(100), nullable=False),
    Column("status", String(20), nullable=False),  # pending | done | failed
    Column("error", Text),
    Column("run_id", String(64)),
    Column("wave", String(100)),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("migration", "target", "merged_source_id", name="uq_dedup_merged"),
)

# Mapping memory (issue 11): what a reviewer changed against a proposed field map, recorded when the
# spec is approved (``flit spec approve``), so later proposals never need the same correction twice.
# Keys are schema words only (header, entity, field names), never source values.
mapping_memory = Table(
    "mapping_memory", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("destination", String(40), nullable=False),
    Column("entity", String(100), nullable=False),  # entity, or the Salesforce object
    Column("header_key", String(200), nullable=False),  # the source header, normalised
    Column("header", String(200), nullable=False),
    Column("proposed", String(200)),  # what the proposal said (field, "custom:<name>" or decision)
    Column("approved", String(200), nullable=False),  # what the approved spec maps it to
    Column("migration", String(100), nullable=False),
    Column("approved_by", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("destination", "entity", "header_key", "migration", name="uq_mapping_memory"),
)
