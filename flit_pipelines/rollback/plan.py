"""What a rollback would change, read from the ledger alone (ARCHITECTURE.md "The ledger").

A record the migration created (crosswalk ``created_by_migration``) is deleted; a record that existed
before the migration and was changed by it (a ``prior_state`` row) is restored; destination users are
matched, never created or changed, so they are kept. Targets come in reverse foreign-key order
(children before parents), so no delete leaves a dangling reference and no parent is refused because
children still point at it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from flit_pipelines.ledger import Ledger
from flit_pipelines.spec import load_order
from flit_pipelines.spec.model import MigrationSpec

SCOPES = ("all", "wave", "run")
PLAN_COLUMNS = ["target", "source_id", "dest_id", "action", "reason"]
ACTIONS = ("delete", "restore", "keep")
# Ledger events that put a record in the crosswalk (what decides a record's wave/run); ``merge``
# re-points a merged duplicate's row at its survivor (deduplication pass).
WRITE_OPERATIONS = ("create", "update", "match", "fallback", "merge")

R_DELETE = "created by the migration"
R_RESTORE = "existed before the migration; restored from its prior state"
R_RESTORE_ADOPTED = "existed before the migration (prior state captured); restored, not deleted"
R_ORPHAN = "prior state captured but no crosswalk row (update failed or its ledger write was lost); restored"
R_KEEP = "existed before the migration and was never changed by it"
R_USER = "destination user: matched, never created or changed"


def _check_scope(scope: str, wave: str | None, run_id: str | None) -> None:
    if scope not in SCOPES:
        raise ValueError(f"rollback scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if scope == "wave" and not wave:
        raise ValueError("rollback scope 'wave' needs a wave (sample, full, delta-...)")
    if scope == "run" and not run_id:
        raise ValueError("rollback scope 'run' needs a run ID")


def plan_rollback(spec: MigrationSpec, ledger: Ledger, *, scope: str = "all", wave: str | None = None,
                  run_id: str | None = None) -> pd.DataFrame:
    """The rollback plan of one migration: one row per ledger record in scope.

    Columns ``target, source_id, dest_id, action, reason`` (strings; ``source_id`` is NA for a prior
    state without a crosswalk row); ``action`` is ``delete`` | ``restore`` | ``keep``. Rows come target by
    target in reverse ``load_order``; within a target deletes, then restores, then keeps.

    Scope: ``all`` is every record in the ledger; ``wave`` / ``run`` narrow it to the records whose first
    successful write (their ``create`` event, or the adoption of a record a crashed run created) is in
    that wave / run, and to the pre-existing records that an ``update`` of that wave / run changed.
    A restore always brings back the state from before the migration's first change, also undoing
    what earlier waves wrote to that record. Prior states without a crosswalk row are in scope ``all``
    only (no event tells their wave). Changes a wave made to records an earlier wave created are not
    undone (only pre-existing records have a prior state); rolling back the earlier wave deletes them.

    Raises:
        ValueError: unknown scope, or scope ``wave``/``run`` without its wave/run ID.
    """
    _check_scope(scope, wave, run_id)
    events = None
    if scope != "all":
        events = ledger.audit_frame(spec.migration, operations=WRITE_OPERATIONS, status="ok")
        events = events.astype({"target": str, "source_id": str, "dest_id": str})
        events["in_scope"] = (events["wave"] == wave) if scope == "wave" else (events["run_id"] == run_id)
    frames = [_plan_target(spec, name, ledger, events) for name in reversed(load_order(spec))]
    plan = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else None
    if plan is None:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in PLAN_COLUMNS})
    return plan[PLAN_COLUMNS].astype("string")


def _plan_target(spec: MigrationSpec, target: str, ledger: Ledger, events: pd.DataFrame | None) -> pd.DataFrame:
    """Plan rows of one target (see ``plan_rollback``); vectorised over its crosswalk."""
    m = spec.migration
    xw = ledger.crosswalk_frame(m, target)[["source_id", "dest_id", "created_by_migration"]]
    xw = xw.astype({"source_id": str, "dest_id": str})
    created = xw["created_by_migration"].astype(bool).to_numpy()
    if spec.targets[target].entity == "user":
        prior: set[str] = set()
        action = np.full(len(xw), "keep", dtype=object)
        reason = np.full(len(xw), R_USER, dtype=object)
    else:
        prior = ledger.prior_state_ids(m, target)
        has_prior = xw["dest_id"].isin(prior).to_numpy()
        action = np.select([has_prior, created], ["restore", "delete"], "keep")
        reason = np.select([has_prior & created, has_prior, created], [R_RESTORE_ADOPTED, R_RESTORE, R_DELETE], R_KEEP)
    rows = pd.DataFrame({"target": target, "source_id": xw["source_id"], "dest_id": xw["dest_id"],
                         "action": action, "reason": reason})
    orphans = sorted(prior - set(xw["dest_id"]))
    if events is not None:
        ev = events[events["target"] == target]
        # a record's first successful write decides its wave/run (events are in ID order)
        first = ev.drop_duplicates(["source_id", "dest_id"])[["source_id", "dest_id", "in_scope"]]
        origin_in = xw[["source_id", "dest_id"]].merge(first, on=["source_id", "dest_id"], how="left")["in_scope"]
        origin_in = origin_in.fillna(False).astype(bool).to_numpy()
        updated = set(ev.loc[ev["in_scope"] & (ev["operation"] == "update"), "dest_id"])
        updated_in = xw["dest_id"].isin(updated).to_numpy()
        rows = rows[np.where(action == "restore", updated_in, origin_in)]
        orphans = []
    if orphans:
        rows = pd.concat([rows, pd.DataFrame({"target": target, "source_id": pd.NA, "dest_id": orphans,
                                              "action": "restore", "reason": R_ORPHAN})], ignore_index=True)
    rank = rows["action"].map({a: i for i, a in enumerate(ACTIONS)})
    return rows.assign(_rank=rank).sort_values(["_rank", "dest_id"], kind="stable").drop(columns="_rank")
