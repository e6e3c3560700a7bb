"""The whole migration through Dagster into the Pipedrive sandbox over real HTTP.

Covers: every check passing on the fixture export, values as they land in Pipedrive, a second full
wave that writes nothing, the approval gate, and a load killed midway that resumes without
duplicates or losses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from flit_pipelines.cli import report, run_wave
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines.spec.load import approve_spec_file
from flit_pipelines_tests.conftest import FIXTURE_EXPORT, TOKEN, sandbox_stats
from flit_pipelines_tests.spec_edit import edit_spec_file

M = "clinic_to_pipedrive"
CARA = "a0000000-0000-4000-8000-000000000003"
ALICE = "a0000000-0000-4000-8000-000000000001"
DAN = "a0000000-0000-4000-8000-000000000004"


def writes(stats: dict) -> int:
    return sum(n for op, n in stats["requests_by_operation"].items()
               if op.split(" ")[0] in ("POST", "PATCH", "PUT", "DELETE") and "/__sandbox" not in op)


def set_file_limit(env: dict, limit: int) -> None:
    """A spec change (1 MiB file limit) so the fixture's 1.2 MB PDF is flagged; re-approved."""
    path = env["specs"] / f"{M}.yaml"
    edit_spec_file(path, "file_size_limit_bytes: 10485760", f"file_size_limit_bytes: {limit}")
    approve_spec_file(path, "test reviewer", "2026-11-21T00:00:00+00:00")


def crosswalk(migration_env) -> dict[str, dict[str, str]]:
    from flit_pipelines.assets.resources import FlitResource

    ledger = FlitResource().ledger()
    return {t: dict(zip(df["source_id"], df["dest_id"], strict=True))
            for t in ("persons", "visits", "documents", "clinical_notes", "relationship_notes", "billing")
            for df in [ledger.crosswalk_frame(M, t)]}


def test_full_wave_lands_every_seed_object_and_rerun_writes_nothing(migration_env):
    set_file_limit(migration_env, 1 << 20)
    assert run_wave(M, "full", quiet=True) is True
    rep = report(M, "full")
    assert rep["all_checks_passed"] is True
    t = rep["targets"]
    assert (t["persons"]["created"], t["persons"]["destination_count"]) == (4, 4)
    assert (t["organizations"]["created"], t["visits"]["created"], t["billing"]["created"]) == (2, 8, 3)
    assert (t["clinical_notes"]["created"], t["relationship_notes"]["created"]) == (3, 4)
    assert (t["providers"]["matched"], t["providers"]["fallback_owner"]) == (2, 1)
    assert rep["unmatched_providers"]["source_ids"] == ["c0000000-0000-4000-8000-000000000003"]
    assert t["documents"]["created"] == 1 and t["documents"]["quarantined"] == 1
    assert "file over size limit" in next(iter(t["documents"]["quarantine_reasons"]))

    # values as they landed in Pipedrive
    xw = crosswalk(migration_env)
    client = PipedriveClient(migration_env["sandbox"], TOKEN)
    fields = {f["field_name"]: f for f in client.list_fields("person") if f.get("is_custom_field")}
    dan = client.get("person", int(xw["persons"][DAN]))
    yes = next(o["id"] for o in fields["Is provider"]["options"] if o["label"] == "Yes")
    assert dan["custom_fields"][fields["Is provider"]["field_code"]] == yes
    assert dan["custom_fields"][fields["Latest HbA1c (%)"]["field_code"]] == pytest.approx(5.9)
    assert dan["owner_id"] == 1  # Fay106 has no Pipedrive user: fallback owner (admin)
    alice = client.get("person", int(xw["persons"][ALICE]))
    assert "documents/de000000-0000-4000-8000-000000000001.pdf" in alice["custom_fields"][
        fields["Documents over size limit"]["field_code"]]
    assert alice["owner_id"] == 2  # Erin Doctor, matched by e-mail
    no_show = client.get("activity", int(xw["visits"]["e0000000-0000-4000-8000-000000000007"]))
    assert no_show["done"] is False and "No-show: Yes" in no_show["note"]
    assert no_show["person_id"] == int(xw["persons"][CARA])
    assert (no_show["due_date"], no_show["due_time"][:5]) == ("2024-04-15", "15:00")
    note = client.get("note", int(xw["clinical_notes"]["ae000000-0000-4000-8000-000000000001"]))
    assert note["add_time"] == "2024-01-15 09:30:00" and note["user_id"] == 2
    file_id = int(xw["documents"]["de000000-0000-4000-8000-000000000002"])
    assert client.download_file(file_id) == (
        FIXTURE_EXPORT / "documents" / "de000000-0000-4000-8000-000000000002.txt").read_bytes()
    deal = client.get("deal", int(xw["billing"]["f0000000-0000-4000-8000-000000000003"]))
    assert deal["value"] == pytest.approx(136.80) and deal["status"] == "open"

    # the same wave again: nothing created, nothing updated, no write request at all
    before = sandbox_stats(migration_env["sandbox"])
    assert run_wave(M, "full", quiet=True) is True
    after = sandbox_stats(migration_env["sandbox"])
    assert writes(after) == writes(before)
    rep2 = report(M, "full")
    assert rep2["all_checks_passed"] is True
    for name, tr in rep2["targets"].items():
        assert (tr["created"], tr["updated"], tr["failed"]) == (0, 0, 0), name
    assert rep2["targets"]["visits"]["unchanged"] == 8
    assert after["entities"]["person"]["active"] == 4


