"""The PHI review queue: records of note and attachment targets held for PHI review, and approvals.

Held records are the load quarantine rows whose reason starts with ``held for PHI review:`` (written
by ``load_target``); approvals are the ledger's ``phi_approval`` rows (``flit phi approve``). The
queue names targets, source IDs and pattern names only, never the text that matched.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from flit_pipelines.ledger import Ledger
from flit_pipelines.reports.staff_csv import write_staff_csv
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.transform.phi import HOLD_PREFIX, patterns_of

QUEUE_NAME = "phi_review_queue.csv"
QUEUE_COLUMNS = ["target", "source_id", "patterns", "status", "approved_by", "approved_at"]


def held_frame(ledger: Ledger, spec: MigrationSpec, wave: str | None = None) -> pd.DataFrame:
    """Records held now (not yet approved): columns target, source_id, patterns, wave; one row per
    (target, source ID), the latest wave's when ``wave`` is None."""
    q = ledger.quarantine_frame(spec.migration, wave, "load")
    q = q[q["reason"].astype("string").str.startswith(HOLD_PREFIX).fillna(False).astype(bool)]
    q = q[q["object"].isin([n for n, t in spec.targets.items() if t.phi_review is not None])]
    out = pd.DataFrame({"target": q["object"], "source_id": q["source_id"].astype("string"),
                        "patterns": patterns_of(q["reason"]), "wave": q["wave"]})
    return out.drop_duplicates(["target", "source_id"], keep="last").reset_index(drop=True)


def queue_frame(ledger: Ledger, spec: MigrationSpec, wave: str | None = None) -> pd.DataFrame:
    """The review queue (columns ``QUEUE_COLUMNS``): held records (status ``held``) and every approval
    of the migration (status ``approved``; sent by the next load), sorted by target and source ID."""
    approvals = ledger.phi_approvals(spec.migration).assign(status="approved")
    approvals["source_id"] = approvals["source_id"].astype("string")
    held = held_frame(ledger, spec, wave).assign(status="held", approved_by=pd.NA, approved_at=pd.NA)
    known = pd.MultiIndex.from_frame(approvals[["target", "source_id"]])
    held = held[~pd.MultiIndex.from_frame(held[["target", "source_id"]]).isin(known)]
    parts = [df[QUEUE_COLUMNS] for df in (held, approvals) if len(df)]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=QUEUE_COLUMNS)
    return out.sort_values(["target", "source_id"], kind="stable").reset_index(drop=True)


def queue_counts(queue: pd.DataFrame) -> dict:
    """``{"held": n, "approved": n, "by_target": {target: {"held": n, "approved": n}}}``."""
    by = queue.groupby(["target", "status"]).size().unstack(fill_value=0) if len(queue) else pd.DataFrame()
    return {"held": int((queue["status"] == "held").sum()), "approved": int((queue["status"] == "approved").sum()),
            "by_target": {str(t): {s: int(r.get(s, 0)) for s in ("held", "approved")} for t, r in by.iterrows()}}


def write_queue(ledger: Ledger, spec: MigrationSpec, wave: str, out_dir: Path) -> Path:
    """Write ``<out_dir>/phi_review_queue.csv`` for the wave (held in this wave, plus approvals), for
    people (``reports.staff_csv``)."""
    return write_staff_csv(queue_frame(ledger, spec, wave), Path(out_dir) / QUEUE_NAME)
