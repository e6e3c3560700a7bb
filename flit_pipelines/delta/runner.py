"""One delta-pickup tick outside the Dagster daemon (``flit delta``, the demo, tests, benchmarks).

The daemon evaluates ``<migration>_delta_pickup`` on its own schedule and keeps the cursor in the
instance; this runs the same evaluation once on the ``DAGSTER_HOME`` instance, keeps the cursor in
``<data>/delta/<migration>/cursor.json``, and executes the requested run in process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from flit_pipelines.assets.io_manager import ParquetStore
from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.definitions import defs
from flit_pipelines.delta.sensor import evaluate_tenant
from flit_pipelines.errors import value_free_errors
from flit_pipelines.runtime import default_data_dir, ensure_dagster_home
from flit_pipelines.spec import load_all_specs
from flit_pipelines.tenants import DEFAULT_TENANT, tenant_data_dir


@dataclass
class TickResult:
    """What one tick did: ``skip_reason`` or the ``partition`` it ran (``success`` of that run),
    the changed objects and the cursor after the tick."""

    skip_reason: str | None
    partition: str | None = None
    success: bool | None = None
    run_id: str | None = None
    changed_objects: list[str] | None = None
    cursor: str | None = None


def cursor_path(migration: str, tenant: str = DEFAULT_TENANT) -> Path:
    """``<tenant data>/delta/<migration>/cursor.json`` (``FLIT_DATA_DIR`` for the default tenant)."""
    return tenant_data_dir(default_data_dir(), tenant) / "delta" / migration / "cursor.json"


def tick(migration: str, *, execute: bool = True, log_level: str = "WARNING",
         tenant: str = DEFAULT_TENANT) -> TickResult:
    """Evaluate the migration's delta sensor once and run what it requests (``execute``; without it
    the tick only looks, and a tick that found changes leaves the cursor where it was). ``tenant``: whose
    source, cursor and waves (another tenant's tick reads its own source through its tenants file).

    Raises KeyError for an unknown migration; reader errors propagate (the daemon would record them
    as a failed tick).
    """
    ensure_dagster_home()
    d = defs()
    spec = load_all_specs()[migration]
    path = cursor_path(migration, tenant)
    cursor = json.loads(path.read_text())["cursor"] if path.exists() else None
    with dg.DagsterInstance.get() as instance:
        # the sensor's evaluation of this one tenant (the daemon's sensor evaluates every tenant); a tenant
        # other than the default reads its own source through its tenants file, opened only inside the window
        reader = None if tenant == DEFAULT_TENANT else (lambda: FlitResource().for_tenant(tenant).source(spec))
        evaluated = value_free_errors(f"{migration}/delta_pickup")(evaluate_tenant)(
            instance, cursor, spec, dg.DynamicPartitionsDefinition(name=f"{migration}_waves"),
            ParquetStore().for_tenant(tenant), tenant, open_reader=reader)
        data = _as_tick_data(evaluated, cursor)
        if data.cursor is not None and (execute or not data.run_requests):  # a look-only tick keeps the cursor
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"cursor": data.cursor}))
        if not data.run_requests:
            return TickResult(skip_reason=data.skip_message or "no run requested", cursor=data.cursor)
        for req in data.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
        request = data.run_requests[0]
        result = TickResult(None, partition=request.partition_key, cursor=data.cursor,
                            changed_objects=request.tags.get("flit/changed_objects", "").split(","))
        if execute:
            job = d.resolve_job_def(f"{migration}_migration")
            run = job.execute_in_process(
                instance=instance, partition_key=request.partition_key, raise_on_error=False,
                asset_selection=None if request.asset_selection is None else list(request.asset_selection),
                tags=dict(request.tags),
                run_config={"loggers": {"console": {"config": {"log_level": log_level}}}})
            result.success, result.run_id = bool(run.success), run.run_id
        return result


@dataclass
class _TickData:
    """What one tenant's evaluation asks for (the parts of ``SensorExecutionData`` a tick uses)."""

    run_requests: list
    dynamic_partitions_requests: list
    cursor: str | None
    skip_message: str | None


def _as_tick_data(result, cursor: str | None) -> _TickData:
    if isinstance(result, dg.SkipReason):
        return _TickData([], [], cursor, result.skip_message)
    skip = result.skip_reason.skip_message if result.skip_reason else None
    return _TickData(list(result.run_requests or []), list(result.dynamic_partitions_requests or []), result.cursor,
                     skip)
