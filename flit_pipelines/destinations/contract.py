"""The contract between the load loop and a destination: the ``Destination`` protocol, what a write
returns (``SendResult``), one write of a batch (``BatchItem``), a target's load counts
(``LoadSummary``) and the errors that stop a load. ``base`` (the load loop) and ``pre_existing``
(matching records that existed before the migration) both build on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from flit_pipelines.errors import FlitError
from flit_pipelines.spec.model import MigrationSpec, Target

__all__ = ["BatchItem", "DailyLimitError", "Destination", "FatalLoadError", "LoadSummary", "SendResult"]


class FatalLoadError(FlitError, RuntimeError):
    """Stop the whole load (e.g. the daily API budget is spent); progress so far is in the ledger.
    Its message is built only from this project's value-free errors (``FlitError``), so it reaches
    the Dagster event log as written."""

    # what was done before the stop, when the raiser counted it (a rollback's totals, for its report)
    summary: dict[str, Any] | None = None


class DailyLimitError(FlitError, RuntimeError):
    """A destination's daily API allowance would be exceeded (raised by destinations; fatal to a load)."""


@dataclass
class LoadSummary:
    """Counts of one target's load (one wave run). ``failed`` rows carry reasons in the ledger."""

    target: str
    payload_rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    matched: int = 0
    fallback: int = 0
    failed: int = 0
    flagged: int = 0
    held: int = 0  # held for PHI review (or a merged duplicate changed since its merge): not sent
    adopted: int = 0
    matched_existing: int = 0  # pre-existing records (options.match_existing) updated instead of created
    ambiguous_matches: int = 0  # match values several pre-existing records carry: created, not matched
    records_sent: int = 0  # records written (create/update); HTTP requests are in the client stats
    errors: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON reports and asset metadata."""
        return {k: v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class SendResult:
    """One destination write: the destination ID, or an error text (status, path template, vendor message).

    ``existed``: a create that the destination carried out as an update of a record already carrying the
    row's source key (an upsert by that key, e.g. Salesforce's external ID). ``load_target`` records it as
    an adopted update, exactly as if ``find_existing`` had found the record first (see
    ``Destination.creates_are_keyed``)."""
    dest_id: str | None
    error: str | None = None
    existed: bool = False


class Destination(Protocol):
    """A CRM destination (ARCHITECTURE.md "Interfaces"). IDs are strings in the ledger."""

    # Create custom fields/pipelines idempotently; returns the custom-field design document.
    def ensure_schema(self, spec: MigrationSpec) -> dict[str, Any]: ...
    # Resolve what a target's bodies need (field keys, pipeline IDs) without writing.
    def prepare(self, target_name: str, target: Target) -> None: ...
    # One request body from a payload row; raises ValueError naming the field (never the value).
    def build_body(self, target_name: str, target: Target, row: dict[str, Any],
                   resolved_fks: dict[str, Any]) -> dict[str, Any]: ...
    # Source ID -> destination ID of records already carrying our source key.
    def find_existing(self, target_name: str, target: Target) -> Mapping[str, str]: ...
    def create(self, target_name: str, target: Target, body: dict[str, Any], row: dict[str, Any]) -> SendResult: ...
    def update(self, target_name: str, target: Target, dest_id: str, body: dict[str, Any],
               row: dict[str, Any]) -> SendResult: ...
    # Live records for the IDs: columns dest_id, source_key, and the target's money columns.
    def read_back(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> pd.DataFrame: ...
    # Source key -> number of live destination records carrying it.
    def source_key_counts(self, target_name: str, target: Target) -> dict[str, int]: ...
    # Columns dest_id, deleted, error.
    def delete(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> pd.DataFrame: ...
    def fallback_owner_id(self) -> str | None: ...
    # Optional: destinations that write in bulk (Salesforce Bulk API 2.0) define
    # send_batch(target_name, target, items: list[BatchItem]) -> list[SendResult] (same order as items);
    # load_target then hands each chunk's writes over in one call instead of one request per record.
    # Optional: creates_are_keyed(target_name, target) -> bool: True when every create of the target is an
    # upsert by the source key (a record already carrying it is updated, never duplicated, and answered
    # with SendResult.existed). load_target then skips find_existing's read when nothing else needs it.
    # A reason not to send this row (e.g. file over the size limit), or None.
    def flag(self, target_name: str, target: Target, row: dict[str, Any]) -> str | None: ...
    # Live values of every field the target writes, per ID still live (gone IDs absent), shaped like
    # normalise_body(build_body(...)) so the two compare key by key; WRITE_ONLY_FIELDS are left out.
    def read_fields(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...
    # A build_body output brought into read_fields' shape (vendor defaults filled, write-only fields dropped).
    def normalise_body(self, target_name: str, target: Target, body: dict[str, Any]) -> dict[str, Any]: ...
    # Write a read_fields result back, clearing what the migration filled; error "gone" if the record is deleted.
    def restore(self, target_name: str, target: Target, dest_id: str, prior: dict[str, Any]) -> SendResult: ...
    # Normalised options.match_existing value -> ID of the one live record without our source key carrying it.
    def find_matches(self, target_name: str, target: Target, values: Sequence[str]) -> dict[str, str]: ...
    # Normalised value -> IDs, for values that several such records carry (find_matches leaves them out).
    def ambiguous_matches(self, target_name: str, target: Target, values: Sequence[str]) -> dict[str, list[str]]: ...


@dataclass(frozen=True)
class BatchItem:
    """One write of a batch: ``op`` create|update, the payload row, the request body, and the known
    destination ID for updates (None for creates)."""
    op: str
    row: dict[str, Any]
    body: dict[str, Any]
    dest_id: str | None
