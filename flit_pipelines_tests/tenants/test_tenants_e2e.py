"""Two practices (tenants) of clinic_to_pipedrive, each with its own export and its own Pipedrive account.

Real Dagster runs through ``flit run --tenant`` (two processes at once) into two Pipedrive sandboxes over
HTTP. Each account ends with exactly its own tenant's patients (read back from the sandbox); a re-run of
one tenant writes nothing; a rollback of one leaves the other untouched; a ``flit run`` for an account a
live run holds is refused; every run carries its tenant and account tags.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid

import dagster as dg
import pandas as pd
import pytest

from flit_pipelines.assets.campaign import campaign_asset
from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import main, report, run_rollback
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines.spec.load import load_spec
from flit_pipelines.tenants import DESTINATION_ACCOUNT_TAG, TENANT_TAG, tenant_run_tags
from flit_pipelines_tests.conftest import FIXTURE_EXPORT, TOKEN, USERS, sandbox_stats
from flit_sandboxes.clinic_export import build_clinic_export
from flit_sandboxes.pipedrive import running_sandbox

M = "clinic_to_pipedrive"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HANG_GUARD_SECONDS = 600  # a hung run fails the test; nothing asserts on time


def writes(stats: dict) -> int:
    return sum(n for op, n in stats["requests_by_operation"].items()
               if op.split(" ")[0] in ("POST", "PATCH", "PUT", "DELETE") and "/__sandbox" not in op)


def patient_keys(url: str) -> list[str]:
    """Source IDs of the persons live in a Pipedrive account, from its ``Flit Source Key`` field."""
    client = PipedriveClient(url, TOKEN)
    code = next(f["field_code"] for f in client.list_fields("person") if f.get("field_name") == "Flit Source Key")
    return sorted(UUID.search(str((p.get("custom_fields") or {}).get(code))).group(0) for p in client.list("person"))


@pytest.fixture
def two_tenants(migration_env, tmp_path, monkeypatch):
    south_export = tmp_path / "south_export"
    build_clinic_export(south_export, patients=6, seed=5)
    with running_sandbox(tmp_path / "north.db", TOKEN, burst_limit=400, users=USERS) as north_url, \
            running_sandbox(tmp_path / "south.db", TOKEN, burst_limit=400, users=USERS) as south_url:
        (migration_env["specs"] / "tenants").mkdir()
        (migration_env["specs"] / "tenants" / f"{M}.yaml").write_text(
            f"migration: {M}\ntenants:\n"
            f"  north:\n    source: {{directory: {FIXTURE_EXPORT}}}\n"
            f"    destination: {{api_base: '{north_url}', api_token_env: NORTH_PIPEDRIVE_TOKEN}}\n"
            f"  south:\n    source: {{directory: {south_export}}}\n"
            f"    destination: {{api_base: '{south_url}', api_token_env: SOUTH_PIPEDRIVE_TOKEN}}\n",
            encoding="utf-8")
        for name in ("NORTH_PIPEDRIVE_TOKEN", "SOUTH_PIPEDRIVE_TOKEN"):
            monkeypatch.setenv(name, TOKEN)
        monkeypatch.delenv("PIPEDRIVE_API_TOKEN")  # a tenant must not fall back to the default's token
        yield {"north": (north_url, FIXTURE_EXPORT), "south": (south_url, south_export), **migration_env}


def _flit(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flit_pipelines.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_two_tenants_run_at_once_each_account_gets_its_own_records_rerun_and_rollback_stay_apart(two_tenants,
                                                                                                  capsys):
    with dg.DagsterInstance.get():  # the instance's SQLite stores exist before two processes open them
        pass
    procs = {t: _flit("run", M, "--tenant", t, "--wave", "full", "--log-level", "WARNING") for t in ("north", "south")}
    for t, proc in procs.items():
        out, _ = proc.communicate(timeout=HANG_GUARD_SECONDS)
        assert proc.returncode == 0, f"{t}: {out[-3000:]}"

    expected = {t: sorted(pd.read_csv(export / "patients.csv", dtype=str)["Id"])
                for t, (_, export) in (("north", two_tenants["north"]), ("south", two_tenants["south"]))}
    assert len(expected["north"]) == 4 and len(expected["south"]) == 6
    for t in ("north", "south"):
        url = two_tenants[t][0]
        assert patient_keys(url) == expected[t]  # exactly its own tenant's patients, nobody else's
        rep = report(M, "full", t)
        assert rep["all_checks_passed"] is True
        assert rep["targets"]["persons"]["destination_count"] == len(expected[t])
    data = two_tenants["tmp"] / "data"
    assert (data / "tenants" / "north" / "ledger.db").exists() and (data / "tenants" / "south" / "ledger.db").exists()
    assert not (data / "ledger.db").exists()  # the default tenant never ran
    assert (data / "tenants" / "south" / "reports" / M / "full" / "migration_report.json").exists()

    spec = load_spec(two_tenants["specs"] / f"{M}.yaml")
    with dg.DagsterInstance.get() as instance:
        runs = {r.tags[TENANT_TAG]: r for r in instance.get_runs(dg.RunsFilter(job_name=f"{M}_migration"))}
        for t in ("north", "south"):
            assert runs[t].status == dg.DagsterRunStatus.SUCCESS
            assert runs[t].tags["dagster/partition"] == f"{t}.full"
            assert runs[t].tags[DESTINATION_ACCOUNT_TAG] == tenant_run_tags(spec, t)[DESTINATION_ACCOUNT_TAG]
            # with tenants there is no per-migration pool: neither run's steps waited for the other's
            assert not [e for e in instance.all_logs(runs[t].run_id)
                        if e.message and "blocked by limit for pool" in e.message]
        assert runs["north"].tags[DESTINATION_ACCOUNT_TAG] != runs["south"].tags[DESTINATION_ACCOUNT_TAG]

    # the campaign view: per tenant, in the CLI and as the [m, campaign] asset
    assert main(["campaign", "status", M]) == 0
    out = capsys.readouterr().out
    assert re.search(r"clinic_to_pipedrive\s+north\s+full passed", out) and "south" in out
    result = dg.materialize([campaign_asset(spec)], resources={"flit": FlitResource()})
    per_tenant = result.asset_materializations_for_node(result.all_node_events[0].node_name)[0] \
        .metadata["per_tenant"].value
    assert per_tenant["north"]["waves"] == {"full": "passed"} and per_tenant["north"]["checks_failed"] == 0
    assert per_tenant["south"]["records_moved"] > 0 and per_tenant["north"]["records_moved"] > 0
    assert per_tenant["default"]["waves"] == {}

    # a re-run of one tenant writes nothing anywhere
    before = {t: writes(sandbox_stats(two_tenants[t][0])) for t in ("north", "south")}
    assert main(["run", M, "--tenant", "north", "--wave", "full", "--log-level", "WARNING"]) == 0
    assert {t: writes(sandbox_stats(two_tenants[t][0])) for t in ("north", "south")} == before

    # a rollback of north empties north's account and leaves south's account and ledger untouched
    south_ledger = FlitResource().for_tenant("south").ledger().crosswalk_frame(M, "persons")
    summary = run_rollback(M, execute=True, tenant="north")
    assert not summary.get("failed") and summary["totals"]["failed"] == 0
    assert patient_keys(two_tenants["north"][0]) == []
    assert patient_keys(two_tenants["south"][0]) == expected["south"]
    assert writes(sandbox_stats(two_tenants["south"][0])) == before["south"]
    assert FlitResource().for_tenant("south").ledger().crosswalk_frame(M, "persons").equals(south_ledger)
    assert len(FlitResource().for_tenant("north").ledger().crosswalk_frame(M, "persons")) == 0


def test_flit_run_for_an_account_a_live_run_holds_is_refused(two_tenants, capsys):
    spec = load_spec(two_tenants["specs"] / f"{M}.yaml")
    assert main(["check", M, "--tenant", "south"]) == 0  # the tenant's export and account, reachable
    assert f"PIPEDRIVE_API_BASE: {two_tenants['south'][0]} reachable" in capsys.readouterr().out
    assert main(["check", M, "--tenant", "nowhere"]) == 1
    assert "has no tenant 'nowhere'" in capsys.readouterr().out
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    holder_id = str(uuid.uuid4())
    try:
        with dg.DagsterInstance.get() as instance:  # a live run (its process exists) of tenant south's account
            import socket

            instance.add_run(dg.DagsterRun(
                job_name=f"{M}_migration", run_id=holder_id, status=dg.DagsterRunStatus.STARTED,
                tags={"flit/pid": str(holder.pid), "flit/host": socket.gethostname(),
                      "flit/heartbeat": str(int(time.time())), **tenant_run_tags(spec, "south")}))
        assert main(["run", M, "--tenant", "south", "--wave", "full"]) == 1
        err = capsys.readouterr().err
        assert f"run {holder_id}" in err and "holds flit/destination_account=pipedrive-" in err
        with dg.DagsterInstance.get() as instance:
            assert [r.run_id for r in instance.get_runs()] == [holder_id]  # nothing started
        assert sandbox_stats(two_tenants["south"][0])["requests_by_operation"].get("POST /v1/persons", 0) == 0
    finally:
        holder.kill()
        holder.wait()
    # the holder's process is gone: the next run recovers it and proceeds
    assert main(["run", M, "--tenant", "south", "--wave", "sample", "--log-level", "WARNING"]) == 0
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(holder_id).status == dg.DagsterRunStatus.FAILURE
