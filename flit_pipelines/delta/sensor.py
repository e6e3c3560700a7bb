"""The delta-pickup sensor of one migration (issue 5; Dagster sensors, dagster_and_anchors.md).

The window opens when the full wave's report is materialised and stays open ``delta.window_hours``
(24-48). Each evaluation inside it looks at the source (``probe.probe_source``); when something
changed it adds the dynamic partition ``delta-<since>``, requests one run of the affected assets for
it (``run_key`` = partition + what was seen, so an evaluation repeated after a crash never runs
twice) and moves the cursor to the newest modification seen. Outside the window it skips with the
reason. Affected assets: the field map (its approval check gates every load), the source profile
(its blocking drift check stops the run before any extract when the source drifted), every extract (each
delta extract is a whole snapshot; unchanged objects cost one filtered read), the payloads and loads
of targets fed by a changed object, and the report.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from flit_pipelines.assets.io_manager import ParquetStore
from flit_pipelines.delta.probe import Probe, baseline_file, probe_source, read_baseline
from flit_pipelines.delta.window import DeltaCursor, naive_newest, next_partition, window_end
from flit_pipelines.errors import value_free_errors
from flit_pipelines.sources.registry import open_source
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.tenants import DEFAULT_TENANT, partition_key, tenant_run_tags
from flit_pipelines.transform.payload import needed_objects


def now() -> float:
    """Epoch seconds (a seam for tests of the window)."""
    return time.time()


def full_wave_completed_at(instance: dg.DagsterInstance, spec: MigrationSpec,
                           tenant: str = DEFAULT_TENANT) -> float | None:
    """Epoch seconds of the latest materialisation of ``tenant``'s full wave report, or None."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey([spec.migration, "report"]),
                              asset_partitions=[partition_key(tenant, "full")]),
        limit=1)
    return result.records[0].timestamp if result.records else None


def full_wave_newest(spec: MigrationSpec, parquet) -> datetime | None:
    """The newest modification timestamp in the full wave's extracts (the window's first cursor)."""
    newest = None
    for name, obj in spec.objects.items():
        path = parquet.path_for(dg.AssetKey([spec.migration, "extract", name]), "full")
        if obj.modified_at is None or not path.exists():
            continue
        value = naive_newest(pd.read_parquet(path, columns=[obj.modified_at])[obj.modified_at])
        if value is not None and (newest is None or value > newest):
            newest = value
    return newest


def affected_assets(spec: MigrationSpec, changed: set[str]) -> list[dg.AssetKey]:
    """Asset keys a delta run materialises for the ``changed`` objects (see module docstring)."""
    m = spec.migration
    # the source profile's blocking drift check runs in every wave: a drifted source stops a delta too
    keys = [dg.AssetKey([m, "field_map"]), dg.AssetKey([m, "source_profile"])]
    keys += [dg.AssetKey([m, "extract", o]) for o in spec.objects]
    for target in spec.targets:
        if changed & set(needed_objects(spec, target)):
            keys += [dg.AssetKey([m, "payload", target]), dg.AssetKey([m, "load", target])]
    return keys + [dg.AssetKey([m, "report"])]


def _run_key(partition: str, probe: Probe) -> str:
    seen = f"{probe.newest}|{sorted(probe.fingerprints.items())}|{sorted(probe.changed.items())}"
    return f"{partition}:{hashlib.sha256(seen.encode()).hexdigest()[:16]}"


def evaluate(context: dg.SensorEvaluationContext, spec: MigrationSpec, parts: dg.DynamicPartitionsDefinition,
             parquet: ParquetStore, source=None, tenant: str = DEFAULT_TENANT):
    """One sensor evaluation (the body of ``build_delta_sensor``'s sensor); ``source`` for tests and for a
    tenant (its reader; ``parquet`` its store): the partition it requests is ``<tenant>.delta-<since>``
    and the run carries the tenant's account tags."""
    full_at = full_wave_completed_at(context.instance, spec, tenant)
    if full_at is None:
        return dg.SkipReason("delta window not open: the full wave has not completed (no full report yet)")
    closes = window_end(full_at, spec.delta.window_hours)
    if now() >= closes:
        return dg.SkipReason(f"delta window closed at {datetime.fromtimestamp(closes, UTC).isoformat()} "
                             f"({spec.delta.window_hours:g} h after the full wave)")
    cursor = DeltaCursor.parse(context.cursor)
    if cursor.full_at != full_at:  # a (new) full wave: the window starts from its extracts
        newest = full_wave_newest(spec, parquet)
        cursor = DeltaCursor(full_at=full_at, since=newest.isoformat() if newest else None,
                             fingerprints=read_baseline(baseline_file(parquet.root(), spec.migration)))
    probe = probe_source(source or open_source(spec), spec, cursor)
    cursor.since = probe.newest.isoformat() if probe.newest else cursor.since
    cursor.fingerprints = probe.fingerprints
    if not probe.changed:
        return dg.SensorResult(skip_reason=dg.SkipReason(
            f"no source changes since {cursor.since or 'the full wave'}"), cursor=cursor.dump())
    since = probe.since or datetime.fromtimestamp(now(), UTC).replace(tzinfo=None)
    wave = next_partition(since, lambda name: context.instance.has_dynamic_partition(
        parts.name, partition_key(tenant, name)))
    partition = partition_key(tenant, wave)
    cursor.ticks_with_changes += 1
    changed = set(probe.changed)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(
            run_key=_run_key(partition, probe), partition_key=partition,
            asset_selection=affected_assets(spec, changed),
            tags={"flit/wave": wave, "flit/changed_objects": ",".join(sorted(changed)),
                  **tenant_run_tags(spec, tenant)})],
        dynamic_partitions_requests=[parts.build_add_request([partition])],
        cursor=cursor.dump())


def build_delta_sensor(spec: MigrationSpec, parts: dg.DynamicPartitionsDefinition,
                       job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    """``<migration>_delta_pickup``: running by default (it only reads the instance until the full
    wave completes, and skips once the window has closed); polls every ``delta.poll_seconds``."""

    @dg.sensor(name=f"{spec.migration}_delta_pickup", job=job, minimum_interval_seconds=spec.delta.poll_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Delta pickup for {spec.delta.window_hours:g} h after the full wave: a delta-<since> "
                           "partition and a run of the affected assets when the source changed.")
    @value_free_errors(f"{spec.migration}/delta_pickup")
    def delta_pickup(context: dg.SensorEvaluationContext):
        return evaluate(context, spec, parts, ParquetStore())

    return delta_pickup
