"""Extract one source object: stream, type, validate, quarantine, and hand good chunks to a writer.

Dagster-free, so it is tested directly; ``flit_pipelines.assets`` wires it to Parquet and the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from flit_pipelines.sources.base import REJECT_COLUMN, Source
from flit_pipelines.sources.validate import PANDAS_DTYPES, split_chunk
from flit_pipelines.spec.model import SourceObject


@dataclass
class ExtractStats:
    """Counts and shape of one extract. No values: safe for logs and asset metadata."""

    rows_read: int = 0
    rows_kept: int = 0
    rows_filtered_by_wave: int = 0
    quarantined: int = 0
    null_counts: dict[str, int] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    missing_optional_columns: list[str] = field(default_factory=list)
    file_present: bool = True

    def null_rates(self) -> dict[str, float]:
        """Column -> share of null values among kept rows (0..1)."""
        n = max(self.rows_kept, 1)
        return {c: round(v / n, 4) for c, v in self.null_counts.items()}


def empty_frame(obj: SourceObject) -> pd.DataFrame:
    """A zero-row frame with the object's typed columns."""
    return pd.DataFrame({c: pd.Series([], dtype=PANDAS_DTYPES[s.type]) for c, s in obj.columns.items()})


def arrow_schema(obj: SourceObject) -> pa.Schema:
    """The Arrow schema of an object's typed extract (its Parquet file schema)."""
    return pa.Schema.from_pandas(empty_frame(obj), preserve_index=False)


def reader_rejects(obj: SourceObject, text: pd.DataFrame, *, first_row: int) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Split off the rows a reader flagged in ``REJECT_COLUMN`` (``sources.base``): (the other rows
    without that column, quarantine rows ``row_number, source_id, reason`` or None when none)."""
    if REJECT_COLUMN not in text.columns:
        return text, None
    reason = text.pop(REJECT_COLUMN)
    bad = reason.notna().to_numpy()
    if not bad.any():
        return text, None
    pk = obj.primary_key
    ids = text[pk][bad].fillna("").to_numpy() if pk in text.columns else np.full(int(bad.sum()), "", dtype=object)
    quarantine = pd.DataFrame({"row_number": np.flatnonzero(bad) + first_row, "source_id": ids,
                               "reason": reason[bad].to_numpy()})
    return text[~bad].reset_index(drop=True), quarantine


def run_extract(source: Source, obj: SourceObject, name: str, *,
                write: Callable[[pd.DataFrame], None],
                quarantine: Callable[[pd.DataFrame], None],
                keep_ids: pd.Index | None = None, limit: int | None = None,
                since: datetime | None = None) -> ExtractStats:
    """Stream ``obj`` through validation.

    Args:
        write: receives each chunk of good rows (typed frame).
        quarantine: receives each chunk's quarantine rows (source_id, row_number, reason).
        keep_ids: for a sample wave, keep only rows whose ``wave_key`` is in this index.
        limit: for the wave root in a sample wave, keep only the first ``limit`` good rows.
        since: for a delta wave, rows modified after it (naive; the source's convention, see
            ``Source.read``); objects without ``modified_at`` are read whole.
    Raises:
        MissingFileError, MissingColumnError: from the reader, before any row is written.
    """
    report = source.header(obj)
    stats = ExtractStats(extra_columns=report.extra, missing_optional_columns=report.missing_optional,
                         file_present=report.present, null_counts={c: 0 for c in obj.columns})
    seen = pd.Index([], dtype="string")
    for batch in source.read(obj, since=since):
        text = batch.to_pandas(types_mapper=pd.ArrowDtype).astype("string")
        text, rejected = reader_rejects(obj, text, first_row=stats.rows_read + 1)
        if rejected is not None:  # rows the reader could not read (e.g. a FHIR resource failing its model)
            stats.rows_read += len(rejected)
            stats.quarantined += len(rejected)
            quarantine(rejected)
        result = split_chunk(obj, name, text, first_row=stats.rows_read + 1, seen_keys=seen)
        stats.rows_read += len(text)
        good = result.good
        if obj.primary_key is not None:
            seen = seen.append(pd.Index(good[obj.primary_key].astype("string")))
        if len(result.quarantine):
            stats.quarantined += len(result.quarantine)
            quarantine(result.quarantine)
        if keep_ids is not None and obj.wave_key is not None:
            mask = good[obj.wave_key].isin(keep_ids)
            stats.rows_filtered_by_wave += int((~mask).sum())
            good = good[mask]
        if limit is not None:
            room = max(limit - stats.rows_kept, 0)
            stats.rows_filtered_by_wave += max(len(good) - room, 0)
            good = good.iloc[:room]
        if len(good):
            stats.rows_kept += len(good)
            for c, n in good.isna().sum().items():
                stats.null_counts[c] += int(n)
            write(good.reset_index(drop=True))
    return stats
