"""Source rows deleted (or no longer selected) during the delta window, reflected as the spec says.

The delta extract writes the primary keys that left the source to
``<reports>/<migration>/<wave>/deletions/<object>.csv`` (IDs only); rows still in the source that a
target's ``where`` no longer selects (``left_target``: a cancelled appointment leaving the calendar
target) count as gone for that target. For each target built from that object,
``Target.on_source_delete`` decides:

* ``update``: the record's last payload row (from the previous snapshot's payload) with ``set``
  fields overridden and ``append`` text added is loaded with the wave's payload, so it goes through
  the same lookups, body hash and ledger as any update (``deletion_rows``);
* ``delete``: the record is deleted in the destination and its crosswalk row dropped
  (``delete_records``);
* nothing declared: the record is left as it is and the audit log gets a ``source_deleted`` event
  saying so, so the report lists it (never silently ignored).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from flit_pipelines.ledger import Ledger, RecordOutcome
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.transform.payload import CF_PREFIX

UNDECLARED = "deleted in the source; no on_source_delete in the spec: left unchanged in the destination"


def deletions_path(reports_dir: Path, obj: str) -> Path:
    """``<reports_dir>/deletions/<obj>.csv`` (one column ``source_id``; machine-read by
    ``read_deletions``, so written plain, not through ``reports.staff_csv``)."""
    return reports_dir / "deletions" / f"{obj}.csv"


def write_deletions(reports_dir: Path, obj: str, ids: pd.Index) -> Path:
    """Record the keys of ``obj`` deleted in the source in this wave (an empty file when none)."""
    path = deletions_path(reports_dir, obj)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"source_id": pd.Series(ids, dtype="string")}).to_csv(path, index=False)
    return path


def read_deletions(reports_dir: Path, obj: str) -> pd.Index:
    """The keys written by ``write_deletions`` (empty when the extract wrote none)."""
    path = deletions_path(reports_dir, obj)
    if not path.exists():
        return pd.Index([], dtype="string")
    return pd.Index(pd.read_csv(path, dtype="string")["source_id"].dropna(), dtype="string")


def left_target(spec: MigrationSpec, target: str, payload: pd.DataFrame, snapshot_path) -> pd.Index:
    """Keys still in the source snapshot but no longer in the target's payload (its ``where`` no
    longer selects them, e.g. an appointment cancelled out of the calendar target): for the target,
    as good as deleted."""
    pk = spec.objects[spec.targets[target].from_].primary_key
    if pk is None:
        return pd.Index([], dtype="string")
    ids = pd.read_parquet(snapshot_path, columns=[pk])[pk].astype("string")
    return pd.Index(ids[~ids.isin(payload["source_id"].astype("string"))].dropna(), dtype="string")


def loaded_deletions(spec: MigrationSpec, target: str, deleted: pd.Index, ledger: Ledger) -> pd.DataFrame:
    """Crosswalk rows (source_id, dest_id, ...) of ``target`` whose source rows were deleted. Source
    IDs merged into another record by the dedup pass are left out: their row points at the survivor,
    which stands for another source record too."""
    xw = ledger.crosswalk_frame(spec.migration, target)
    merges = ledger.merges_frame(spec.migration, target)
    merged = merges.loc[merges["status"] == "done", "merged_source_id"].astype("string")
    return xw[xw["source_id"].isin(deleted) & ~xw["source_id"].isin(merged)].reset_index(drop=True)


def deletion_rows(spec: MigrationSpec, target: str, loaded: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Payload rows to load for ``update`` actions: the previous payload rows of ``loaded`` source IDs,
    with the action's ``set`` and ``append`` applied (spec field names; custom fields by name).
    Empty when the target's action is not ``update``."""
    action = spec.targets[target].on_source_delete
    if action is None or action.action != "update" or loaded.empty:
        return previous.iloc[0:0]
    rows = previous[previous["source_id"].astype("string").isin(loaded["source_id"])].copy()

    def column(name: str) -> str:
        if name in rows.columns:
            return name
        if CF_PREFIX + name in rows.columns:
            return CF_PREFIX + name
        raise KeyError(f"target {target}: on_source_delete names {name!r}, not a payload field")

    for name, value in action.set.items():
        rows[column(name)] = value
    for name, text in action.append.items():
        col = column(name)
        current = rows[col].astype("string")
        rows[col] = current.where(current.isna() | (current == ""), current + ",").fillna("") + text
    return rows


def record_undeclared(spec: MigrationSpec, target: str, loaded: pd.DataFrame, ledger: Ledger, *,
                      run_id: str, wave: str) -> int:
    """Audit a ``source_deleted`` event for each record left in place (no action declared)."""
    outcomes = [RecordOutcome(str(s), "source_deleted", dest_id=str(d), error=UNDECLARED)
                for s, d in zip(loaded["source_id"], loaded["dest_id"], strict=True)]
    ledger.record_many(migration=spec.migration, target=target, run_id=run_id, wave=wave, outcomes=outcomes)
    return len(outcomes)


def delete_records(spec: MigrationSpec, target: str, loaded: pd.DataFrame, ledger: Ledger, destination, *,
                   run_id: str, wave: str) -> dict[str, int]:
    """Delete the records of ``loaded`` (``delete`` action): destination delete, crosswalk rows
    dropped for records now gone, a ``delete`` audit event each. Returns {"deleted", "failed"}."""
    t = spec.targets[target]
    result = destination.delete(target, t, list(loaded["dest_id"]))
    errors = dict(zip(result["dest_id"].astype(str), result["error"], strict=True))
    outcomes, gone = [], []
    for sid, did in zip(loaded["source_id"], loaded["dest_id"], strict=True):
        err = errors.get(str(did))
        ok = err is None or pd.isna(err) or str(err) == "gone"
        outcomes.append(RecordOutcome(str(sid), "delete", dest_id=str(did), error=None if ok else str(err)))
        if ok:
            gone.append(str(sid))
    ledger.record_many(migration=spec.migration, target=target, run_id=run_id, wave=wave, outcomes=outcomes)
    ledger.forget(spec.migration, target, gone)
    return {"deleted": len(gone), "failed": len(outcomes) - len(gone)}
