"""The extract snapshot of a delta wave: the previous snapshot with the changed rows merged in.

Each delta partition's extract is a complete snapshot of the object (previous snapshot, rows changed
since the cursor replacing theirs by primary key, rows deleted in the source removed), so payloads
are built from whole joins (a changed insurance row still meets its unchanged patient) and the load's
payload-hash comparison sends only the records whose request body changed. Objects without
``modified_at`` are read whole each time; that *is* the hash fallback of the issue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import pandas as pd
from upath import UPath

from flit_pipelines.delta.window import PREFIX, is_delta
from flit_pipelines.sources.base import Source
from flit_pipelines.spec.model import MigrationSpec, SourceObject


# Sources where listing every key is cheap (one query, one local file). On the APIs a key scan pages the
# whole collection, so it runs only where a spec asks for it (SourceObject.deletions: key_scan).
KEY_SCAN_SOURCES = ("database", "csv_export")


def scans_keys(spec: MigrationSpec, obj: SourceObject) -> bool:
    """Whether deletions of ``obj`` (read since the cursor) are found by listing its keys: the object's
    ``deletions``, else the source's default (``KEY_SCAN_SOURCES``); never without a primary key."""
    mode = obj.deletions or ("key_scan" if spec.source.kind in KEY_SCAN_SOURCES else "none")
    return mode == "key_scan" and obj.primary_key is not None and obj.modified_at is not None


class MissingBaseSnapshotError(RuntimeError):
    """A delta wave ran before the full wave produced a snapshot of the object."""


def base_wave(extract_path: UPath, wave: str) -> str:
    """The wave whose snapshot a delta wave builds on: the newest delta partition before ``wave``
    that has a file beside ``extract_path`` (``<key path>/<wave>.parquet``), else ``full``.

    Raises MissingBaseSnapshotError when not even the full wave's file exists.
    """
    folder = extract_path.parent
    earlier = sorted(p.name.removesuffix(".parquet") for p in folder.iterdir()
                     if p.name.startswith(PREFIX) and p.name.endswith(".parquet")) if folder.exists() else []
    earlier = [w for w in earlier if is_delta(w) and w < wave]
    if earlier:
        return earlier[-1]
    if (folder / "full.parquet").exists():
        return "full"
    raise MissingBaseSnapshotError(f"{folder.name}: no full-wave extract to build the delta wave {wave} on; "
                                   "run the full wave first")


def key_object(obj: SourceObject) -> SourceObject:
    """``obj`` reduced to its primary key and modified-at columns (a cheap key scan or probe read)."""
    keep = [c for c in (obj.primary_key, obj.modified_at) if c]
    return obj.model_copy(update={"columns": {c: obj.columns[c] for c in keep}, "download": None,
                                  "wave_key": None})


def reported_deletions(source: Source, obj: SourceObject, since) -> pd.Index | None:
    """Keys the source reports deleted since ``since`` (a reader's optional ``deleted_keys``, e.g.
    ``FhirSource``); None when the reader reports none or there is no ``since``."""
    report = getattr(source, "deleted_keys", None)
    return report(obj, since) if report is not None and since is not None else None


def scan_keys(source: Source, obj: SourceObject) -> pd.Index:
    """Every primary key the source holds for ``obj`` now (text), read in the reader's batches."""
    pk = obj.primary_key
    parts = [b.column(pk).to_pandas().astype("string") for b in source.read(key_object(obj))]
    return pd.Index(pd.concat(parts, ignore_index=True) if parts else pd.Series([], dtype="string")).dropna()


def merge_snapshot(base: pd.DataFrame, changed: pd.DataFrame, obj: SourceObject, *, read_whole: bool,
                   present_keys: pd.Index | None = None,
                   quarantined_ids: Iterable[str] = (),
                   reported_deleted: pd.Index | None = None) -> tuple[pd.DataFrame, pd.Index]:
    """(new snapshot, primary keys deleted in the source since ``base``).

    ``read_whole``: ``changed`` is the whole object (no ``modified_at``), so it is the snapshot; keys of
    ``base`` missing from it (and not quarantined this time, i.e. still in the source) were deleted.
    Otherwise ``changed`` replaces its keys' rows in ``base``; with ``present_keys`` (a key scan) rows
    whose key left the source are removed. Objects without a primary key are always read whole and
    never report deletions. Rows changed this wave but quarantined drop out of the snapshot (the
    destination keeps its last good state; the quarantine says why). ``reported_deleted``: keys the
    source itself reports deleted (``Source.deleted_keys``: a FHIR Bulk export's ``deleted`` files,
    ``active = false``) leave the snapshot and count as deleted, changed rows of theirs included.
    """
    pk = obj.primary_key
    if pk is None:
        return changed.reset_index(drop=True), pd.Index([], dtype="string")
    base_keys = base[pk].astype("string")
    quarantined = pd.Index(list(quarantined_ids), dtype="string")
    if read_whole:
        merged = changed
        gone = ~base_keys.isin(changed[pk].astype("string")) & ~base_keys.isin(quarantined)
    else:
        keep = ~base_keys.isin(changed[pk].astype("string")) & ~base_keys.isin(quarantined)
        merged = pd.concat([base[keep], changed], ignore_index=True) if len(changed) else base[keep]
        # back in key order, as the full wave read it (databases ORDER BY the key; the APIs page by ID):
        # a derive's `agg: first` must not pick another row because a changed row moved to the end
        merged = merged.sort_values(pk, kind="stable")
        gone = pd.Series(False, index=base.index)
        if present_keys is not None:
            gone = ~base_keys.isin(present_keys)
            merged = merged[merged[pk].astype("string").isin(present_keys)]
    if reported_deleted is not None and len(reported_deleted):
        gone = gone | base_keys.isin(reported_deleted)
        merged = merged[~merged[pk].astype("string").isin(reported_deleted)]
    deleted = pd.Index(base_keys[gone].dropna().unique(), dtype="string")
    return merged.reset_index(drop=True), deleted


def fingerprint(source: Source, obj: SourceObject) -> str:
    """SHA-256 over the object's rows as the reader delivers them (row order included): a change
    detector for objects without ``modified_at``. Reads the object whole, batch by batch."""
    digest = hashlib.sha256()
    for batch in source.read(obj):
        frame = batch.to_pandas().astype("string")
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
