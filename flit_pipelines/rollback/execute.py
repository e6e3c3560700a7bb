"""Carry out a rollback plan: deletes and restores through the destination, every action in the ledger.

Resumable and idempotent because the ledger is the truth: a finished delete drops its crosswalk row and
a finished restore drops its crosswalk and prior-state rows, in the same transaction as the action's
audit event. A re-run plans again from the ledger and so only does what is left; a record deleted
remotely whose ledger write was lost is deleted again, which the destination reports as already gone,
and that counts as done.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from flit_pipelines.destinations.base import DailyLimitError, Destination, FatalLoadError, SendResult
from flit_pipelines.ledger import Ledger, RecordOutcome
from flit_pipelines.reports.staff_csv import write_staff_csv
from flit_pipelines.rollback.plan import ACTIONS, PLAN_COLUMNS, plan_rollback
from flit_pipelines.spec.model import MigrationSpec

log = logging.getLogger(__name__)

ROLLBACK_WAVE = "rollback"  # the audit log's wave of every rollback action
GONE = "gone"
MANUAL_PREFIX = "manual:"
ERROR_TEXT_MAX = 500


def _done_deleting(deleted: Any, error: Any) -> bool:
    """A delete is done when the record was deleted or is already gone (``deleted`` False with no error
    is how the destinations report a 404 / ENTITY_IS_DELETED; ``error == "gone"`` likewise)."""
    return bool(deleted) or error is None or (not isinstance(error, str) and pd.isna(error)) or error == GONE


def _manual(error: str | None) -> bool:
    """``manual: <what a person must do>``: the API did what it can; the rest is handed to an admin."""
    return error is not None and error.startswith(MANUAL_PREFIX)


def _summary(spec: MigrationSpec, plan: pd.DataFrame, run_id: str, dry_run: bool) -> dict[str, Any]:
    counts = plan.groupby(["target", "action"], sort=False).size()
    targets: dict[str, dict[str, Any]] = {}
    for target in dict.fromkeys(plan["target"]):
        planned = {a: int(counts.get((target, a), 0)) for a in ACTIONS}
        targets[target] = {"planned": planned, "deleted": 0, "restored": 0, "failed": 0, "manual": 0}
    return {"migration": spec.migration, "run_id": run_id, "dry_run": dry_run, "targets": targets,
            "totals": {}, "errors": {}, "manual_actions": []}


def _totals(summary: dict[str, Any]) -> dict[str, Any]:
    t = summary["targets"].values()
    totals = {f"planned_{a}": sum(x["planned"][a] for x in t) for a in ACTIONS}
    totals.update({k: sum(x[k] for x in t) for k in ("deleted", "restored", "failed", "manual")})
    summary["totals"] = totals
    return summary


def execute_rollback(spec: MigrationSpec, ledger: Ledger, destination: Destination | None, plan: pd.DataFrame, *,
                     run_id: str, dry_run: bool = False, chunk_rows: int = 200, max_workers: int = 8,
                     on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Carry out ``plan`` (``plan_rollback``'s frame) in its order, ``chunk_rows`` records at a time.

    Deletes go through ``destination.delete`` (one call per chunk); a record deleted or already gone is
    done and its crosswalk row is dropped. Restores go through ``destination.restore`` with the ledger's
    prior state, ``max_workers`` at a time; a restored record's crosswalk and prior-state rows are
    dropped. Each action writes an audit event (``delete``/``restore``, status ok|error, wave
    ``rollback``, ``run_id``). Errors are counted and reported, not raised. An answer ``manual: ...``
    (the API did what it can, e.g. a field with no empty value in the API; a person does the rest) is
    an audit event with status error, a manual action in the report, and done for the ledger (its rows
    are dropped, so a re-run does not repeat it). A restore of a record deleted since (``gone``) is a
    manual action too, but keeps its prior state (the only copy of the record); other errors keep
    their rows and are retried by a re-run. ``dry_run`` only counts the plan.

    Returns the summary: ``targets`` {target: {planned {delete, restore, keep}, deleted, restored, failed,
    manual}} (the last four disjoint), ``totals``, ``errors`` {error text: count}, ``manual_actions``
    [{target, source_id, dest_id, action, what}], ``migration``, ``run_id``, ``dry_run``.

    Raises:
        FatalLoadError: the destination cannot go on (budget spent, credentials revoked); what was done
            so far is in the ledger and a re-run continues from there.
    """
    summary = _summary(spec, plan, run_id, dry_run)
    if dry_run:
        return _totals(summary)
    if destination is None:
        raise ValueError("execute_rollback needs a destination unless dry_run")
    work = plan[plan["action"].isin(["delete", "restore"])]
    total, done = len(work), 0
    for target in dict.fromkeys(work["target"]):
        rows = work[work["target"] == target]
        for action, run in (("delete", _delete_chunk), ("restore", _restore_chunk)):
            part = rows[rows["action"] == action]
            for start in range(0, len(part), chunk_rows):
                chunk = part.iloc[start:start + chunk_rows]
                try:
                    outcomes = run(spec, ledger, destination, target, chunk, run_id, max_workers)
                except (FatalLoadError, DailyLimitError) as exc:
                    err = FatalLoadError(f"rollback of {target} stopped: {exc}")
                    err.summary = _totals(summary)  # what was done before the stop, for the report
                    raise err from exc
                _count(summary, target, action, outcomes)
                done += len(chunk)
                if on_progress:
                    on_progress(done, total)
        log.info("rollback %s %s: deleted %d, restored %d, failed %d", spec.migration, target,
                 summary["targets"][target]["deleted"], summary["targets"][target]["restored"],
                 summary["targets"][target]["failed"])
    return _totals(summary)


