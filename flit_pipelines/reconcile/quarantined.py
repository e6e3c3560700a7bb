"""Rows quarantined at extract, with their typed values, kept beside the extract for accounting.

The ledger's quarantine table says which rows were quarantined and why (source ID, row number,
reason). Derived-value accounting also needs to know which record a quarantined row belonged to:
a ``claims_transactions`` row with an unparsable ``AMOUNT`` still has a ``CLAIMID``, so the billing
deal of that claim is known to miss it. ``sources.validate.split_chunk`` hands over each quarantined
row's typed values (unparsable cells null) in ``value:<column>`` columns; this module stores them as
one Parquet file per object and wave (``<data>/parquet/<migration>/extract_quarantine/<object>/
<wave>.parquet``, beside the extracts, which hold the same kind of data) and reads them back.
Rows quarantined before typing (a ragged CSV row) have no values: their columns are null, and the
accounting reports them as not attributable to a record.
"""

from __future__ import annotations

import pandas as pd
from upath import UPath

from flit_pipelines.sources.extract import empty_frame
from flit_pipelines.sources.validate import QUARANTINE_VALUE_PREFIX
from flit_pipelines.spec.model import SourceObject

META_COLUMNS = ["source_id", "row_number", "reason"]


def quarantined_values(obj: SourceObject, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (quarantine rows as the extract hands them over) as columns source_id, row_number,
    reason plus every column of ``obj`` in its extract dtype (null where the row has no value)."""
    base = empty_frame(obj)
    out = pd.DataFrame({c: rows[c] if c in rows.columns else pd.Series(pd.NA, index=rows.index)
                        for c in META_COLUMNS}).reset_index(drop=True)
    out["source_id"] = out["source_id"].astype("string")
    out["reason"] = out["reason"].astype("string")
    out["row_number"] = pd.to_numeric(out["row_number"], errors="coerce").astype("Int64")
    for col, dtype in base.dtypes.items():
        src = QUARANTINE_VALUE_PREFIX + col
        values = rows[src].reset_index(drop=True) if src in rows.columns else pd.Series(pd.NA, index=out.index)
        try:
            out[col] = values.astype(dtype)
        except (TypeError, ValueError):  # a column of nulls only, or a mixed object column
            out[col] = pd.Series(pd.NA, index=out.index).astype(dtype)
    return out


def write_quarantined(path: UPath, obj: SourceObject, rows: pd.DataFrame, *, carry_from: UPath | None = None,
                      still_good: pd.Index | None = None) -> int:
    """Write the quarantined rows of one extract to ``path`` (temporary file, then rename).

    ``carry_from`` (a delta wave of an object read since its cursor): the previous wave's file; its
    rows stay quarantined unless the source now returned them good (``still_good``: the primary
    keys of the new snapshot) or quarantined again (replaced by the new rows). Returns the row count.
    """
    frame = quarantined_values(obj, rows)
    if carry_from is not None and carry_from.exists():
        before = read_quarantined(carry_from, obj)
        gone = before["source_id"].isin(frame["source_id"].dropna())
        if still_good is not None:
            gone |= before["source_id"].isin(still_good.astype("string"))
        frame = pd.concat([before[~gone], frame], ignore_index=True) if len(before) else frame
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        frame.to_parquet(fh, index=False)
    tmp.rename(path)
    return len(frame)


def read_quarantined(path: UPath, obj: SourceObject) -> pd.DataFrame:
    """The quarantined rows of ``path`` (see ``quarantined_values``); none when the file is absent
    (an extract written before this file existed)."""
    if not path.exists():
        return quarantined_values(obj, pd.DataFrame(columns=META_COLUMNS))
    with path.open("rb") as fh:
        return pd.read_parquet(fh)
