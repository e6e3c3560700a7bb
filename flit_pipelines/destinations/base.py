"""What every destination offers, and the destination-agnostic load loop.

``load_target`` is the heart of "never duplicate or lose a record" (ARCHITECTURE.md, "Data flow"):

1. foreign keys are resolved through the ledger crosswalk (parents were loaded by earlier assets);
2. each row becomes a request body; its SHA-256 is compared with the crosswalk's: unchanged rows are
   skipped without a request, changed rows are updated, new rows are created;
3. before creating, records without a crosswalk row are looked up in the destination by their
   source key, so a crash between a remote write and its ledger write never makes a duplicate; a
   create whose answer is lost is looked up the same way before it is sent again (``create_once``).
   A destination whose creates are upserts by the source key (``creates_are_keyed``: Salesforce's
   external-ID upsert) needs no lookup: such a record is updated, not duplicated, and answered as
   ``SendResult.existed`` (recorded as adopted), unless ``match_existing`` or captured prior states
   need the lookup first;
4. requests go through a bounded thread pool sharing the destination's one rate limiter; each
   response is written to the ledger (crosswalk + audit event, one transaction) as it arrives.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

import pandas as pd

# the contract's names are re-exported: callers import them from base
from flit_pipelines.destinations.contract import (
    BatchItem,
    DailyLimitError,
    Destination,
    FatalLoadError,
    LoadSummary,
    SendResult,
)
from flit_pipelines.destinations.pre_existing import PreExisting
from flit_pipelines.errors import FlitError
from flit_pipelines.http.errors import PatienceExhausted, TransientError
from flit_pipelines.http.retry import LookupFailed, send_once
from flit_pipelines.ledger import Ledger, RecordOutcome
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.transform.payload import FK_PREFIX
from flit_pipelines.transform.phi import hold_reasons

PROGRESS_WAKE_SECONDS = 1.0  # how often a load waiting on its requests reports progress (on_progress)

log = logging.getLogger(__name__)


def guarded_write(fn: Callable[[], SendResult], *, api_error: type[Exception], transport_error: type[Exception],
                  fatal_errors: tuple[type[Exception], ...], fatal_statuses: frozenset[int]) -> SendResult:
    """Run one destination write and sort its failure.

    ``fatal_errors`` (e.g. the daily budget is spent), a spent rate-limit patience
    (``PatienceExhausted``) and ``api_error``s whose ``status`` is in ``fatal_statuses`` (401/403:
    credentials revoked) raise FatalLoadError, which stops the load; ``transport_error`` (no answer,
    5xx, 408, 409: the record is not what is wrong) propagates (the caller looks the record up before
    resending, ``create_once``, or stops, ``unavailable``); any other ``api_error`` -- a 4xx saying
    the record itself is wrong -- fails only this row, its text (status, path template, the vendor's
    scrubbed message; never a value) becoming the ledger's error.
    """
    try:
        return fn()
    except PatienceExhausted as exc:
        raise FatalLoadError(str(exc)) from None
    except fatal_errors as exc:
        raise FatalLoadError(str(exc)) from None
    except transport_error:
        raise
    except api_error as exc:
        if getattr(exc, "status", None) in fatal_statuses:
            raise FatalLoadError(str(exc)) from None
        return SendResult(None, error=str(exc))


def unavailable(exc: BaseException) -> FatalLoadError:
    """The stop of a load whose destination gave no usable answer to a request it was repeated
    for (``http.retry``): a 5xx/timeout is never the record's fault, so no row is failed for it."""
    return FatalLoadError(f"{exc}: still no usable answer after repeated attempts. The wave stopped; nothing "
                          "failed and what was sent is in the ledger: re-run it once the destination answers again")


