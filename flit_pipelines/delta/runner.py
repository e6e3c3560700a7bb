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

from flit_pipelines.assets.io_manager import default_data_dir


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


def cursor_path(migration: str) -> Path:
    """``<FLIT_DATA_DIR>/delta/<migration>/cursor.json``."""
    return Path(default_data_dir()) / "delta" / migration / "cursor.json"


def tick(migration: str, *, execute: bool = True, log_level: str = "WARNING") -> TickResult:
    """Evaluate the migration's delta sensor once and run what it requests (``execute``; without it
    the tick only looks, and a tick that found changes leaves the cursor where it was).

    Raises KeyError for an unknown migration; reader errors propagate (the daemon would record them
    as a failed tick).
    """
    from flit_pipelines.cli import _ensure_dagster_home
    from flit_pipelines.definitions import defs

    _ensure_dagster_home()
    d = defs()
    sensor = d.resolve_sensor_def(f"{migration}_delta_pickup")  # get_sensor_def warns since 1.11
    path = cursor_path(migration)
    cursor = json.loads(path.read_text())["cursor"] if path.exists() else None
    with dg.DagsterInstance.get() as instance:
        # instance_ref: run requests for a partition the same tick adds resolve as under the daemon
        context = dg.build_sensor_context(instance=instance, instance_ref=instance.get_ref(), cursor=cursor,
                                          definitions=d)
        data = sensor.evaluate_tick(context)
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
                asset_selection=list(request.asset_selection), tags=dict(request.tags),
                run_config={"loggers": {"console": {"config": {"log_level": log_level}}}})
            result.success, result.run_id = bool(run.success), run.run_id
        return result
