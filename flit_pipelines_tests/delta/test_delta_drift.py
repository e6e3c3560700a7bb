"""Drift detection in every wave: a delta run starts with the source profile, whose blocking check
stops the run before any extract when the source drifted from the approved spec (issue 11 §5)."""

from __future__ import annotations

import shutil

import dagster as dg
import pandas as pd

from flit_pipelines.cli import run_wave
from flit_pipelines.delta.runner import tick
from flit_pipelines.delta.sensor import affected_assets
from flit_pipelines.spec.load import SPEC_DIR, load_spec
from flit_pipelines_tests.conftest import FIXTURE_EXPORT, sandbox_stats

M = "clinic_to_pipedrive"


def writes(stats: dict) -> int:
    return sum(n for op, n in stats["requests_by_operation"].items()
               if op.split(" ")[0] in ("POST", "PATCH", "PUT", "DELETE") and "/__sandbox" not in op)


def test_every_delta_run_selects_the_source_profile():
    keys = affected_assets(load_spec(SPEC_DIR / f"{M}.yaml"), {"patients"})
    assert dg.AssetKey([M, "source_profile"]) in keys
    assert keys.index(dg.AssetKey([M, "source_profile"])) < keys.index(dg.AssetKey([M, "extract", "patients"]))


def test_a_drifted_source_stops_the_delta_wave_before_anything_loads(migration_env, monkeypatch, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(FIXTURE_EXPORT, export)
    monkeypatch.setenv("CLINIC_EXPORT_DIR", str(export))
    assert run_wave(M, "full", quiet=True) is True
    before = writes(sandbox_stats(migration_env["sandbox"]))

    patients = pd.read_csv(export / "patients.csv", dtype=str, keep_default_na=False)
    patients.loc[0, "ADDRESS"] = "9 Changed Road"  # a change for the sensor to pick up ...
    patients.rename(columns={"BIRTHDATE": "DateOfBirth"}).to_csv(export / "patients.csv", index=False)  # ... and drift
    result = tick(M)
    assert result.partition is not None and result.partition.startswith("delta-")
    assert result.success is False
    assert writes(sandbox_stats(migration_env["sandbox"])) == before  # nothing loaded
    with dg.DagsterInstance.get() as inst:
        ev = inst.get_latest_materialization_event(dg.AssetKey([M, "source_profile"]))
        assert ev.asset_materialization.partition == result.partition
        problems = ev.asset_materialization.metadata["problems"].value
        assert any("BIRTHDATE" in p for p in problems)
        loads = inst.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey([M, "extract", "patients"]),
                                  asset_partitions=[result.partition]), limit=1)
        assert not loads.records  # the extract never ran
