"""Delta pickup end to end for clinic_to_pipedrive (CSV export: no modification times, so every tick
reads the export whole and the payload-hash comparison sends only the changed records)."""

from __future__ import annotations

import shutil

import pandas as pd

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import run_wave
from flit_pipelines.delta.runner import tick
from flit_pipelines_tests.conftest import FIXTURE_EXPORT, sandbox_stats

M = "clinic_to_pipedrive"
ALICE = "a0000000-0000-4000-8000-000000000001"
BOB = "a0000000-0000-4000-8000-000000000002"


def writes(stats: dict) -> dict[str, int]:
    return {op: n for op, n in stats["requests_by_operation"].items()
            if op.split(" ")[0] in ("POST", "PATCH", "PUT", "DELETE") and "/__sandbox" not in op}


def test_changed_records_reach_the_destination_and_nothing_else(migration_env, monkeypatch, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(FIXTURE_EXPORT, export)
    monkeypatch.setenv("CLINIC_EXPORT_DIR", str(export))
    assert tick(M).skip_reason.startswith("delta window not open")
    assert run_wave(M, "full", quiet=True) is True
    before = writes(sandbox_stats(migration_env["sandbox"]))

    # the window's first look compares with the fingerprints the full wave took before it read the export:
    # nothing changed, so no delta wave (it used to run one over every object, which sent nothing)
    first = tick(M)
    assert first.skip_reason.startswith("no source changes") and first.success is None
    assert writes(sandbox_stats(migration_env["sandbox"])) == before  # nothing changed: nothing sent
    assert tick(M).skip_reason.startswith("no source changes")

    patients = pd.read_csv(export / "patients.csv", dtype=str, keep_default_na=False)
    patients.loc[patients["Id"].isin([ALICE, BOB]), "ADDRESS"] = "9 Changed Road"
    patients.to_csv(export / "patients.csv", index=False)
    second = tick(M)
    assert second.success is True and second.changed_objects == ["patients"]
    after = writes(sandbox_stats(migration_env["sandbox"]))
    sent = {op: n - before.get(op, 0) for op, n in after.items() if n != before.get(op, 0)}
    assert sent == {"PATCH /api/v2/persons/{id}": 2}
    audit = FlitResource().ledger().audit_frame(M, run_id=second.run_id)
    updates = audit[audit["operation"] == "update"]
    assert sorted(updates["source_id"]) == [ALICE, BOB]
    assert tick(M).skip_reason.startswith("no source changes")