def _count(summary: dict[str, Any], target: str, action: str, outcomes: list[RecordOutcome]) -> None:
    t = summary["targets"][target]
    for o in outcomes:
        if o.error is None:
            t["deleted" if action == "delete" else "restored"] += 1
            continue
        if _manual(o.error) or (action == "restore" and o.error == GONE):
            t["manual"] += 1
            what = (o.error if _manual(o.error) else
                    "manual: the record was deleted in the destination after the migration; "
                    "its state before the migration is kept in the ledger's prior_state table")
            summary["manual_actions"].append({"target": target, "source_id": o.source_id, "dest_id": o.dest_id,
                                              "action": action, "what": what})
        else:
            t["failed"] += 1
        summary["errors"][o.error] = summary["errors"].get(o.error, 0) + 1


def _delete_chunk(spec: MigrationSpec, ledger: Ledger, destination: Destination, target: str, chunk: pd.DataFrame,
                  run_id: str, _workers: int) -> list[RecordOutcome]:
    """One ``destination.delete`` call for the chunk; ledger rows of finished deletes dropped with their events."""
    t = spec.targets[target]
    ids = list(dict.fromkeys(chunk["dest_id"].astype(str)))
    res = destination.delete(target, t, ids)
    answer = {str(r.dest_id): (r.deleted, r.error) for r in res.itertuples(index=False)}
    outcomes, forget = [], []
    for sid, did in zip(chunk["source_id"], chunk["dest_id"].astype(str), strict=True):
        sid = None if pd.isna(sid) else str(sid)
        deleted, error = answer.get(did, (False, "no answer from the destination for this record"))
        if _done_deleting(deleted, error):
            outcomes.append(RecordOutcome(sid, "delete", dest_id=did))
            forget.append(sid)
        else:
            error = str(error or "not deleted")[:ERROR_TEXT_MAX]
            outcomes.append(RecordOutcome(sid, "delete", dest_id=did, error=error))
            if _manual(error):
                forget.append(sid)
    ledger.record_rollback(migration=spec.migration, target=target, run_id=run_id, outcomes=outcomes,
                           forget_source_ids=forget, wave=ROLLBACK_WAVE)
    return outcomes


