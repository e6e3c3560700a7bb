"""Reconciliation asset checks of a load asset (blocking: a failure means data is wrong or missing).

* counts: source rows - quarantined = ledger rows = destination read-back count;
* duplicates: no source key appears twice among live destination records;
* money: for each money column, source sum = payload sum = destination read-back sum.
Metadata carries counts, sums and IDs only, never patient values.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from flit_pipelines.destinations.base import Destination
from flit_pipelines.ledger import Ledger
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.transform import CF_PREFIX
from flit_pipelines.transform.expressions import SOURCE_SUM_RE
from flit_pipelines.transform.expressions import evaluate as evaluate_expression

MONEY_TOLERANCE = 0.005
_SUM_RE = SOURCE_SUM_RE


def loaded_records(spec: MigrationSpec, target: str, payload: pd.DataFrame, ledger: Ledger,
                   dest: Destination, only: pd.Index | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(crosswalk rows of this payload, the rows read back, their live destination read-back). Read
    once per load and shared by the count and money checks. ``only`` (source IDs): read back just
    those, e.g. the records a delta wave wrote, so a delta's checks cost requests in proportion to
    what changed; the full wave reads every record back."""
    xw = ledger.crosswalk_frame(spec.migration, target)
    loaded = xw[xw["source_id"].isin(payload["source_id"].astype("string"))]
    read = loaded if only is None else loaded[loaded["source_id"].isin(only)]
    read_back = dest.read_back(target, spec.targets[target], read["dest_id"].tolist()) if len(read) else pd.DataFrame()
    return loaded, read, read_back


def count_check(spec: MigrationSpec, target: str, wave: str, payload: pd.DataFrame, ledger: Ledger,
                loaded: pd.DataFrame, read_back: pd.DataFrame, extract_doc: dict,
                read: pd.DataFrame | None = None) -> dg.AssetCheckResult:
    """counts_reconcile: base-object source rows - extract and load quarantine = crosswalk rows of
    this payload = live records read back by ID. With ``read`` (the subset read back, see
    ``loaded_records``) the last term is: every record of ``read`` is live. Returns an
    AssetCheckResult with the counts as metadata."""
    t = spec.targets[target]
    source_rows = int(extract_doc.get("rows_read", len(payload))) - int(extract_doc.get("rows_outside_wave", 0))
    q_extract = int(extract_doc.get("quarantined", 0))
    q_frame = ledger.quarantine_frame(spec.migration, wave, "load", target)
    # a row held now (PHI review) that an earlier run loaded still has its live record: it counts as loaded
    q_load = int((~q_frame["source_id"].isin(loaded["source_id"])).sum())
    ledger_rows = len(loaded)
    dest_rows = len(read_back)
    # deduplication pass: merged source IDs share their survivor's record (read back once), not missing
    merges = ledger.merges_frame(spec.migration, target)
    merged = int(merges.loc[merges["status"] == "done", "merged_source_id"].isin(loaded["source_id"]).sum())
    filtered = 0
    if t.where:  # rows the target deliberately leaves out are neither lost nor quarantined
        filtered = source_rows - q_extract - len(payload)
    expected = source_rows - q_extract - q_load - filtered
    if read is None:
        passed = expected == ledger_rows == dest_rows + merged
    else:  # a delta wave: the records it wrote are all live
        merged_read = int(merges.loc[merges["status"] == "done", "merged_source_id"].isin(read["source_id"]).sum())
        passed = expected == ledger_rows and dest_rows + merged_read == len(read)
    meta = {"source_rows": source_rows, "quarantined_extract": q_extract, "quarantined_load": q_load,
            "filtered_by_target": filtered, "expected": expected, "ledger_rows": ledger_rows,
            "destination_rows": dest_rows, "merged": merged,
            **({"read_back_scope": "records written this wave", "records_written": len(read)}
               if read is not None else {})}
    desc = (f"{source_rows} source - {q_extract + q_load} quarantined = {expected}; ledger {ledger_rows}; "
            f"destination {dest_rows}" + (f" of {len(read)} written this wave" if read is not None else "")
            + (f" + {merged} merged into survivors" if merged else ""))
    return dg.AssetCheckResult(check_name="counts_reconcile", passed=passed, description=desc, metadata=meta)


