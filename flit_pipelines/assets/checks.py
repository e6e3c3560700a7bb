"""Reconciliation asset checks of a load asset (blocking: a failure means data is wrong or missing).

* counts: every source row is accounted for (``flit_pipelines.reconcile.accounting``): loaded,
  quarantined at extract, filtered by the target, or not loaded with its recorded reason (parent not
  loaded, held, flagged, refused, failed at the destination); and ledger rows = destination read-back;
* duplicates: no source key appears twice among live destination records;
* money: for each money column, source sum = payload sum + explained source-side exclusions, payload
  sum = loaded sum + the sums of the explained exclusions, loaded sum = destination read-back sum.
A check fails only when rows or money are unaccounted for. Metadata carries counts, sums, reasons
(columns and checks) and source IDs only, never patient values.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from flit_pipelines.destinations.base import Destination
from flit_pipelines.ledger import Ledger
from flit_pipelines.reconcile.accounting import (
    CATEGORIES,
    amounts,
    count_accounting,
    link_column,
    money_by_status,
    money_passes,
    quarantined_inputs,
    source_side,
)
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.transform.payload import CF_PREFIX
from flit_pipelines.transform.expressions import SOURCE_SUM_RE
from flit_pipelines.transform.expressions import evaluate as evaluate_expression

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
                read: pd.DataFrame | None = None, records: pd.DataFrame | None = None) -> dg.AssetCheckResult:
    """counts_reconcile: source rows (base object, this wave) = loaded + quarantined at extract +
    filtered by the target + not loaded with a recorded reason (``records``: one row per payload
    record with its status and reason, ``reconcile.accounting.classify_records``; without it, not
    loaded means unexplained), and the crosswalk rows of this payload = live records read back by ID.
    With ``read`` (the subset read back, see ``loaded_records``) the last term is: every record of
    ``read`` is live. Fails only on unexplained rows or a destination that disagrees with the ledger.
    Returns an AssetCheckResult with the identity's terms as metadata."""
    t = spec.targets[target]
    if records is None:
        records = pd.DataFrame({"source_id": payload["source_id"].astype("string").reset_index(drop=True)})
        records["status"] = records["source_id"].isin(loaded["source_id"]).map({True: "loaded", False: "unexplained"})
        records["reason"] = pd.Series(pd.NA, index=records.index, dtype="string")
    acc = count_accounting(t, payload, records, extract_doc, dict(extract_doc.get("quarantine_reasons") or {}))
    source_rows, q_extract, filtered = acc["source_rows"], acc["quarantined_extract"], acc["filtered_by_target"]
    explained = sum(c["records"] for c in acc["not_loaded"].values())
    ledger_rows = len(loaded)
    dest_rows = len(read_back)
    # deduplication pass: merged source IDs share their survivor's record (read back once), not missing
    merges = ledger.merges_frame(spec.migration, target)
    merged = int(merges.loc[merges["status"] == "done", "merged_source_id"].isin(loaded["source_id"]).sum())
    expected = source_rows - q_extract - filtered - explained
    if read is None:
        live = ledger_rows == dest_rows + merged
    else:  # a delta wave: the records it wrote are all live
        merged_read = int(merges.loc[merges["status"] == "done", "merged_source_id"].isin(read["source_id"]).sum())
        live = dest_rows + merged_read == len(read)
    passed = acc["unexplained"] == 0 and expected == ledger_rows and live
    meta = {"source_rows": source_rows, "quarantined_extract": q_extract, "quarantined_load": explained,
            "filtered_by_target": filtered, "expected": expected, "ledger_rows": ledger_rows,
            "destination_rows": dest_rows, "merged": merged, "unexplained": acc["unexplained"],
            "not_loaded": dg.MetadataValue.json(acc["not_loaded"]),
            "quarantine_reasons_extract": dg.MetadataValue.json(acc["quarantine_reasons_extract"]),
            **({"read_back_scope": "records written this wave", "records_written": len(read)}
               if read is not None else {})}
    terms = [f"{q_extract} quarantined at extract"] + ([f"{filtered} filtered by the target"] if filtered else [])
    terms += [f"{c['records']} {CATEGORIES[k]}" for k, c in acc["not_loaded"].items()]
    desc = (f"{source_rows} source = {ledger_rows} loaded + " + " + ".join(terms)
            + (f" + {acc['unexplained']} UNACCOUNTED" if acc["unexplained"] else "")
            + f"; destination {dest_rows}" + (f" of {len(read)} written this wave" if read is not None else "")
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


def source_rows(spec_sum: str, frames_loader) -> tuple[pd.DataFrame, str]:
    """The rows and the money column of a ``source_sums`` entry ``"object.column where <pandas expr>"``:
    ``frames_loader(object)`` gives the frame (the wave's extract, or its quarantined rows)."""
    m = _SUM_RE.match(spec_sum)
    if not m:
        raise ValueError(f"source_sums entry {spec_sum!r} is not 'object.column [where expr]'")
    obj, col, where = m.groups()
    df = frames_loader(obj)
    if where:
        df = df[pd.Series(evaluate_expression(df, where), index=df.index).fillna(False).astype(bool)]
    return df, col


def money_check(spec: MigrationSpec, target: str, wave: str, payload: pd.DataFrame, loaded: pd.DataFrame,
                read_back: pd.DataFrame, parquet, read: pd.DataFrame | None = None, *,
                records: pd.DataFrame | None = None, ledger: Ledger | None = None,
                quarantined_loader=None) -> dg.AssetCheckResult:
    """money_sums_reconcile, per money column (sums in the deal currency, tolerance half a cent):

    * payload sum = loaded sum + the sum of each not-loaded category of ``records`` (per reason);
      records not loaded without a reason are unaccounted;
    * loaded sum (with ``read``, a delta wave: the records written this wave) = destination read-back;
    * with a ``source_sums`` entry: the source rows' money goes to payload records (= payload sum),
      to base records quarantined at extract (``ledger``) or filtered out, or to no record at all
      (unaccounted); input rows quarantined at extract (``quarantined_loader(object)``) are reported
      with the part of their money that is known.
    """
    t = spec.targets[target]
    sent = payload[payload["source_id"].isin(loaded["source_id"])]
    checked = sent if read is None else payload[payload["source_id"].isin(read["source_id"])]
    if records is None:
        ids = payload["source_id"].astype("string").reset_index(drop=True)
        records = pd.DataFrame({"source_id": ids, "status": ids.isin(loaded["source_id"]).map(
            {True: "loaded", False: "unexplained"}), "reason": pd.Series(pd.NA, index=ids.index, dtype="string")})
    meta: dict = {}
    passed = True

    def load_extract(obj: str) -> pd.DataFrame:
        return pd.read_parquet(parquet.path_for(dg.AssetKey([spec.migration, "extract", obj]), wave))

    base_q = pd.Series(dtype="string")
    if ledger is not None and t.source_sums:
        q = ledger.quarantine_frame(spec.migration, wave, "extract", t.from_).dropna(subset=["source_id"])
        base_q = pd.Series(("quarantined at extract: " + q["reason"].astype("string")).to_numpy(),
                           index=q["source_id"].astype("string").str.strip().to_numpy())
        base_q = base_q[~base_q.index.duplicated(keep="last")]
    for money in t.money:
        col = money if money in payload.columns else CF_PREFIX + money
        entry = money_by_status(payload, col, records)
        entry["unexplained"] = entry["not_loaded"].pop("unexplained", {}).get("sum", 0.0)
        entry["destination"] = round(float(amounts(read_back.get(money, pd.Series(dtype=float))).fillna(0).sum()), 2)
        entry["checked"] = round(float(amounts(checked[col]).fillna(0).sum()), 2)
        if read is not None:
            entry["written_this_wave"] = entry["checked"]
        if money in t.source_sums:
            rows, column = source_rows(t.source_sums[money], load_extract)
            obj = t.source_sums[money].split(".", 1)[0].strip()
            base = load_extract(t.from_)
            pk = spec.objects[t.from_].primary_key
            entry["source_side"] = source_side(
                rows, column, link_column(spec, target, obj, column), pd.Index(payload["source_id"].astype("string")),
                pd.Index(base[pk].astype("string")) if pk else pd.Index([]), base_q)
            entry["source"] = entry["source_side"]["source"]
            if quarantined_loader is not None:
                try:
                    q_rows, _ = source_rows(t.source_sums[money], quarantined_loader)
                except Exception:  # the where does not evaluate on quarantined values: count them all
                    q_rows = quarantined_loader(obj)
                entry["quarantined_input_rows"] = quarantined_inputs(q_rows, column)
        entry["passed"] = money_passes(entry)
        meta[money] = entry
        passed = passed and entry["passed"]
    return dg.AssetCheckResult(check_name="money_sums_reconcile", passed=passed,
                               description="; ".join(_money_text(k, v) for k, v in meta.items()),
                               metadata={"sums": dg.MetadataValue.json(meta)})


def _money_text(name: str, e: dict) -> str:
    """``value: source 390.86 = destination 85.55 + held: ... 136.80 + ...`` (sums only)."""
    parts = [f"{CATEGORIES[k]} {v['sum']:.2f}" for k, v in e["not_loaded"].items()]
    src = e.get("source_side") or {}
    parts += [f"record quarantined at extract {s:.2f}" for s in src.get("base_quarantined_at_extract", {}).values()]
    if src.get("filtered_by_target"):
        parts.append(f"filtered by the target {src['filtered_by_target']:.2f}")
    head = f"{name}: " + (f"source {e['source']:.2f} = " if "source" in e else f"payload {e['payload']:.2f} = ")
    text = head + " + ".join([f"destination {e['destination']:.2f}", *parts])
    if src.get("not_finite_rows"):
        text += f"; {src['not_finite_rows']} source amount(s) not finite (their records are refused)"
    if src.get("no_record"):
        text += f"; UNACCOUNTED: {src['no_record']:.2f} in {src['no_record_rows']} input row(s) of no record"
    if e.get("unexplained"):
        text += f"; UNACCOUNTED: {e['unexplained']:.2f} in records not loaded without a reason"
    qi = e.get("quarantined_input_rows") or {}
    if qi.get("rows"):
        text += (f"; {qi['rows']} input row(s) quarantined at extract (known amounts {qi['amount_known']:.2f}, "
                 f"{qi['amount_unknown_rows']} unknown)")
    return text + ("" if e["passed"] else " [FAILED]")