def _restore_chunk(spec: MigrationSpec, ledger: Ledger, destination: Destination, target: str, chunk: pd.DataFrame,
                   run_id: str, workers: int) -> list[RecordOutcome]:
    """Restore the chunk's records (one request each, ``workers`` at a time); each finished restore is
    written to the ledger as it completes, so a fatal error loses nothing that was done."""
    t = spec.targets[target]
    restore = getattr(destination, "restore", None)
    if restore is None:
        raise FatalLoadError(f"the {spec.destination.kind} destination cannot restore records (no restore method)")
    prior = ledger.prior_states(spec.migration, target)
    prior = dict(zip(prior["dest_id"].astype(str), prior["payload"], strict=True))
    by_dest: dict[str, list[str | None]] = {}  # one restore per record, even if two source rows point at it
    for sid, did in zip(chunk["source_id"], chunk["dest_id"].astype(str), strict=True):
        by_dest.setdefault(did, []).append(None if pd.isna(sid) else str(sid))

    def one(did: str) -> list[RecordOutcome]:
        sids = by_dest[did]
        if did not in prior:  # restored by an earlier run since the plan was made: only the crosswalk is left
            res = SendResult(did)
        else:
            try:
                res = restore(target, t, did, json.loads(prior[did]))
            except (FatalLoadError, DailyLimitError):
                raise
            except Exception as exc:  # reported, not raised: the type and text (never a value) name the cause
                res = SendResult(None, error=f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_MAX])
        error = None if res.error is None else str(res.error)[:ERROR_TEXT_MAX]
        outcomes = [RecordOutcome(sid, "restore", dest_id=did, error=error) for sid in sids]
        done = error is None or _manual(error)
        ledger.record_rollback(migration=spec.migration, target=target, run_id=run_id, outcomes=outcomes,
                               forget_source_ids=sids if done else [],
                               forget_prior_dest_ids=[did] if done else [], wave=ROLLBACK_WAVE)
        return outcomes

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=f"rollback-{target}") as pool:
        futures = [pool.submit(one, did) for did in by_dest]
        finished, pending = wait(futures, return_when=FIRST_EXCEPTION)
        fatal = next((f.exception() for f in finished if f.exception() is not None), None)
        if fatal is not None:
            for f in pending:
                f.cancel()
            raise fatal
    return [o for f in futures for o in f.result()]


# -- reports -------------------------------------------------------------------------------------

def write_plan(plan: pd.DataFrame, path: Path) -> Path:
    """The plan as CSV for people (columns ``PLAN_COLUMNS``; IDs and reasons only, never record
    values; ``reports.staff_csv``)."""
    return write_staff_csv(plan[PLAN_COLUMNS], path)


def write_report(summary: dict[str, Any], path: Path) -> Path:
    """The rollback report as JSON: counts per target and action, errors by reason, manual actions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=False, default=str), encoding="utf-8")
    return path


def rollback_migration(spec: MigrationSpec, ledger: Ledger, open_destination: Callable[[], Destination],
                       reports_dir: Path, *, scope: str = "all", wave: str | None = None, run_id: str | None = None,
                       rollback_run_id: str, dry_run: bool = True, max_workers: int = 8) -> dict[str, Any]:
    """Plan, write ``rollback_plan.csv``, and (unless ``dry_run``) execute and write ``rollback_report.json``.

    ``open_destination`` is called only when executing, so a dry run needs no destination credentials.
    Returns ``execute_rollback``'s summary plus ``scope``, ``wave``, ``scoped_run_id``, ``plan`` and
    ``report`` (paths), ``started_at`` and ``finished_at`` (UTC ISO 8601).

    Raises:
        ValueError: a bad scope (see ``plan_rollback``).
        FatalLoadError: as ``execute_rollback`` (the report is still written, with what was done).
    """
    started = datetime.now(UTC).isoformat()
    summary: dict[str, Any]
    plan = plan_rollback(spec, ledger, scope=scope, wave=wave, run_id=run_id)
    plan_path = write_plan(plan, reports_dir / "rollback_plan.csv")
    head = {"scope": scope, "wave": wave, "scoped_run_id": run_id, "plan": str(plan_path), "started_at": started}
    if dry_run:
        summary = execute_rollback(spec, ledger, None, plan, run_id=rollback_run_id, dry_run=True)
        return {**summary, **head, "report": None, "finished_at": datetime.now(UTC).isoformat()}
    report_path = reports_dir / "rollback_report.json"
    summary = {}
    try:
        summary = execute_rollback(spec, ledger, open_destination(), plan, run_id=rollback_run_id,
                                   max_workers=max_workers)
    except FatalLoadError as exc:
        write_report({**(exc.summary or {}), **head, "fatal_error": str(exc),
                      "finished_at": datetime.now(UTC).isoformat()}, report_path)
        raise
    summary = {**summary, **head, "report": str(report_path), "finished_at": datetime.now(UTC).isoformat()}
    write_report(summary, report_path)
    return summary