def create_once(send: Callable[[], SendResult], find: Callable[[], SendResult | None], *, client: Any) -> SendResult:
    """One create, exactly once (``http.retry.send_once`` with ``client``'s policy, clock and stats).

    ``send`` is the guarded create (``guarded_write``: a refusal comes back as a failed
    ``SendResult``, a lost answer raises the client's transient error); ``find`` looks the record up
    by its source key after a lost answer (``SendResult(dest_id)`` or None). Found -> adopted;
    not found -> sent again after a backoff.

    Raises:
        FatalLoadError: every attempt's outcome stayed unknown, or the lookup itself got no answer.
    """
    try:
        return send_once(send, find, policy=client.retry_policy, clock=client.clock, stats=client.stats)[0]
    except PatienceExhausted as exc:
        raise FatalLoadError(str(exc)) from None
    except (TransientError, LookupFailed) as exc:
        raise unavailable(exc) from None


def body_hash(body: dict[str, Any]) -> str:
    """SHA-256 hex of a request body (sorted-key JSON): equal hashes mean nothing to send."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def resolve_lookups(spec: MigrationSpec, target_name: str, payload: pd.DataFrame, ledger: Ledger,
                    fallback_owner: str | None) -> tuple[pd.DataFrame, pd.Series]:
    """Map every ``fk:<field>`` column from parent source IDs to destination IDs (vectorised).

    Returns (frame of resolved dest IDs per lookup field, Series of failure reasons or NA per row).
    A required lookup whose parent is missing fails the row; an optional one is sent empty, or with
    the fallback owner for ``fallback: owner``.
    """
    t = spec.targets[target_name]
    resolved = pd.DataFrame(index=payload.index)
    reasons = pd.Series(pd.NA, index=payload.index, dtype="string")
    for fk, lk in t.lookups.items():
        xw = ledger.crosswalk_frame(spec.migration, lk.target)
        mapping = pd.Series(xw["dest_id"].to_numpy(), index=xw["source_id"].to_numpy())
        src = payload[FK_PREFIX + fk]
        dest = src.map(mapping)
        if lk.fallback == "owner" and fallback_owner is not None:
            dest = dest.fillna(fallback_owner)
        missing = dest.isna()
        if lk.required:
            empty = src.isna() & reasons.isna()
            reasons = reasons.where(~empty, f"lookup {fk}: empty")
            reasons = reasons.where(~missing | reasons.notna(), f"lookup {fk}: parent {lk.target} record not loaded")
        resolved[fk] = dest
    return resolved, reasons


def load_target(*, spec: MigrationSpec, target_name: str, payload: pd.DataFrame, destination: Destination,
                ledger: Ledger, run_id: str, wave: str, max_workers: int = 8, chunk_rows: int = 5_000,
                on_progress: Callable[[int, int], None] | None = None,
                extra_holds: pd.Series | None = None) -> LoadSummary:
    """Upsert one target's payload into the destination; idempotent and resumable.

    Rows are processed ``chunk_rows`` at a time (bodies are built per chunk, so memory stays bounded);
    ``on_progress(done, total)`` is called at the start, as requests finish (at least every
    ``PROGRESS_WAKE_SECONDS`` while a chunk's requests are under way, repeating ``done`` when nothing
    finished) and after each chunk. ``extra_holds`` (reason by source ID):
    records not to send, held like PHI-review records (quarantine row with the reason, audit event
    ``hold``), e.g. a derived value missing input rows (``transform.payload.build_payload_checked``).

    Raises:
        FatalLoadError: the destination cannot go on (budget spent, auth revoked); what was sent so
            far is recorded, and a re-run continues from there.
    """
    t = spec.targets[target_name]
    m = spec.migration
    summary = LoadSummary(target_name, payload_rows=len(payload))
    destination.prepare(target_name, t)
    if t.entity == "user":
        summary = _match_users(spec, target_name, payload, destination, ledger, run_id, wave, summary)
        if on_progress:
            on_progress(len(payload), len(payload))
        return summary

    resolved, fk_fail = resolve_lookups(spec, target_name, payload, ledger, destination.fallback_owner_id())
    xw = ledger.crosswalk_frame(m, target_name).set_index("source_id")
    quarantine: list[dict[str, Any]] = []
    existing: Mapping[str, str] | None = None  # fetched once, only if some record has no crosswalk row

    pre = PreExisting(spec, target_name, destination, ledger, xw, summary)  # matched records, prior state

    holds = _hold_reasons(spec, target_name, payload, ledger, destination, resolved, xw)  # not sent, quarantined
    if extra_holds is not None and len(extra_holds):
        extra = payload["source_id"].astype("string").map(extra_holds).to_numpy()
        holds = holds.where(holds.notna(), pd.Series(extra, index=holds.index, dtype="string"))

    def count(outcome: RecordOutcome) -> None:
        if outcome.operation == "skip":
            summary.unchanged += 1
        elif outcome.operation == "create":
            summary.created += 1
            summary.records_sent += 1
        elif outcome.operation == "update":
            summary.updated += 1
            summary.records_sent += 1
        elif outcome.operation == "fail":
            summary.failed += 1
            summary.errors[outcome.error or "error"] = summary.errors.get(outcome.error or "error", 0) + 1

    def adopted_if_existed(op: str, sid: str, res: SendResult) -> str:
        """A keyed create the destination answered as an update of a record already carrying the source
        key (a crash between its remote write and our ledger write): recorded as an adopted update, as
        ``find_existing`` would have made it."""
        if op == "create" and getattr(res, "existed", False) and not res.error and res.dest_id is not None:
            summary.adopted += 1
            pre.adopt(sid, str(res.dest_id))
            return "update"
        return op

    def send(item: tuple[str, dict, dict, str, str | None]) -> RecordOutcome:
        op, row, body, digest, dest_id = item
        sid = str(row["source_id"])
        res = (destination.create(target_name, t, body, row) if op == "create"
               else destination.update(target_name, t, dest_id, body, row))
        op = adopted_if_existed(op, sid, res)
        outcome = RecordOutcome(sid, op if not res.error else "fail", dest_id=res.dest_id,
                                payload_hash=digest if not res.error else None, error=res.error,
                                created_by_migration=pre.created_by_migration(sid))
        ledger.record(migration=m, target=target_name, run_id=run_id, wave=wave, outcome=outcome)
        return outcome

    batch_writer = getattr(destination, "send_batch", None)
    if batch_writer is not None:  # a bulk writer sizes its own jobs (by upload bytes): hand it big chunks
        chunk_rows = max(chunk_rows, int(getattr(destination, "batch_rows", 0)))

    def send_batch(items: list[tuple[str, dict, dict, str, str | None]]) -> list[RecordOutcome]:
        """One bulk call for a chunk's writes; a fatal error stops the load (progress is in the ledger)."""
        try:
            results = batch_writer(target_name, t, [BatchItem(op, row, body, dest_id)
                                                    for op, row, body, _digest, dest_id in items])
        except (FatalLoadError, DailyLimitError) as exc:
            raise FatalLoadError(f"load of {target_name} stopped: {exc}") from exc
        if len(results) != len(items):
            raise FatalLoadError(f"load of {target_name}: {len(results)} results for {len(items)} records")
        outcomes = []
        for (op, row, _body, digest, _dest_id), res in zip(items, results, strict=True):
            op = adopted_if_existed(op, str(row["source_id"]), res)
            outcomes.append(RecordOutcome(str(row["source_id"]), op if not res.error else "fail",
                                          dest_id=res.dest_id, payload_hash=digest if not res.error else None,
                                          error=res.error,
                                          created_by_migration=pre.created_by_migration(str(row["source_id"]))))
        ledger.record_many(migration=m, target=target_name, run_id=run_id, wave=wave, outcomes=outcomes)
        return outcomes

    def skip_key_lookup() -> bool:
        """True when ``find_existing``'s read (one SOQL query or listing per load) can be left out: the
        destination upserts every create of the target by its source key (``creates_are_keyed``), so a
        record written by a run whose ledger write was lost is updated, not duplicated, and comes back
        as ``SendResult.existed``; and no pre-existing record is involved (no ``match_existing``, no
        prior state captured), whose adoption would need the lookup first (``PreExisting.adopt``)."""
        keyed = getattr(destination, "creates_are_keyed", None)
        if keyed is None or not keyed(target_name, t) or pre.field or pre.not_ours:
            return False
        return not ledger.prior_state_ids(m, target_name)

    def send_chunks() -> None:
        nonlocal existing
        with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"load-{target_name}") as pool:
            for start in range(0, len(payload), chunk_rows):
                rows = payload.iloc[start:start + chunk_rows].to_dict("records")
                outcomes: list[RecordOutcome] = []
                to_send: list[tuple[str, dict, dict, str, str | None]] = []  # (op, row, body, hash, dest_id)
                for i, row in enumerate(rows, start=start):
                    sid = str(row["source_id"])
                    if pd.notna(fk_fail.iat[i]):
                        outcomes.append(RecordOutcome(sid, "fail", error=str(fk_fail.iat[i])))
                        quarantine.append({"source_id": sid, "row_number": None, "reason": str(fk_fail.iat[i])})
                        continue
                    if pd.notna(holds.iat[i]):  # PHI review queue: sent once a person approves it
                        outcomes.append(RecordOutcome(sid, "hold"))
                        quarantine.append({"source_id": sid, "row_number": None, "reason": str(holds.iat[i])})
                        summary.held += 1
                        continue
                    flag = destination.flag(target_name, t, row)
                    if flag:
                        outcomes.append(RecordOutcome(sid, "flag"))
                        quarantine.append({"source_id": sid, "row_number": None, "reason": flag})
                        summary.flagged += 1
                        continue
                    fks = {fk: (None if pd.isna(v) else v) for fk, v in resolved.iloc[i].items()}
                    try:
                        body = destination.build_body(target_name, t, row, fks)
                    except ValueError as exc:
                        outcomes.append(RecordOutcome(sid, "fail", error=str(exc)))
                        quarantine.append({"source_id": sid, "row_number": None, "reason": str(exc)})
                        continue
                    digest = body_hash(body)
                    if sid in xw.index:
                        known = xw.loc[sid]
                        if known["payload_hash"] == digest:
                            outcomes.append(RecordOutcome(sid, "skip", dest_id=str(known["dest_id"]),
                                                          payload_hash=digest))
                        else:
                            to_send.append(("update", row, body, digest, str(known["dest_id"])))
                        continue
                    # No crosswalk row: after a crash the record may exist remotely; adopt it, don't create.
                    if existing is None:
                        existing = {} if skip_key_lookup() else destination.find_existing(target_name, t)
                    if sid in existing:
                        summary.adopted += 1
                        pre.adopt(sid, existing[sid])
                        to_send.append(("update", row, body, digest, existing[sid]))
                    else:
                        to_send.append(("create", row, body, digest, None))
                # creates that match a pre-existing record become updates; prior state before first update
                to_send = pre.prepare(to_send)
                ledger.record_many(migration=m, target=target_name, run_id=run_id, wave=wave, outcomes=outcomes)
                for o in outcomes:
                    count(o)
                if batch_writer is not None and to_send:
                    for o in send_batch(to_send):
                        count(o)
                    if on_progress:
                        on_progress(min(start + chunk_rows, len(payload)), len(payload))
                    continue
                futures = [pool.submit(send, item) for item in to_send]
                base = start + len(rows) - len(to_send)  # rows decided without a request
                pending = set(futures)
                while True:  # wakes every second so the step's progress speaks during long waits (429s)
                    finished, pending = wait(pending, timeout=PROGRESS_WAKE_SECONDS, return_when=FIRST_EXCEPTION)
                    if on_progress:
                        on_progress(base + len(futures) - len(pending), len(payload))
                    if not pending or any(f.exception() is not None for f in finished):
                        break
                finished = {f for f in futures if f.done()}
                fatal = next((f.exception() for f in finished if f.exception() is not None), None)
                if fatal is not None:
                    for f in pending:
                        f.cancel()
                    if not isinstance(fatal, FlitError):
                        raise fatal  # its text may hold values: the step boundary withholds it
                    raise FatalLoadError(f"load of {target_name} stopped: {fatal}") from fatal
                for f in futures:
                    count(f.result())
                if on_progress:
                    on_progress(min(start + chunk_rows, len(payload)), len(payload))

    if on_progress:
        on_progress(0, len(payload))
    try:
        send_chunks()
    finally:  # quarantine reasons are kept even when a fatal error stops the load
        ledger.replace_quarantine(migration=m, wave=wave, stage="load", obj=target_name, run_id=run_id,
                                  rows=pd.DataFrame(quarantine, columns=["source_id", "row_number", "reason"]))
    return summary


