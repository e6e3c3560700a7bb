"""The extract step of a delta wave: read since the wave's ``since``, merge into the previous snapshot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from flit_pipelines.delta.snapshot import base_wave, merge_snapshot, reported_deletions, scan_keys
from flit_pipelines.delta.window import since_of
from flit_pipelines.sources.base import Source
from flit_pipelines.sources.extract import ExtractStats, arrow_schema, empty_frame, run_extract
from flit_pipelines.spec.model import SourceObject


@dataclass
class DeltaExtract:
    """A delta wave's extract of one object. ``stats.rows_read`` counts the snapshot (rows kept +
    quarantined now), so the count check reconciles the snapshot; ``rows_changed`` is what the
    source returned for the wave; ``deleted`` the keys that left the source; ``base`` the wave the
    snapshot was built on; ``read_whole`` whether the object was read whole (no ``modified_at``);
    ``deletions_suspended``: the reader could not read some rows, whose keys are unknown, so no key is
    reported deleted this wave (a malformed row must not delete its record in the destination)."""

    stats: ExtractStats
    path: UPath
    rows_changed: int
    deleted: pd.Index
    base: str
    read_whole: bool
    key_scan: bool
    deletions_suspended: bool = False


def extract_delta(source: Source, obj: SourceObject, name: str, final_path: UPath, wave: str,
                  quarantine: Callable[[pd.DataFrame], None], *, key_scan: bool) -> DeltaExtract:
    """Read ``obj`` since ``wave``'s ``since`` (whole without ``modified_at``), merge it into the previous
    snapshot (``snapshot.base_wave``), find deletions (``key_scan``: list the keys; see
    ``snapshot.scans_keys``; and what the reader reports, ``snapshot.reported_deletions``), and write the new snapshot
    to ``final_path`` (temporary file, then rename).

    Raises MissingBaseSnapshotError before the full wave; reader errors as ``run_extract``.
    """
    read_whole = obj.modified_at is None
    since = None if read_whole else since_of(wave)
    base = base_wave(final_path, wave)
    changed: list[pd.DataFrame] = []
    q_ids: list[pd.Series] = []

    def keep_quarantine(df: pd.DataFrame) -> None:
        q_ids.append(df["source_id"].astype("string"))
        quarantine(df)

    stats = run_extract(source, obj, name, write=changed.append, quarantine=keep_quarantine, since=since)
    changed_frame = pd.concat(changed, ignore_index=True) if changed else empty_frame(obj)
    base_frame = pd.read_parquet(final_path.with_name(f"{base}.parquet"))
    suspended = stats.rows_unreadable > 0  # a missing key may be one of those rows: keep, don't delete
    present = scan_keys(source, obj) if key_scan and not suspended else None
    merged, deleted = merge_snapshot(base_frame, changed_frame, obj, read_whole=read_whole and not suspended,
                                     present_keys=present, quarantined_ids=pd.concat(q_ids) if q_ids else (),
                                     reported_deleted=reported_deletions(source, obj, since))
    schema = arrow_schema(obj)
    tmp = final_path.with_name(final_path.name + ".tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(merged if len(merged) else empty_frame(obj), schema=schema,
                                        preserve_index=False), tmp.path, filesystem=tmp.fs)
    tmp.rename(final_path)
    rows_changed = stats.rows_read
    stats.rows_read = len(merged) + stats.quarantined
    stats.rows_kept = len(merged)
    return DeltaExtract(stats, final_path, rows_changed, deleted, base, read_whole, key_scan, suspended)
