"""Side files of the asset graph that carry per-record accounting between steps.

* ``[m, "extract_quarantine", <object>]``: the rows an extract quarantined, with their typed values
  (``reconcile.quarantined``), written by the extract step, read by the payload and load steps;
* ``[m, "payload_issues", <target>]``: per payload record, why it must not be sent as is (a derived
  value missing input rows, a non-finite number), written by the payload step
  (``transform.payload.build_payload_checked``), turned into holds and flags by the load step.

Both live under the Parquet root (``ParquetStore``), one file per wave partition, beside the assets.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from flit_pipelines.assets.io_manager import ParquetStore
from flit_pipelines.reconcile.quarantined import read_quarantined, write_quarantined
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.transform.payload import ISSUE_COLUMNS


def quarantine_path(parquet: ParquetStore, spec: MigrationSpec, obj: str, wave: str):
    """``<parquet root>/<migration>/extract_quarantine/<object>/<wave>.parquet``."""
    return parquet.path_for(dg.AssetKey([spec.migration, "extract_quarantine", obj]), wave)


def issues_path(parquet: ParquetStore, spec: MigrationSpec, target: str, wave: str):
    """``<parquet root>/<migration>/payload_issues/<target>/<wave>.parquet``."""
    return parquet.path_for(dg.AssetKey([spec.migration, "payload_issues", target]), wave)


def save_extract_quarantine(parquet: ParquetStore, spec: MigrationSpec, obj: str, wave: str, rows: pd.DataFrame,
                            extract_path, base_wave: str | None = None) -> int:
    """Store one extract's quarantined rows. ``base_wave`` (a delta wave of an object read since its
    cursor): rows quarantined in that wave stay quarantined unless this wave read them again or the
    new snapshot at ``extract_path`` holds them good. Returns the rows stored."""
    o = spec.objects[obj]
    carry, good = None, None
    if base_wave is not None:
        carry = quarantine_path(parquet, spec, obj, base_wave)
        if o.primary_key:
            good = pd.Index(pd.read_parquet(extract_path, columns=[o.primary_key])[o.primary_key])
    return write_quarantined(quarantine_path(parquet, spec, obj, wave), o, rows, carry_from=carry, still_good=good)


def load_quarantined(parquet: ParquetStore, spec: MigrationSpec, objects: list[str], wave: str
                     ) -> dict[str, pd.DataFrame]:
    """Object -> its quarantined rows of ``wave`` (typed values), for ``objects``."""
    return {o: read_quarantined(quarantine_path(parquet, spec, o, wave), spec.objects[o]) for o in objects}


def save_issues(parquet: ParquetStore, spec: MigrationSpec, target: str, wave: str, issues: pd.DataFrame) -> None:
    """Write a payload's issues (columns ``ISSUE_COLUMNS``), replacing the wave's previous file."""
    path = issues_path(parquet, spec, target, wave)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        issues[ISSUE_COLUMNS].astype("string").to_parquet(fh, index=False)
    tmp.rename(path)


def read_issues(parquet: ParquetStore, spec: MigrationSpec, target: str, wave: str) -> pd.DataFrame:
    """The payload's issues of ``wave``; none when the payload step wrote no file."""
    path = issues_path(parquet, spec, target, wave)
    if not path.exists():
        return pd.DataFrame(columns=ISSUE_COLUMNS, dtype="string")
    with path.open("rb") as fh:
        return pd.read_parquet(fh)


def holds_and_flags(spec: MigrationSpec, target: str, issues: pd.DataFrame) -> tuple[pd.Series, dict]:
    """(reason by source ID of the records not to send, the load document's ``payload_issues``).

    Non-finite numbers are always held back (refused); derived values missing input rows are held by
    default, or sent and listed as flagged (``Target.on_derive_input_loss: flag``). The document
    counts each kind, lists the flagged records (source ID and reason) and the quarantined input
    rows no record can be told to miss.
    """
    t = spec.targets[target]
    per_record = issues[issues["source_id"].notna()]
    derived = per_record["kind"] == "derived_input_missing"
    hold = per_record[~derived | (t.on_derive_input_loss == "hold")]
    flag = per_record[derived & (t.on_derive_input_loss == "flag")]

    def by_record(frame: pd.DataFrame) -> pd.Series:
        return frame.groupby("source_id", sort=True)["reason"].agg("; ".join).astype("string")

    doc = {"mode": t.on_derive_input_loss, "held": int(hold["source_id"].nunique()),
           "by_kind": per_record["kind"].value_counts().to_dict(),
           "flagged": [{"source_id": s, "reason": r} for s, r in by_record(flag).items()],
           "unattributed_inputs": issues.loc[issues["source_id"].isna(), "reason"].tolist()}
    return by_record(hold), doc