def _hold_reasons(spec: MigrationSpec, target_name: str, payload: pd.DataFrame, ledger: Ledger,
                  destination: Destination, resolved: pd.DataFrame, xw: pd.DataFrame) -> pd.Series:
    """Per payload row (positional with ``payload``), why it is held back, or <NA>:

    * ``held for PHI review: <pattern names>``: the target's ``phi_review`` matched and no person has
      approved the record yet (``flit_pipelines.transform.phi``; ledger ``phi_approval``);
    * a source record merged into a survivor by a deduplication pass whose request body changed since:
      an update would overwrite the survivor (which carries another record's values and source key), so
      it is held for a person instead (``flit_pipelines.destinations.pipedrive.dedup``). Unchanged merged
      records skip as usual.
    """

    t = spec.targets[target_name]
    m = spec.migration
    approved = ledger.phi_approvals(m, target_name)["source_id"] if t.phi_review is not None else ()
    holds = hold_reasons(payload, t.phi_review, approved, files_root=getattr(destination, "files_root", None))
    merges = ledger.merges_frame(m, target_name)
    merged = merges.loc[merges["status"] == "done"].set_index("merged_source_id")
    sids = payload["source_id"].astype("string")
    for i in (sids.isin(merged.index) & sids.isin(xw.index)).to_numpy().nonzero()[0]:  # few rows
        row = payload.iloc[i].to_dict()
        fks = {fk: (None if pd.isna(v) else v) for fk, v in resolved.iloc[i].items()}
        try:
            digest = body_hash(destination.build_body(target_name, t, row, fks))
        except ValueError:
            continue  # the load fails it with the reason
        if digest != xw.loc[sids.iat[i], "payload_hash"]:
            holds.iat[i] = (f"merged into source record {merged.loc[sids.iat[i], 'survivor_source_id']} by the "
                            "deduplication pass; changed since: not sent (update the survivor by hand)")
    return holds


def _match_users(spec: MigrationSpec, target_name: str, payload: pd.DataFrame, destination: Destination,
                 ledger: Ledger, run_id: str, wave: str, summary: LoadSummary) -> LoadSummary:
    """Match staff to existing destination users (never created); unmatched get the fallback owner."""
    users = destination.find_existing(target_name, spec.targets[target_name])  # lower-case email -> user id
    fallback = destination.fallback_owner_id()
    email = payload["match_value"].astype("string").str.strip().str.lower()
    matched = email.map(users)
    outcomes = []
    for sid, dest in zip(payload["source_id"].astype(str), matched, strict=True):
        if pd.notna(dest):
            outcomes.append(RecordOutcome(sid, "match", dest_id=str(dest), created_by_migration=False))
            summary.matched += 1
        else:
            outcomes.append(RecordOutcome(sid, "fallback", dest_id=fallback, created_by_migration=False,
                                          error=None))
            summary.fallback += 1
    ledger.record_many(migration=spec.migration, target=target_name, run_id=run_id, wave=wave, outcomes=outcomes)
    return summary