def duplicate_check(spec: MigrationSpec, target: str, dest: Destination,
                    created_this_wave: int | None = None) -> dg.AssetCheckResult:
    """no_duplicate_source_ids: every source key ("<target>:<id>") occurs at most once among live
    destination records of the entity (full listing). Files are listed like every other entity (each
    destination finds a file's source key: Pipedrive file name/description, HighLevel FILE_UPLOAD part
    name, Salesforce ContentVersion external ID). Users are matched, never created, and pass with
    that explanation. ``created_this_wave`` (delta waves): 0 means
    this wave created nothing, so it cannot have duplicated anything and the listing (one request
    per contact for HighLevel notes and tasks) is skipped."""
    t = spec.targets[target]
    if created_this_wave == 0:
        return dg.AssetCheckResult(
            check_name="no_duplicate_source_ids", passed=True,
            description="this delta wave created no record of the target: nothing new can be duplicated "
                        "(the full wave listed them all)", metadata={"duplicates": 0, "listing": "skipped"})
    if t.entity == "user":
        return dg.AssetCheckResult(
            check_name="no_duplicate_source_ids", passed=True,
            description="user: source IDs are unique in the crosswalk (unique constraint); "
                        "users are matched, never created",
            metadata={"duplicates": 0})
    counts = dest.source_key_counts(target, t)
    dups = {k: n for k, n in counts.items() if n > 1}
    sample_ids = [k.split(":", 1)[1] for k in list(dups)[:10]]
    return dg.AssetCheckResult(
        check_name="no_duplicate_source_ids", passed=not dups,
        description=f"{len(counts)} source IDs in the destination, {len(dups)} duplicated",
        metadata={"source_ids_in_destination": len(counts), "duplicates": len(dups),
                  "duplicate_source_ids_sample": dg.MetadataValue.json(sample_ids)})


def source_sum(spec_sum: str, frames_loader) -> float:
    """Evaluate ``"object.column where <pandas expr>"`` over the wave's extract."""
    m = _SUM_RE.match(spec_sum)
    if not m:
        raise ValueError(f"source_sums entry {spec_sum!r} is not 'object.column [where expr]'")
    obj, col, where = m.groups()
    df = frames_loader(obj)
    if where:
        df = df[pd.Series(evaluate_expression(df, where), index=df.index).fillna(False).astype(bool)]
    return float(pd.to_numeric(df[col], errors="coerce").fillna(0).sum())


def money_check(spec: MigrationSpec, target: str, wave: str, payload: pd.DataFrame, loaded: pd.DataFrame,
                read_back: pd.DataFrame, parquet, read: pd.DataFrame | None = None) -> dg.AssetCheckResult:
    """money_sums_reconcile: per money column, payload sum = sum over loaded rows = destination read-back
    sum, and the spec's ``source_sums`` over the wave's extract equal the payload sum (tolerance
    half a cent). Sums are in the deal currency. With ``read`` (a delta wave's written records) the
    destination sum is compared with those records' payload sum."""
    t = spec.targets[target]
    sent = payload[payload["source_id"].isin(loaded["source_id"])]
    checked = sent if read is None else payload[payload["source_id"].isin(read["source_id"])]
    meta: dict = {}
    passed = True

    def load_extract(obj: str) -> pd.DataFrame:
        return pd.read_parquet(parquet.path_for(dg.AssetKey([spec.migration, "extract", obj]), wave))

    for money in t.money:
        col = money if money in payload.columns else CF_PREFIX + money
        payload_sum = float(pd.to_numeric(payload[col], errors="coerce").fillna(0).sum())
        sent_sum = float(pd.to_numeric(sent[col], errors="coerce").fillna(0).sum())
        dest_sum = float(pd.to_numeric(read_back.get(money, pd.Series(dtype=float)), errors="coerce").fillna(0).sum())
        checked_sum = float(pd.to_numeric(checked[col], errors="coerce").fillna(0).sum())
        entry = {"payload": round(payload_sum, 2), "loaded": round(sent_sum, 2), "destination": round(dest_sum, 2)}
        if read is not None:
            entry["written_this_wave"] = round(checked_sum, 2)
        ok = abs(checked_sum - dest_sum) < MONEY_TOLERANCE and abs(payload_sum - sent_sum) < MONEY_TOLERANCE
        if money in t.source_sums:
            src = source_sum(t.source_sums[money], load_extract)
            entry["source"] = round(src, 2)
            ok = ok and abs(src - payload_sum) < MONEY_TOLERANCE
        entry["passed"] = ok
        meta[money] = entry
        passed = passed and ok
    return dg.AssetCheckResult(check_name="money_sums_reconcile", passed=passed,
                               description="; ".join(f"{k}: {v}" for k, v in meta.items()),
                               metadata={"sums": dg.MetadataValue.json(meta)})
