"""Extract one source object: stream, type, validate, quarantine, and hand good chunks to a writer.

Dagster-free, so it is tested directly; ``flit_pipelines.assets`` wires it to Parquet and the ledger.
Every source row ends as kept, outside the wave (sample waves) or quarantined with a reason:
``rows_read = rows_kept + rows_filtered_by_wave + quarantined``. Blank lines of a file are not rows;
they are counted apart (``blank_lines``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa

from flit_pipelines.sources.base import LINE_COLUMN, REJECT_COLUMN, ROW_COLUMN, Source
from flit_pipelines.sources.validate import (
    PANDAS_DTYPES,
    SeenKeys,
    python_strings,
    split_chunk,
)
from flit_pipelines.spec.model import SourceObject

_RESERVED = (ROW_COLUMN, LINE_COLUMN, REJECT_COLUMN)


@dataclass
class ExtractStats:
    """Counts and shape of one extract. No values: safe for logs and asset metadata.

    ``warnings``: rows per warning rule label (``"CITY: control_characters"``); ``blank_lines``:
    blank lines skipped (not rows); ``rows_unreadable``: rows the reader could not parse (wrong
    number of fields, broken quoting, undecodable text; part of ``quarantined``); ``source_format``:
    how the file was read (encoding, delimiter, how each was decided, header line, block bytes).
    """

    rows_read: int = 0
    rows_kept: int = 0
    rows_filtered_by_wave: int = 0
    quarantined: int = 0
    null_counts: dict[str, int] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    missing_optional_columns: list[str] = field(default_factory=list)
    file_present: bool = True
    warnings: dict[str, int] = field(default_factory=dict)
    blank_lines: int = 0
    rows_unreadable: int = 0
    duplicate_headers: list[str] = field(default_factory=list)
    loose_header_matches: list[str] = field(default_factory=list)
    source_format: dict[str, object] = field(default_factory=dict)

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


def run_extract(source: Source, obj: SourceObject, name: str, *,
                write: Callable[[pd.DataFrame], None] | None = None,
                quarantine: Callable[[pd.DataFrame], None],
                write_table: Callable[[pa.Table], None] | None = None,
                keep_ids: pd.Index | None = None, limit: int | None = None,
                since: datetime | None = None, now: datetime | None = None) -> ExtractStats:
    """Stream ``obj`` through validation.

    Args:
        write: receives each chunk of good rows (typed frame; text as pandas ``string``).
        write_table: instead of ``write``, receives each chunk of good rows as an Arrow table with
            ``arrow_schema(obj)`` (what a Parquet writer takes; text never becomes Python strings).
        quarantine: receives each chunk's quarantine rows (source_id, row_number, reason, line: the
            physical line in the file, or null for sources without lines).
        keep_ids: for a sample wave, keep only rows whose ``wave_key`` is in this index.
        limit: for the wave root in a sample wave, keep only the first ``limit`` good rows.
        since: for a delta wave, rows modified after it (naive; the source's convention, see
            ``Source.read``); objects without ``modified_at`` are read whole.
        now: the clock of ``not_in_future`` rules (default: the time the extract starts, UTC).
    Raises:
        ValueError: neither or both of ``write`` and ``write_table`` given.
        MissingFileError, MissingColumnError, SourceFormatError: from the reader, before any row is
            written (SourceFormatError for "most rows malformed" after the file was read).
    """
    if (write is None) == (write_table is None):
        raise ValueError("run_extract needs exactly one of write and write_table")
    schema = arrow_schema(obj) if write_table is not None else None
    report = source.header(obj)
    stats = ExtractStats(extra_columns=report.extra, missing_optional_columns=report.missing_optional,
                         file_present=report.present, null_counts={c: 0 for c in obj.columns},
                         duplicate_headers=list(getattr(report, "duplicate_headers", [])),
                         loose_header_matches=list(getattr(report, "loose_matches", [])))
    if getattr(report, "encoding", None):
        stats.source_format = {"encoding": report.encoding, "encoding_detected_by": report.encoding_how,
                               "delimiter": report.delimiter, "delimiter_detected_by": report.delimiter_how,
                               "header_line": report.header_line, "header_fields": report.fields,
                               "trailing_delimiter": report.trailing_delimiter}
    now = now or datetime.now(UTC)
    seen = SeenKeys()
    warnings: Counter = Counter()
    # with line numbers and rejected rows, or typed columns (database sources), where offered
    read = getattr(source, "read_rows", None) or getattr(source, "read_typed", None) or source.read
    for batch in read(obj, since=since):
        names = batch.schema.names
        extra = {c: batch.column(c) for c in _RESERVED if c in names}
        data = batch.select([c for c in names if c not in extra]) if extra else batch
        # Arrow-backed: text rules run zero-copy, typed columns are converted without text
        text = data.to_pandas(types_mapper=pd.ArrowDtype)
        rejects = extra[REJECT_COLUMN].to_pandas() if REJECT_COLUMN in extra else None
        result = split_chunk(
            obj, name, text, first_row=stats.rows_read + 1, seen_keys=seen, now=now,
            rows=extra[ROW_COLUMN].to_numpy() if ROW_COLUMN in extra else None,
            lines=extra[LINE_COLUMN].to_numpy() if LINE_COLUMN in extra else None, rejects=rejects)
        stats.rows_read += len(text)
        warnings.update(result.warnings)
        if rejects is not None:
            stats.rows_unreadable += int(rejects.notna().sum())
        good = result.kept  # text still Arrow-backed
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
            if write_table is not None:
                # one thread: pyarrow would start a thread pool per chunk for a frame this size (CPU, not speed)
                table = pa.Table.from_pandas(good, schema=schema, preserve_index=False, nthreads=1)
                for c in good.columns:  # NaN, NaT and <NA> are all Arrow nulls: the counts isna() gives
                    stats.null_counts[c] += table.column(c).null_count
                write_table(table)
            elif write is not None:  # exactly one of the two is given (checked above)
                for c, n in good.isna().sum().items():
                    stats.null_counts[c] += int(n)
                write(python_strings(good.reset_index(drop=True)))
    stats.warnings = dict(sorted(warnings.items()))
    notes_of = getattr(source, "read_notes", None)
    notes = notes_of(obj) if notes_of is not None else None
    if notes is not None:
        stats.blank_lines = notes.blank_lines
        stats.source_format["block_bytes"] = notes.block_bytes
    return stats


def extract_input_doc(stats: ExtractStats) -> dict[str, object]:
    """What the extract met in its input, for asset metadata and the extract report (counts, rule
    labels, header names and format facts; never a value): ``warnings`` (rule label -> rows),
    ``rows_unreadable``, ``blank_lines``, ``duplicate_headers``, ``loose_header_matches`` and, for
    files, ``source_format`` (encoding, delimiter, how each was decided, header line, block bytes)."""
    doc: dict[str, object] = {"warnings": stats.warnings, "rows_unreadable": stats.rows_unreadable,
                              "blank_lines": stats.blank_lines, "duplicate_headers": stats.duplicate_headers,
                              "loose_header_matches": stats.loose_header_matches}
    if stats.source_format:
        doc["source_format"] = stats.source_format
    return doc


def write_quarantine_lines(path: Path, quarantined: pd.DataFrame) -> None:
    """The extract's quarantine rows for staff: ``row_number``, ``line`` (in the file, empty for
    sources without lines), ``source_id``, ``reason``; written (or replaced) even when empty, so a
    re-run leaves no stale list."""
    cols = ["row_number", "line", "source_id", "reason"]
    frame = quarantined.reindex(columns=cols) if len(quarantined) else pd.DataFrame(columns=cols)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.sort_values("row_number", kind="stable").to_csv(path, index=False)
