"""What changed in the source since the cursor: the delta sensor's look at the source.

Objects with ``modified_at`` are read since the cursor minus the overlap, keys and timestamps only
(one filtered query per object on a database; the filtered pages on an API); a row counts as changed
when its timestamp is after the cursor; where keys are scanned (``snapshot.scans_keys``: databases and
files by default) the key set is hashed too, so a deletion counts as a change, and so do the
deletions a reader reports itself (``snapshot.reported_deletions``). Objects without ``modified_at`` are
fingerprinted whole (``snapshot.fingerprint``) and count as changed when the fingerprint moved. The
first tick of a window compares with the fingerprints taken when the full wave started
(``baseline_fingerprints``) where the source is local; an API source's first tick looks once. An
object whose file or required column is gone (drift) counts as changed, so the delta run starts and its
source-profile check stops it with the reason and the command to re-propose, instead of the tick failing
here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from flit_pipelines.delta.snapshot import (KEY_SCAN_SOURCES, fingerprint, key_object, reported_deletions, scan_keys,
                                          scans_keys)
from flit_pipelines.delta.window import DeltaCursor, naive_newest
from flit_pipelines.sources.base import Source
from flit_pipelines.sources.csv_export import MissingColumnError, MissingFileError
from flit_pipelines.spec.model import MigrationSpec


@dataclass
class Probe:
    """One look at the source. ``changed``: object -> changed rows (objects with ``modified_at``) or
    -1 (a whole object whose fingerprint moved). ``newest``: the newest modification seen (naive).
    ``since``: the value the delta wave's extracts apply (cursor minus overlap), or None."""

    changed: dict[str, int] = field(default_factory=dict)
    newest: datetime | None = None
    since: datetime | None = None
    fingerprints: dict[str, str] = field(default_factory=dict)


def key_set_hash(source: Source, obj) -> str:
    """SHA-256 over the object's primary keys in the source now (sorted text): moves when a key leaves."""
    keys = scan_keys(source, obj).sort_values()
    return hashlib.sha256(pd.util.hash_pandas_object(pd.Series(keys), index=False).to_numpy().tobytes()).hexdigest()


def baseline_fingerprints(source: Source, spec: MigrationSpec) -> dict[str, str]:
    """The fingerprints a tick compares with (``Probe.fingerprints``: whole objects without ``modified_at``
    and the key sets of key-scanned ones), taken when the full wave starts, so the window's first tick
    finds no change where there was none instead of running a delta wave over every such object. Taken
    before the extracts read: a change in between shows as a change (a delta wave too many, never one too
    few). Only for sources whose reads are local (``snapshot.KEY_SCAN_SOURCES``: a database, an export
    directory); {} for the APIs, where it would page whole collections (their first tick looks once)."""
    if spec.source.kind not in KEY_SCAN_SOURCES:
        return {}
    out: dict[str, str] = {}
    for name, obj in spec.objects.items():
        try:
            if obj.modified_at is None:
                out[name] = fingerprint(source, obj)
            elif scans_keys(spec, obj):
                out[f"{name}#keys"] = key_set_hash(source, obj)
        except (MissingColumnError, MissingFileError) as exc:  # as ``probe_source`` records a drifted object
            out[name] = f"drifted: {type(exc).__name__}"
    return out


def baseline_file(parquet_root, migration: str):
    """Where the full wave keeps ``baseline_fingerprints``: ``<parquet root>/<migration>/delta_baseline/full.json``
    (beside the full wave's extracts, which the window's first cursor is read from as well)."""
    return parquet_root / migration / "delta_baseline" / "full.json"


def save_baseline(path, fingerprints: dict[str, str]) -> None:
    """Write ``fingerprints`` as JSON to ``path`` (a UPath or Path); content hashes only, no values."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fingerprints": fingerprints}, sort_keys=True))


def read_baseline(path) -> dict[str, str]:
    """The fingerprints ``save_baseline`` wrote, {} when there is none (an API source, an older full wave)."""
    return dict(json.loads(path.read_text())["fingerprints"]) if path.exists() else {}


def probe_source(source: Source, spec: MigrationSpec, cursor: DeltaCursor) -> Probe:
    """Read what changed since ``cursor`` (see the module docstring). Raises what the reader raises."""
    last = cursor.since_dt()
    since = last - timedelta(minutes=spec.delta.overlap_minutes) if last else None
    probe = Probe(newest=last, since=since)
    for name, obj in spec.objects.items():
        try:
            _probe_object(source, spec, name, obj, cursor, probe, last, since)
        except (MissingColumnError, MissingFileError) as exc:  # drift: the wave's drift check reports it
            probe.fingerprints[name] = f"drifted: {type(exc).__name__}"
            if cursor.fingerprints.get(name) != probe.fingerprints[name]:
                probe.changed[name] = -1
    return probe


def _probe_object(source: Source, spec: MigrationSpec, name: str, obj, cursor: DeltaCursor, probe: Probe,
                  last: datetime | None, since: datetime | None) -> None:
    """One object's look (module docstring), into ``probe``."""
    if obj.modified_at is None:
        fp = fingerprint(source, obj)
        probe.fingerprints[name] = fp
        if cursor.fingerprints.get(name) != fp:
            probe.changed[name] = -1
        return
    if scans_keys(spec, obj):  # a deletion leaves no timestamp behind: it shows in the key set
        keys = key_set_hash(source, obj)
        probe.fingerprints[f"{name}#keys"] = keys
        if cursor.fingerprints.get(f"{name}#keys") != keys:
            probe.changed[name] = -1
    stamps = [b.column(obj.modified_at).to_pandas() for b in source.read(key_object(obj), since=since)]
    reported = reported_deletions(source, key_object(obj), since)  # e.g. a FHIR export's deleted files
    if reported is not None and len(reported):  # seen again within the overlap: a change only once
        fp = hashlib.sha256("\n".join(sorted(reported)).encode()).hexdigest()
        probe.fingerprints[f"{name}#deleted"] = fp
        if cursor.fingerprints.get(f"{name}#deleted") != fp:
            probe.changed[name] = max(len(reported), probe.changed.get(name, 0))
    if not stamps:
        return
    values = pd.concat(stamps, ignore_index=True)
    ts = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601").dt.tz_convert(None)
    after = int((ts > pd.Timestamp(last)).sum()) if last else int(ts.notna().sum())
    if after:
        probe.changed[name] = max(after, probe.changed.get(name, 0))
    newest = naive_newest(values)
    if newest is not None and (probe.newest is None or newest > probe.newest):
        probe.newest = newest
