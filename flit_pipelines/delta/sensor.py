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
from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from flit_pipelines.assets.io_manager import ParquetStore
from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.delta.probe import Probe, baseline_file, probe_source, read_baseline
from flit_pipelines.delta.tenant_cursor import join_cursors, split_cursor
from flit_pipelines.delta.window import DeltaCursor, naive_newest, next_partition, window_end
from flit_pipelines.errors import FlitError, scrub, value_free_errors
from flit_pipelines.sources.base import Source
from flit_pipelines.sources.registry import open_source
from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.tenants import DEFAULT_TENANT, partition_key, tenant_names, tenant_run_tags
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


def evaluate_tenant(instance: dg.DagsterInstance, cursor_text: str | None, spec: MigrationSpec,
                    parts: dg.DynamicPartitionsDefinition, parquet, tenant: str = DEFAULT_TENANT,
                    open_reader: Callable[[], Source] | None = None) -> dg.SkipReason | dg.SensorResult:
    """One tenant's evaluation: a SkipReason (window not open or closed: cursor untouched), or a
    SensorResult with the tenant's new cursor (``DeltaCursor`` text) and, when its source changed, one run
    request for the partition ``<tenant>.delta-<since>`` carrying the tenant's account tags.

    ``parquet``: the tenant's Parquet store (its full wave's extracts and baseline); ``open_reader``: opens
    the tenant's source reader, called only inside the window (default: ``open_source(spec)``, the
    variables the spec names). Reader errors propagate."""
    full_at = full_wave_completed_at(instance, spec, tenant)
    if full_at is None:
        return dg.SkipReason("delta window not open: the full wave has not completed (no full report yet)")
    closes = window_end(full_at, spec.delta.window_hours)
    if now() >= closes:
        return dg.SkipReason(f"delta window closed at {datetime.fromtimestamp(closes, UTC).isoformat()} "
                             f"({spec.delta.window_hours:g} h after the full wave)")
    cursor = DeltaCursor.parse(cursor_text)
    if cursor.full_at != full_at:  # a (new) full wave: the window starts from its extracts
        newest = full_wave_newest(spec, parquet)
        cursor = DeltaCursor(full_at=full_at, since=newest.isoformat() if newest else None,
                             fingerprints=read_baseline(baseline_file(parquet.root(), spec.migration)))
    probe = probe_source(open_reader() if open_reader is not None else open_source(spec), spec, cursor)
    cursor.since = probe.newest.isoformat() if probe.newest else cursor.since
    cursor.fingerprints = probe.fingerprints
    if not probe.changed:
        return dg.SensorResult(skip_reason=dg.SkipReason(
            f"no source changes since {cursor.since or 'the full wave'}"), cursor=cursor.dump())
    since = probe.since or datetime.fromtimestamp(now(), UTC).replace(tzinfo=None)
    wave = next_partition(since, lambda name: instance.has_dynamic_partition(parts.name, partition_key(tenant, name)))
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


class TenantPickupError(FlitError):
    """Every tenant whose evaluation failed, when no tenant's run was requested: ``tenant <name>: <the
    error, value-free>`` each."""


def _skip_text(result: dg.SkipReason | dg.SensorResult) -> str | None:
    if isinstance(result, dg.SkipReason):
        return result.skip_message
    return result.skip_reason.skip_message if result.skip_reason else None


def evaluate_tenants(context: dg.SensorEvaluationContext, spec: MigrationSpec, parts: dg.DynamicPartitionsDefinition,
                     tenants: list[str] | None = None) -> dg.SkipReason | dg.SensorResult:
    """One evaluation of the sensor: every tenant of ``spec`` (``tenants``, default: the default tenant and
    every tenant its tenants file declares, read at each evaluation) with its own window, cursor (one
    entry of the sensor's cursor, ``tenant_cursor``), source, Parquet store, partition and account tags.
    The default tenant costs one instance query while its full wave has not run.

    A tenant whose evaluation raises keeps its cursor and is logged (its name and the error's kind, no
    value); the others' requests still go out. When nothing was requested the error is raised (the tick
    fails visibly, naming the tenant). A skip names each tenant when there are several."""
    names = tenants if tenants is not None else tenant_names(spec)
    cursors: dict[str, str | None] = dict(split_cursor(context.cursor))
    requests: list[dg.RunRequest] = []
    adds: list = []
    skips: list[tuple[str, str]] = []
    failed: list[str] = []
    for tenant in names:
        reader = None if tenant == DEFAULT_TENANT else (lambda t=tenant: FlitResource().for_tenant(t).source(spec))
        try:
            result = evaluate_tenant(context.instance, cursors.get(tenant), spec, parts,
                                     ParquetStore().for_tenant(tenant), tenant, open_reader=reader)
        except Exception as exc:  # noqa: BLE001 - one tenant's broken source must not stop the others' pickup
            failed.append(f"tenant {tenant}: {scrub(exc, f'{spec.migration}/delta_pickup/{tenant}')}")
            context.log.error(f"delta pickup failed for {failed[-1]}")
            continue
        if isinstance(result, dg.SensorResult):
            cursors[tenant] = result.cursor
            requests += list(result.run_requests or [])
            adds += list(result.dynamic_partitions_requests or [])
        skip = _skip_text(result)
        if skip and not (isinstance(result, dg.SensorResult) and result.run_requests):
            skips.append((tenant, skip))
    if failed and not requests:
        raise TenantPickupError("; ".join(failed))
    if requests:
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=adds, cursor=join_cursors(cursors))
    reason = skips[0][1] if len(names) == 1 else "; ".join(f"{t}: {why}" for t, why in skips)
    return dg.SensorResult(skip_reason=dg.SkipReason(reason), cursor=join_cursors(cursors))


def build_delta_sensor(spec: MigrationSpec, parts: dg.DynamicPartitionsDefinition,
                       job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    """``<migration>_delta_pickup``: running by default (it only reads the instance until a full wave
    completes, and skips once the window has closed); polls every ``delta.poll_seconds``. Serves every
    tenant of the migration (``evaluate_tenants``)."""

    @dg.sensor(name=f"{spec.migration}_delta_pickup", job=job, minimum_interval_seconds=spec.delta.poll_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Delta pickup for {spec.delta.window_hours:g} h after each tenant's full wave: a "
                           "<tenant>.delta-<since> partition and a run of the affected assets when its source "
                           "changed.")
    @value_free_errors(f"{spec.migration}/delta_pickup")
    def delta_pickup(context: dg.SensorEvaluationContext):
        return evaluate_tenants(context, spec, parts)

    return delta_pickup
