"""Step events of a run from the Dagster instance's event log, as the plain dicts
``flit_pipelines.reports.timeline.run_timeline`` takes (the reports stay Dagster-free)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from flit_pipelines.reports.timeline import run_timeline

STEP_EVENTS = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS,
               dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.STEP_SKIPPED}


def step_events(instance: dg.DagsterInstance, run_id: str) -> list[dict[str, Any]]:
    """``[{"step_key", "event_type", "timestamp"}]`` of a run's step start/success/failure/skip events
    (timestamps in seconds since the epoch), oldest first; empty for an unknown run."""
    records = instance.get_records_for_run(run_id, of_type=STEP_EVENTS).records
    return [{"step_key": r.event_log_entry.step_key, "event_type": r.event_log_entry.dagster_event.event_type_value,
             "timestamp": r.event_log_entry.timestamp} for r in records
            if r.event_log_entry.dagster_event is not None and r.event_log_entry.step_key]


def latest_wave_run_id(instance: dg.DagsterInstance, migration: str, wave: str) -> str | None:
    """ID of the newest run of ``<migration>_migration`` for the wave partition, or None."""
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=f"{migration}_migration",
                                                   tags={"dagster/partition": wave}), limit=1)
    return runs[0].run_id if runs else None


def wave_timeline(instance: dg.DagsterInstance, migration: str, wave: str) -> list[dict[str, Any]] | None:
    """``reports.timeline.run_timeline`` of the newest run of the wave, None when no run is recorded."""
    run_id = latest_wave_run_id(instance, migration, wave)
    return run_timeline(step_events(instance, run_id), migration) if run_id else None


__all__ = ["latest_wave_run_id", "step_events", "wave_timeline"]