def test_unapproved_field_map_blocks_every_load(migration_env, capsys):
    from flit_pipelines.cli import main

    path = migration_env["specs"] / f"{M}.yaml"
    edit_spec_file(path, "Clinic Phone:", "Clinic Telephone:")  # edited after approval
    assert main(["run", M, "--wave", "full", "--log-level", "ERROR"]) == 1
    out = capsys.readouterr().out
    assert "failed checks: field_map_approved" in out
    assert f"spec approve {M} --by NAME` with the reviewer's name for NAME" in out  # the fix, in the check's text
    stats = sandbox_stats(migration_env["sandbox"])
    assert writes(stats) == 0
    assert "person" not in stats["entities"] or stats["entities"]["person"]["active"] == 0
    assert main(["report", M, "--wave", "full", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["all_checks_passed"] is False
    assert rep["targets"]["persons"]["loaded"] is False and rep["targets"]["persons"]["created"] == 0
    assert len(rep["seed_objects"]) == 12


def test_a_changed_source_record_is_updated_not_duplicated(migration_env, tmp_path):
    export = tmp_path / "export"
    import shutil

    shutil.copytree(FIXTURE_EXPORT, export)
    os.environ["CLINIC_EXPORT_DIR"] = str(export)
    assert run_wave(M, "full", quiet=True) is True
    patients = pd.read_csv(export / "patients.csv", dtype=str, keep_default_na=False)
    patients.loc[patients["Id"] == ALICE, "CITY"] = "Newtown"
    patients.to_csv(export / "patients.csv", index=False)
    assert run_wave(M, "full", quiet=True) is True
    t = report(M, "full")["targets"]["persons"]
    assert (t["created"], t["updated"], t["unchanged"]) == (0, 1, 3)
    stats = sandbox_stats(migration_env["sandbox"])
    assert stats["entities"]["person"]["active"] == 4


def test_killed_load_resumes_without_duplicates_or_losses(migration_env, tmp_path):
    from flit_sandboxes.clinic_export import build_clinic_export

    export = tmp_path / "synthetic"
    build_clinic_export(export, patients=40, seed=11)
    env = dict(migration_env["env"], CLINIC_EXPORT_DIR=str(export))
    os.environ["CLINIC_EXPORT_DIR"] = str(export)
    proc = subprocess.Popen([sys.executable, "-m", "flit_pipelines.cli", "run", M, "--wave", "full",
                             "--log-level", "WARNING"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    killed_at = None
    while time.monotonic() < deadline and proc.poll() is None:
        active = sandbox_stats(migration_env["sandbox"])["entities"].get("activity", {}).get("active", 0)
        if active >= 40:
            proc.kill()  # SIGKILL mid-load: no cleanup, no ledger flush beyond what was committed
            killed_at = active
            break
        time.sleep(0.02)
    proc.wait(timeout=30)
    assert killed_at is not None, "the load finished before it could be killed"
    assert run_wave(M, "full", quiet=True) is True
    rep = report(M, "full")
    assert rep["all_checks_passed"] is True
    visits = rep["targets"]["visits"]
    expected = visits["source_rows"] - visits["quarantined"]
    stats = sandbox_stats(migration_env["sandbox"])
    assert stats["entities"]["activity"]["active"] == expected == visits["destination_count"]
    assert killed_at < expected
    assert visits["created"] + visits["adopted"] + visits["unchanged"] + visits["updated"] >= expected - killed_at


def test_dropped_connections_on_creates_are_looked_up_not_duplicated(migration_env):
    import requests

    for prefix in ("/api/v2/persons", "/api/v1/notes"):
        resp = requests.post(f"{migration_env['sandbox']}/__sandbox/faults", headers={"x-api-token": TOKEN},
                             json={"drop_connection": True, "count": 1, "after": 1, "path_prefix": prefix,
                                   "method": "POST"}, timeout=10)
        resp.raise_for_status()
    assert run_wave(M, "full", quiet=True) is True
    rep = report(M, "full")
    assert rep["all_checks_passed"] is True
    stats = sandbox_stats(migration_env["sandbox"])
    assert stats["faults_injected"] == 2
    assert stats["entities"]["person"]["active"] == 4
    assert stats["entities"]["note"]["active"] == 7  # 3 clinical + 4 relationship notes, none twice
    assert rep["targets"]["persons"]["created"] == 4 and rep["targets"]["clinical_notes"]["failed"] == 0
