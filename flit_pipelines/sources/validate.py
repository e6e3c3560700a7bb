"""Typing and Pandera validation of extracted chunks, with quarantine instead of dropping.

Each chunk arrives as text columns. ``coerce_chunk`` converts them to the spec's types; a non-empty
value that does not parse becomes a "not a <type>" failure. ``pandera_schema`` derives a Pandera
``DataFrameSchema`` from the spec (nullability, allowed values, patterns, minimums). ``split_chunk``
runs both and returns the good rows and a quarantine frame: one row per failing source row with the
failing columns and checks as its reason. Reasons name columns and checks, never values (PHI).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from flit_pipelines.spec.model import ColumnSpec, SourceObject

# Quarantine rows also carry the row's typed values (unparsable cells null) in columns named
# "value:<column>", so derived-value accounting can tell which record lost an input row
# (flit_pipelines.reconcile.quarantined). They stay in the data directory, like the extract itself;
# the ledger stores source_id, row_number and reason only.
QUARANTINE_VALUE_PREFIX = "value:"

_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}

PANDAS_DTYPES = {
    "string": "string",
    "int": "Int64",
    "float": "float64",
    "money": "float64",
    "date": "datetime64[ns, UTC]",
    "datetime": "datetime64[ns, UTC]",
    "bool": "boolean",
}


def _coerce(raw: pd.Series, ctype: str) -> pd.Series:
    if ctype == "string":
        return raw.astype("string")
    if ctype in ("float", "money"):
        return pd.to_numeric(raw, errors="coerce").astype("float64")
    if ctype == "int":
        num = pd.to_numeric(raw, errors="coerce")
        whole = num.where(num.isna() | (num == np.floor(num)))
        return whole.astype("Int64")
    if ctype in ("date", "datetime"):
        return pd.to_datetime(raw, errors="coerce", utc=True, format="ISO8601")
    if ctype == "bool":
        low = raw.str.strip().str.lower()
        out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        out[low.isin(_TRUE)] = True
        out[low.isin(_FALSE)] = False
        return out
    raise ValueError(f"unknown column type {ctype!r}")


def coerce_chunk(obj: SourceObject, text: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Convert text columns to spec types.

    Returns:
        (typed frame, bool frame of parse failures with the same index and columns).
    """
    typed = {}
    failed = {}
    for name, col in obj.columns.items():
        raw = text[name]
        value = _coerce(raw, col.type)
        typed[name] = value
        failed[name] = raw.notna() & value.isna() if col.type != "string" else pd.Series(False, index=raw.index)
    return pd.DataFrame(typed, index=text.index), pd.DataFrame(failed, index=text.index)


def _checks(col: ColumnSpec) -> list[pa.Check]:
    checks = []
    if col.isin is not None:
        checks.append(pa.Check.isin(col.isin))
    if col.pattern is not None:
        checks.append(pa.Check.str_matches(col.pattern))
    if col.min is not None:
        checks.append(pa.Check.ge(col.min))
    return checks


def pandera_schema(obj: SourceObject, name: str) -> pa.DataFrameSchema:
    """The Pandera schema an object's typed extract must satisfy (derived from the spec)."""
    columns = {
        cname: pa.Column(PANDAS_DTYPES[c.type], checks=_checks(c), nullable=c.nullable,
                         coerce=False, required=True)
        for cname, c in obj.columns.items()
    }
    # the first occurrence of a repeated primary key is kept; later ones are quarantined
    unique = [obj.primary_key] if obj.primary_key else None
    return pa.DataFrameSchema(columns, name=name, strict=True, ordered=False, unique=unique,
                              report_duplicates="exclude_first")


@dataclass
class ChunkResult:
    """Good rows (typed) and quarantine rows (row_number, source_id, reason) of one chunk."""
    good: pd.DataFrame
    quarantine: pd.DataFrame  # columns: row_number, source_id, reason, value:<column>...


def split_chunk(obj: SourceObject, name: str, text: pd.DataFrame, *, first_row: int,
                seen_keys: pd.Index | None = None) -> ChunkResult:
    """Type, validate and split one chunk into good rows and quarantined rows.

    Args:
        text: the chunk as text columns (canonical names), default RangeIndex.
        first_row: 1-based data-row number of the chunk's first row in the file, for reasons.
        seen_keys: primary keys kept from earlier chunks; a repeat is quarantined as a duplicate.
    """
    text = text.reset_index(drop=True)
    typed, parse_failed = coerce_chunk(obj, text)
    reasons: dict[int, list[str]] = {}

    def add(mask: pd.Series, reason: str) -> None:
        for i in np.flatnonzero(mask.to_numpy()):
            reasons.setdefault(int(i), []).append(reason)

    for cname, col in obj.columns.items():
        if parse_failed[cname].any():
            add(parse_failed[cname], f"{cname}: not a {col.type}")
    pk = obj.primary_key
    if pk is not None and seen_keys is not None and len(seen_keys):
        add(typed[pk].isin(seen_keys).fillna(False), f"{pk}: duplicate primary key (seen in an earlier chunk)")

    schema = pandera_schema(obj, name)
    try:
        schema.validate(typed, lazy=True)
    except SchemaErrors as exc:
        fc = exc.failure_cases
        fc = fc[fc["index"].notna()]
        for (column, check), grp in fc.groupby(["column", "check"], dropna=False):
            idx = pd.to_numeric(grp["index"], errors="coerce").dropna().astype(int).unique()
            mask = pd.Series(False, index=typed.index)
            mask.iloc[idx[idx < len(mask)]] = True
            # a value that failed to parse is already explained; don't call it "not nullable" too
            if column in parse_failed:
                mask &= ~parse_failed[column]
            label = "duplicate primary key" if "uniqueness" in str(check) else str(check)
            add(mask, f"{column}: {label}")

    bad_idx = sorted(reasons)
    bad_mask = np.zeros(len(typed), dtype=bool)
    bad_mask[bad_idx] = True
    if pk is not None:
        source_ids = typed[pk].astype("string").fillna("")
    else:
        source_ids = pd.Series([""] * len(typed), dtype="string")
    quarantine = pd.DataFrame({
        "row_number": np.asarray(bad_idx, dtype="int64") + first_row,
        "source_id": source_ids.iloc[bad_idx].to_numpy() if bad_idx else np.array([], dtype=object),
        "reason": ["; ".join(dict.fromkeys(reasons[i])) for i in bad_idx],
    })
    values = typed.iloc[bad_idx].reset_index(drop=True).add_prefix(QUARANTINE_VALUE_PREFIX)
    quarantine = pd.concat([quarantine, values], axis=1)
    return ChunkResult(good=typed.loc[~bad_mask].reset_index(drop=True), quarantine=quarantine)
