"""fhir_clinic_to_pipedrive end to end: FHIR sandbox -> Dagster -> Pipedrive sandbox, over real HTTP.

* the bundled Bulk export (13 Synthea patients) through ``flit run --wave sample`` and ``--wave full``,
  every check green, a second full wave writing nothing;
* the hand-checkable ``fhir_extras`` export (every resource type the sample lacks), read with SMART
  Backend Services: each seed object's values as they land in Pipedrive;
* a load killed midway (SIGKILL of ``flit run``) resumed without duplicates or losses;
* the code location the Dagster UI loads has the migration's jobs and sensors.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import main, report, run_wave
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines_tests.fixtures.make_fhir_extras import PDF
from flit_pipelines_tests.integration.fhir_env import M, PD_TOKEN, fhir_migration
from flit_pipelines_tests.integration.test_migration_e2e import writes
from flit_pipelines_tests.sources.fhir_helpers import EXTRAS, SAMPLE, TOKEN

SAMPLE_USERS = [{"id": 2, "name": "Liane Kunze", "email": "Liane379.Kunze215@example.com", "active_flag": True}]
EXTRA_USERS = [{"id": 2, "name": "Erin Doctor", "email": "erin.doctor@fhirclinic.example", "active_flag": True},
               {"id": 3, "name": "Dan Sample", "email": "dan.sample@fhirclinic.example", "active_flag": True}]


def pd_stats(url: str) -> dict:
    import requests

    resp = requests.get(f"{url}/__sandbox/stats", headers={"x-api-token": PD_TOKEN}, timeout=10)
    resp.raise_for_status()
    return resp.json()["data"]


def ndjson_count(rtype: str) -> int:
    return sum(1 for line in (SAMPLE / f"{rtype}.000.ndjson").read_text().splitlines() if line.strip())


def test_bundled_export_sample_then_full_all_green_and_a_rerun_writes_nothing(tmp_path, monkeypatch, capsys):
    with fhir_migration(tmp_path, monkeypatch, SAMPLE, users=SAMPLE_USERS) as env:
        assert main(["run", M, "--wave", "sample", "--log-level", "ERROR"]) == 0
        assert main(["run", M, "--wave", "full", "--log-level", "ERROR"]) == 0
        rep = report(M, "full")
        assert rep["all_checks_passed"] is True
        t = rep["targets"]
        assert t["persons"]["destination_count"] == ndjson_count("Patient") == 13
        assert t["visits"]["destination_count"] == ndjson_count("Encounter")
        assert t["organizations"]["destination_count"] == ndjson_count("Organization")
        notes = t["clinical_notes"]
        assert notes["destination_count"] + notes["quarantined"] == ndjson_count("DocumentReference")
        assert (t["providers"]["matched"], t["providers"]["fallback_owner"]) == (1, ndjson_count("Practitioner") - 1)
        before = pd_stats(env["pipedrive"])
        assert main(["run", M, "--wave", "full", "--log-level", "ERROR"]) == 0
        after = pd_stats(env["pipedrive"])
        again = report(M, "full")
    assert writes(after) == writes(before)
    assert again["all_checks_passed"] is True
    for name, tr in again["targets"].items():
        assert (tr["created"], tr["updated"], tr["failed"]) == (0, 0, 0), name
    assert after["entities"]["person"]["active"] == 13
    captured = capsys.readouterr()
    assert "SUCCESS" in captured.out and TOKEN not in captured.out + captured.err


def test_every_seed_object_of_the_fixture_export_lands_in_pipedrive(tmp_path, monkeypatch):
    with fhir_migration(tmp_path, monkeypatch, EXTRAS, smart=True, users=EXTRA_USERS) as env:
        assert run_wave(M, "full", quiet=True) is True
        rep = report(M, "full")
        client = PipedriveClient(env["pipedrive"], PD_TOKEN)
        ledger = FlitResource().ledger()
        xw = {t: dict(zip(df["source_id"], df["dest_id"], strict=True))
              for t in rep["targets"] for df in [ledger.crosswalk_frame(M, t)]}
        fields = {f["field_name"]: f for f in client.list_fields("person") if f.get("is_custom_field")}
        deal_fields = {f["field_name"]: f for f in client.list_fields("deal") if f.get("is_custom_field")}
        alice = client.get("person", int(xw["persons"]["fx-patient-1"]))
        bob = client.get("person", int(xw["persons"]["fx-patient-2"]))
        visits = {s: client.get("activity", int(d)) for s, d in xw["visits"].items()}
        appts = {s: client.get("activity", int(d)) for s, d in xw["appointments"].items()}
        plans = {s: client.get("deal", int(d)) for s, d in xw["treatment_plans"].items()}
        bills = {s: client.get("deal", int(d)) for s, d in xw["billing"].items()}
        note = client.get("note", int(xw["clinical_notes"]["fx-doc-1"]))
        rel_note = client.get("note", int(xw["relationship_notes"]["fx-rp-1"]))
        link_note = client.get("note", int(next(iter(xw["patient_link_notes"].values()))))
        pdf = client.download_file(int(xw["documents"]["fx-doc-2"]))
    assert rep["all_checks_passed"] is True
    t = rep["targets"]
    assert {n: t[n]["created"] for n in ("persons", "organizations", "visits", "appointments", "treatment_plans",
                                         "billing", "clinical_notes", "relationship_notes", "patient_link_notes",
                                         "documents")} == {
        "persons": 3, "organizations": 1, "visits": 3, "appointments": 2, "treatment_plans": 2, "billing": 2,
        "clinical_notes": 1, "relationship_notes": 1, "patient_link_notes": 1, "documents": 1}
    assert (t["providers"]["matched"], t["providers"]["fallback_owner"]) == (2, 1)  # Dan by his role's e-mail

    def cf(person: dict, name: str):
        value = person["custom_fields"][fields[name]["field_code"]]
        options = {o["id"]: o["label"] for o in fields[name].get("options") or []}
        return options.get(value, value)

    assert alice["name"] == "Alice101 Example201" and alice["owner_id"] == 2
    assert [e["value"] for e in alice["emails"]] == ["alice.example@mail.example"]
    assert (cf(alice, "Insurance carrier"), cf(alice, "Secondary insurance carrier"), cf(alice, "Insurance policy number"),
            cf(alice, "Insurance group number"), cf(alice, "Insurance coverage level")) == (
        "Example Health Plan", "Sample Dental Mutual", "EHP-0001", "GRP-100", "Primary and secondary")
    assert cf(alice, "Latest HbA1c (%)") == pytest.approx(5.9) and cf(alice, "Lab result count") == pytest.approx(2)
    assert cf(alice, "Imaging orders") == "2024-03-05 Digital Radiography - Chest (399208008)"
    assert cf(alice, "Related persons") == "spouse: Bob102 Example201" and cf(alice, "MRN") == "MRN-1"
    assert (cf(alice, "Gender"), cf(alice, "Record status")) == ("Female", "Active")
    assert cf(bob, "Linked records") == "seealso: Patient fx-patient-3"
    video = visits["fx-enc-2"]
    assert (video["type"], video["due_date"], video["due_time"][:5], video["duration"][:5]) == (
        "call", "2024-02-01", "19:00", "00:20")
    assert video["owner_id"] == 1 and "Practitioner: Fay Sample" in video["note"]  # Fay: fallback owner
    assert visits["fx-enc-3"]["done"] is False and "Status: cancelled" in visits["fx-enc-3"]["note"]
    assert appts["fx-appt-1"]["done"] is False and "No-show: Yes" in appts["fx-appt-1"]["note"]
    assert appts["fx-appt-2"]["owner_id"] == 2
    assert (plans["fx-cp-2"]["status"], plans["fx-cp-1"]["status"]) == ("won", "open")
    assert bills["fx-claim-1"]["value"] == pytest.approx(150.0) and bills["fx-claim-1"]["status"] == "won"
    assert bills["fx-claim-2"]["value"] == pytest.approx(89.5) and bills["fx-claim-2"]["status"] == "open"
    assert bills["fx-claim-2"]["custom_fields"][deal_fields["Outstanding balance"]["field_code"]]["value"] == \
        pytest.approx(49.5)
    assert "Assessment: stable. Plan: review in 3 months." in note["content"] and note["user_id"] == 2
    assert note["add_time"] == "2024-01-15 09:30:00"
    assert "Bob102 Example201 is this patient's spouse (SPS). Phone: 555-0102." in rel_note["content"]
    assert "seealso" in link_note["content"] and "Cara103 Example201" in link_note["content"]
    assert pdf == PDF


def test_a_killed_load_resumes_without_duplicates_or_losses(tmp_path, monkeypatch):
    expected = ndjson_count("Encounter")
    with fhir_migration(tmp_path, monkeypatch, SAMPLE) as env:
        proc = subprocess.Popen([sys.executable, "-m", "flit_pipelines.cli", "run", M, "--wave", "full",
                                 "--log-level", "WARNING"], env=env["env"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline, killed_at = time.monotonic() + 420, None
        while time.monotonic() < deadline and proc.poll() is None:
            active = pd_stats(env["pipedrive"])["entities"].get("activity", {}).get("active", 0)
            if active >= 200:
                proc.kill()  # SIGKILL mid-load: nothing flushed beyond what was committed
                killed_at = active
                break
            time.sleep(0.05)
        proc.wait(timeout=30)
        assert killed_at is not None, "the load finished before it could be killed"
        assert run_wave(M, "full", quiet=True) is True
        rep = report(M, "full")
        stats = pd_stats(env["pipedrive"])
    assert rep["all_checks_passed"] is True
    visits = rep["targets"]["visits"]
    assert stats["entities"]["activity"]["active"] == expected == visits["destination_count"]
    assert killed_at < expected
    assert visits["created"] + visits["adopted"] + visits["unchanged"] + visits["updated"] >= expected - killed_at


def test_the_dagster_code_location_has_the_fhir_migration():
    import dagster as dg

    from flit_pipelines.definitions import defs

    d = defs()
    dg.Definitions.validate_loadable(d)
    assert {f"{M}_migration", f"{M}_rollback"} <= {j.name for j in d.resolve_all_job_defs()}
    assert {f"{M}_wave_partitions", f"{M}_delta_pickup"} <= {s.name for s in d.sensors}
    keys = {k.to_user_string() for k in d.resolve_asset_graph().get_all_asset_keys()}
    assert {f"{M}/extract/patients", f"{M}/load/visits", f"{M}/load/clinical_notes"} <= keys
