"""Where every source row of a target went, and where its money went.

The identity the reconciliation checks hold (``flit_pipelines.assets.checks``), per target and wave:

    source rows = loaded + quarantined at extract + filtered by the target's ``where``
                  + not loaded, each with a recorded reason + unexplained

A payload record that was not loaded is put in one category, with the reason recorded for it:

* ``parent_not_loaded``: a required lookup's parent record is not in the destination; the reason
  says why the parent is missing (quarantined at extract, held, refused by the destination, ...);
* ``held_derived_input``: a derived value misses input rows quarantined at extract
  (``transform.derive.missing_inputs``; ``Target.on_derive_input_loss: hold``);
* ``held_for_review``: the PHI review queue, or a changed duplicate merged by the dedup pass;
* ``flagged``: the destination's own rules (a file over the size limit);
* ``refused``: a value no request body can carry (a non-finite number, an invalid option);
* ``failed``: the destination refused the write (the vendor's reason, from the audit log);
* ``unexplained``: not loaded and no reason recorded: a real loss; the check fails on it.

Money, per money column: payload sum = loaded sum + the sums of the categories above (so the money
of every excluded record is named with its reason), loaded sum = destination read-back sum, and the
source sum (``Target.source_sums``) = payload sum + the money of input rows whose record was
quarantined at extract or filtered out; input rows that belong to no record are unaccounted.
Only counts, sums, reasons (columns and checks, never values) and source IDs come out of here.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from flit_pipelines.spec.model import MigrationSpec, Target
from flit_pipelines.transform.derive import DERIVED_GAP_PREFIX, join_keys
from flit_pipelines.transform.payload import NOT_FINITE_PREFIX

CATEGORIES = {
    "parent_not_loaded": "excluded: a parent record is not in the destination",
    "held_derived_input": "held: a derived value misses input rows quarantined at extract",
    "held_for_review": "held for review (PHI review queue, or a changed merged duplicate)",
    "flagged": "flagged by the destination's rules",
    "refused": "refused before sending: a value no request body can carry",
    "failed": "refused by the destination",
    "unexplained": "not loaded, no reason recorded",
}
MONEY_TOLERANCE = 0.005
SAMPLE_IDS = 10
_LOOKUP_RE = re.compile(r"^lookup (\w+): ")


def amounts(values: pd.Series) -> pd.Series:
    """Money as float64: unparsable and non-finite values (+/-inf: no sum can carry them; the payload
    step refuses such records) become NaN, so they never poison a sum."""
    num = pd.to_numeric(values, errors="coerce").astype("float64")
    return num.where(np.isfinite(num))


def _latest(frame: pd.DataFrame, key: str = "source_id") -> pd.DataFrame:
    return frame.drop_duplicates(key, keep="last").set_index(key) if len(frame) else frame.set_index(key)


def parent_reasons(spec: MigrationSpec, parent: str, wave: str, ledger) -> pd.Series:
    """Why records of target ``parent`` are not in the destination, by parent source ID: quarantined at
    extract (with the reason), not loaded at load (held, its own parent missing, ...), or refused by
    the destination (the audit log's error of the latest attempt in this wave)."""
    m = spec.migration
    p = spec.targets[parent]
    q_ex = ledger.quarantine_frame(m, wave, "extract", p.from_)
    q_ex = q_ex[q_ex["source_id"].notna()]
    ex = ("quarantined at extract (" + q_ex["reason"].astype("string") + ")").set_axis(
        q_ex["source_id"].astype("string").str.strip())
    q_ld = ledger.quarantine_frame(m, wave, "load", parent)
    ld = ("not loaded (" + q_ld["reason"].astype("string") + ")").set_axis(q_ld["source_id"].astype("string"))
    audit = ledger.audit_frame(m, target=parent, wave=wave)
    last = _latest(audit[["source_id", "operation", "error"]]) if len(audit) else audit
    failed = last[(last["operation"] == "fail") & last["error"].notna()] if len(last) else last
    fl = ("refused by the destination (" + failed["error"].astype("string") + ")") if len(failed) else \
        pd.Series(dtype="string")
    out = pd.concat([ex[~ex.index.duplicated(keep="last")], ld[~ld.index.duplicated(keep="last")],
                     fl.set_axis(fl.index.astype("string"))])
    return out[~out.index.duplicated(keep="first")]


def classify_records(spec: MigrationSpec, target: str, wave: str, payload: pd.DataFrame, loaded_ids: pd.Index,
                     ledger, run_id: str | None) -> pd.DataFrame:
    """One row per payload record: source_id, status (``loaded`` or a ``CATEGORIES`` key), reason.

    Reasons come from this run's audit events and load quarantine rows of the target (``run_id``
    None: the latest events of the wave); a ``parent_not_loaded`` reason names the lookup, the parent
    target and why that parent is missing (``parent_reasons``), never the parent's ID (IDs are kept
    per record in ``source_id``).
    """
    t = spec.targets[target]
    sid = payload["source_id"].astype("string").reset_index(drop=True)
    out = pd.DataFrame({"source_id": sid, "status": "loaded", "reason": pd.Series(pd.NA, index=sid.index,
                                                                                   dtype="string")})
    todo = ~sid.isin(loaded_ids)
    if not todo.any():
        return out
    m = spec.migration
    audit = ledger.audit_frame(m, target=target, run_id=run_id) if run_id else ledger.audit_frame(
        m, target=target, wave=wave)
    last = _latest(audit[["source_id", "operation", "error"]].astype({"source_id": "string"}))
    q_ld = ledger.quarantine_frame(m, wave, "load", target)
    q_reason = _latest(q_ld[["source_id", "reason"]].astype({"source_id": "string"}))["reason"].astype("string")
    op = sid.map(last["operation"]).astype("string")
    error = sid.map(last["error"]).astype("string")
    qr = sid.map(q_reason).astype("string")
    lookup = qr.str.match(_LOOKUP_RE.pattern).fillna(False).astype(bool)
    conds = [op.eq("hold") & qr.str.startswith(DERIVED_GAP_PREFIX).fillna(False),
             op.eq("hold") & qr.str.startswith(NOT_FINITE_PREFIX).fillna(False),
             op.eq("hold"), op.eq("flag"), op.eq("fail") & lookup, op.eq("fail") & qr.notna(),
             op.eq("fail")]
    names = ["held_derived_input", "refused", "held_for_review", "flagged", "parent_not_loaded", "refused", "failed"]
    status = pd.Series(np.select([c.fillna(False).to_numpy(dtype=bool) for c in conds], names,
                                 default="unexplained"), index=sid.index)
    reason = qr.where(qr.notna(), error).fillna("not loaded; no outcome recorded for it in this run")
    for fk, lk in t.lookups.items():  # the parent's own reason, one lookup at a time
        rows = todo & lookup & qr.str.startswith(f"lookup {fk}: ").fillna(False)
        if not rows.any():
            continue
        parent_ids = payload[f"fk:{fk}"].astype("string").reset_index(drop=True)
        why = parent_ids.str.strip().map(parent_reasons(spec, lk.target, wave, ledger))
        text = (f"lookup {fk}: parent {lk.target} record " + why.fillna(
            "not loaded (no record of it in this wave: not in the source export, or filtered out)"))
        text = text.where(parent_ids.notna(), f"lookup {fk}: the source row names no parent {lk.target} record")
        reason = reason.where(~rows, text)
    out.loc[todo, "status"] = status[todo]
    out.loc[todo, "reason"] = reason[todo]
    return out


def _summary(records: pd.DataFrame) -> dict:
    """Per category: records, reasons (reason -> count), and up to ``SAMPLE_IDS`` source IDs."""
    out = {}
    for cat, grp in _by_category(records[records["status"] != "loaded"]):
        out[cat] = {"records": len(grp), "reasons": grp["reason"].value_counts().to_dict(),
                    "source_ids_sample": grp["source_id"].head(SAMPLE_IDS).tolist()}
    return out


def _by_category(frame: pd.DataFrame):
    """(category, rows) of ``frame`` grouped by ``status``, in ``CATEGORIES`` order."""
    groups = dict(list(frame.groupby("status", sort=False)))
    return [(c, groups[c]) for c in CATEGORIES if c in groups]


def count_accounting(t: Target, payload: pd.DataFrame, records: pd.DataFrame, extract_doc: dict,
                     extract_reasons: dict[str, int]) -> dict:
    """The count identity of one target: source rows, quarantined at extract (with reasons), filtered
    by the target, loaded, each not-loaded category (``_summary``) and ``unexplained`` (rows the
    identity cannot place: not loaded without a reason, or lost between extract and payload)."""
    source_rows = int(extract_doc.get("rows_read", len(payload))) - int(extract_doc.get("rows_outside_wave", 0))
    q_extract = int(extract_doc.get("quarantined", 0))
    gap = source_rows - q_extract - len(payload)
    filtered = gap if (t.where or t.when) else 0
    categories = _summary(records)
    unexplained = categories.get("unexplained", {}).get("records", 0) + (0 if (t.where or t.when) else abs(gap))
    return {"source_rows": source_rows, "quarantined_extract": q_extract,
            "quarantine_reasons_extract": extract_reasons, "filtered_by_target": filtered,
            "loaded": int((records["status"] == "loaded").sum()),
            "not_loaded": {k: v for k, v in categories.items() if k != "unexplained"},
            "unexplained": unexplained}


def money_by_status(payload: pd.DataFrame, col: str, records: pd.DataFrame) -> dict:
    """Sums of one money column: payload, loaded, and per not-loaded category (with per-reason sums)."""
    values = amounts(payload[col]).fillna(0).reset_index(drop=True)
    frame = pd.DataFrame({"status": records["status"], "reason": records["reason"], "v": values})
    out: dict[str, Any] = {"payload": round(float(values.sum()), 2),
           "loaded": round(float(values[records["status"] == "loaded"].sum()), 2), "not_loaded": {}}
    for cat, grp in _by_category(frame[frame["status"] != "loaded"]):
        out["not_loaded"][cat] = {"sum": round(float(grp["v"].sum()), 2),
                                       "by_reason": {str(r): round(float(s), 2)
                                                     for r, s in grp.groupby("reason")["v"].sum().items()}}
    return out


def link_column(spec: MigrationSpec, target: str, obj: str, column: str) -> str | None:
    """The column of ``obj`` that holds the target record's source ID: the primary key when ``obj`` is
    the target's base, else the ``by.right`` of a derive step from ``obj`` keyed on the base's primary
    key (the step deriving ``column`` first). None when no such link exists."""
    t = spec.targets[target]
    pk = spec.objects[t.from_].primary_key
    if obj == t.from_:
        return pk
    steps = sorted((s for s in t.derive if s.from_ == obj), key=lambda s: s.column != column)
    for step in steps:
        left, right = join_keys(step, pk)
        if left == pk:
            return right
    return None


def source_side(rows: pd.DataFrame, column: str, link: str | None, payload_ids: pd.Index, base_ids: pd.Index,
                base_quarantined: pd.Series) -> dict:
    """Split the source rows of a ``source_sums`` entry by where their money went: to a payload record,
    to a base record quarantined at extract (``base_quarantined``: reason by source ID), to a base
    record the target's ``where`` left out, or to no record at all (unaccounted)."""
    raw = amounts(rows[column])
    amount = raw.fillna(0)
    total = round(float(amount.sum()), 2)
    not_finite = int((pd.to_numeric(rows[column], errors="coerce").notna() & raw.isna()).sum())
    if link is None:
        return {"source": total, "attributed": False, "not_finite_rows": not_finite}
    key = rows[link].astype("string").str.strip()
    in_payload = key.isin(payload_ids)
    quarantined = ~in_payload & key.isin(base_quarantined.index)
    filtered = ~in_payload & ~quarantined & key.isin(base_ids)
    orphan = ~(in_payload | quarantined | filtered)
    reasons = key[quarantined].map(base_quarantined)
    by_reason = amount[quarantined].groupby(reasons).sum() if quarantined.any() else pd.Series(dtype=float)
    return {"source": total, "attributed": True, "to_payload": round(float(amount[in_payload].sum()), 2),
            "base_quarantined_at_extract": {str(r): round(float(s), 2) for r, s in by_reason.items()},
            "filtered_by_target": round(float(amount[filtered].sum()), 2),
            "no_record": round(float(amount[orphan].sum()), 2), "no_record_rows": int(orphan.sum()),
            "not_finite_rows": not_finite}


def quarantined_inputs(rows: pd.DataFrame, column: str) -> dict:
    """Input rows of a ``source_sums`` entry quarantined at extract (``rows``: those its ``where``
    keeps): how many, the money of those whose amount parsed (another column failed), and how many
    amounts are unknown (the amount itself failed)."""
    if rows.empty:
        return {"rows": 0}
    amount = amounts(rows[column]) if column in rows.columns else pd.Series(dtype=float)
    return {"rows": len(rows), "amount_known": round(float(amount.sum()), 2),
            "amount_unknown_rows": int(amount.isna().sum()) if len(amount) else len(rows)}


def money_passes(entry: dict) -> bool:
    """True when nothing in ``entry`` (one money column of ``money_check``) is unaccounted: no
    unexplained record, the destination equals what was loaded, and the source side adds up."""
    tol = MONEY_TOLERANCE
    ok = entry.get("unexplained", 0.0) == 0.0 and abs(entry["checked"] - entry["destination"]) < tol
    src = entry.get("source_side")
    if src:
        if src.get("attributed"):
            ok = ok and abs(src["to_payload"] - entry["payload"]) < tol and abs(src["no_record"]) < tol
        else:
            ok = ok and abs(src["source"] - entry["payload"]) < tol
    return ok
