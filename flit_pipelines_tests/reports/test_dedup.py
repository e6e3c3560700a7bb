"""Deduplication pass for Pipedrive persons: the sandbox's vendor merge, the merge plan, and the pass
run by Dagster between the persons load and its children (over real HTTP, real SQLite ledger)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import requests

from flit_pipelines.cli import report, run_wave
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines.destinations.pipedrive.dedup import components, dedup_option, person_frame, plan_merges
from flit_sandboxes.pipedrive import running_sandbox
from flit_pipelines.spec.load import approve_spec_file
from flit_pipelines_tests.conftest import FIXTURE_EXPORT, TOKEN, sandbox_stats
from flit_pipelines_tests.spec_edit import replace_once

M = "clinic_to_pipedrive"
ALICE = "a0000000-0000-4000-8000-000000000001"
DUP_1 = "a0000000-0000-4000-8000-000000000011"  # Alice again, fewer fields
DUP_2 = "a0000000-0000-4000-8000-000000000012"  # Alice again, fewest fields


# -- the sandbox's PUT /api/v1/persons/{id}/merge ------------------------------------------------
@pytest.fixture
def api(tmp_path):
    with running_sandbox(tmp_path / "pd.db", TOKEN, burst_limit=400) as url:
        yield url, PipedriveClient(url, TOKEN)


def test_sandbox_merge_keeps_survivor_values_moves_children_and_answers_the_vendor_body(api, tmp_path):
    url, c = api
    keep = c.create("person", {"name": "Ann Keep", "emails": [{"value": "ann@x.example", "primary": True}],
                               "phones": [{"value": "555-0100"}]})
    gone = c.create("person", {"name": "Ann Gone", "birthday": "1980-02-03",
                               "emails": [{"value": "ANN@x.example"}, {"value": "ann.work@x.example"}]})
    other = c.create("person", {"name": "Bob Other"})
    deal = c.create("deal", {"title": "Plan", "person_id": gone["id"]})
    act = c.create("activity", {"subject": "Visit", "participants": [{"person_id": gone["id"], "primary": True},
                                                                     {"person_id": other["id"]}]})
    note = c.create("note", {"content": "hello", "person_id": gone["id"]})
    file_ = c.upload_file(file_name="a.txt", content=b"abc", person_id=gone["id"], content_type="text/plain")

    resp = requests.put(f"{url}/api/v1/persons/{gone['id']}/merge", json={"merge_with_id": keep["id"]},
                        headers={"x-api-token": TOKEN}, timeout=10)
    assert resp.status_code == 200
    assert int(resp.headers["x-daily-ratelimit-token-limit"]) - int(
        resp.headers["x-daily-ratelimit-token-remaining"]) >= 40  # x-token-cost 40 of mergePersons
    body = resp.json()
    assert body["success"] is True
    data = body["data"]
    assert (data["id"], data["merge_what_id"], data["name"]) == (keep["id"], gone["id"], "Ann Keep")
    assert (data["activities_count"], data["notes_count"], data["files_count"], data["open_deals_count"]) == (1, 1, 1, 1)
    assert [e["value"] for e in data["email"]] == ["ann@x.example", "ann.work@x.example"]  # same address once
    assert data["add_time"][4] == "-" and "T" not in data["add_time"]  # v1 timestamp format

    assert c.get("person", gone["id"]) is None  # removed
    survivor = c.get("person", keep["id"])
    assert survivor["name"] == "Ann Keep" and survivor["birthday"] == "1980-02-03"  # empty field filled
    assert [p["value"] for p in survivor["phones"]] == ["555-0100"]
    assert c.get("deal", deal["id"])["person_id"] == keep["id"]
    moved = c.get("activity", act["id"])
    assert moved["person_id"] == keep["id"]
    assert {p["person_id"] for p in moved["participants"]} == {keep["id"], other["id"]}
    assert c.get("note", note["id"])["person_id"] == keep["id"]
    assert c.get("file", file_["id"])["person_id"] == keep["id"]


def test_sandbox_merge_errors_follow_the_v1_envelope(api):
    url, c = api
    a = c.create("person", {"name": "A"})
    h = {"x-api-token": TOKEN}
    missing = requests.put(f"{url}/api/v1/persons/{a['id']}/merge", json={}, headers=h, timeout=10)
    assert missing.status_code == 400 and missing.json()["success"] is False  # merge_with_id is required
    same = requests.put(f"{url}/api/v1/persons/{a['id']}/merge", json={"merge_with_id": a["id"]}, headers=h, timeout=10)
    assert same.status_code == 400
    unknown = requests.put(f"{url}/api/v1/persons/{a['id']}/merge", json={"merge_with_id": 999}, headers=h, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["data"] is None
    assert c.get("person", a["id"]) is not None  # nothing changed


# -- the plan ----------------------------------------------------------------------------------------
def _person(pid, emails, **fields):
    return {"id": pid, "name": f"P{pid}", "emails": [{"value": e} for e in emails], "custom_fields": {}, **fields}


def test_plan_groups_by_any_shared_email_and_keeps_the_most_complete_then_oldest_source_id():
    items = [_person(1, ["A@x.example"]),
             _person(2, [" a@x.example", "b@x.example"], birthday="2000-01-01", custom_fields={"k": "v"}),
             _person(3, ["b@x.example"]),  # linked to 1 only through 2
             _person(4, ["c@x.example"]), _person(5, ["C@X.example "]),  # tie: equally complete
             _person(6, []), _person(7, ["d@x.example"])]
    persons = person_frame(items)
    assert persons.loc[persons["dest_id"] == "2", "filled"].item() > persons.loc[persons["dest_id"] == "1", "filled"].item()
    cands = pd.DataFrame({"source_id": ["30", "20", "10", "9", "100", "6", "7"],
                          "dest_id": [str(i) for i in range(1, 8)]}).astype("string").merge(persons, on="dest_id")
    plan = plan_merges(cands)
    assert sorted(map(tuple, plan[["survivor_source_id", "merged_source_id"]].values.tolist())) == [
        ("20", "10"), ("20", "30"),  # 2 is the most complete of 1, 2, 3
        ("9", "100")]  # a tie: numeric source IDs, 9 is older than 100
    assert set(plan["match_key"]) == {"email"}
    assert plan.loc[plan["merged_source_id"] == "30", "merged_dest_id"].item() == "1"


def test_components_join_chains():
    pairs = pd.DataFrame({"person": [0, 1, 1, 2, 3], "key": ["a", "a", "b", "b", "z"]})
    assert components(pairs).to_dict() == {0: 0, 1: 0, 2: 0, 3: 3}


def test_dedup_option_is_validated(spec):
    persons = spec.targets["persons"]
    assert dedup_option("persons", persons) is None
    assert dedup_option("persons", persons.model_copy(update={"options": {"dedup": {"by": "email"}}})) == "email"
    with pytest.raises(ValueError, match="options.dedup must be"):
        dedup_option("persons", persons.model_copy(update={"options": {"dedup": {"by": "phone"}}}))
    with pytest.raises(ValueError, match="person targets only"):
        dedup_option("visits", spec.targets["visits"].model_copy(update={"options": {"dedup": {"by": "email"}}}))


# -- the pass, through Dagster ---------------------------------------------------------------------
def _writes(stats: dict) -> int:
    return sum(n for op, n in stats["requests_by_operation"].items()
               if op.split(" ")[0] in ("POST", "PATCH", "PUT", "DELETE") and "/__sandbox" not in op)


@pytest.fixture
def dedup_env(migration_env, tmp_path, monkeypatch):
    """The fixture export plus Alice twice more (one of them with a clinical note), sharing her
    e-mail in other spellings; a spec copy with options.dedup on persons, re-approved."""
    export = tmp_path / "export"
    shutil.copytree(FIXTURE_EXPORT, export)
    patients = pd.read_csv(export / "patients.csv", dtype=str, keep_default_na=False)
    alice = patients[patients["Id"] == ALICE].iloc[0]
    dup1 = alice.copy()
    dup1[["Id", "EMAIL", "ZIP", "COUNTY"]] = [DUP_1, " Alice.Example@MAIL.example ", "", ""]
    dup2 = alice.copy()
    dup2[["Id", "EMAIL", "ADDRESS", "CITY", "ZIP", "COUNTY", "STATE"]] = [DUP_2, "ALICE.EXAMPLE@mail.example", "", "", "", "", ""]
    pd.concat([patients, pd.DataFrame([dup1, dup2])]).to_csv(export / "patients.csv", index=False)
    notes = pd.read_csv(export / "notes.csv", dtype=str, keep_default_na=False)
    note = notes.iloc[0].copy()
    note[["Id", "PATIENT", "TEXT"]] = ["ae000000-0000-4000-8000-000000000099", DUP_1, "Follow-up booked."]
    pd.concat([notes, pd.DataFrame([note])]).to_csv(export / "notes.csv", index=False)
    monkeypatch.setenv("CLINIC_EXPORT_DIR", str(export))
    path = migration_env["specs"] / f"{M}.yaml"
    text = path.read_text()
    assert "    #   options: {dedup: {by: email}}\n" in text
    path.write_text(replace_once(text, "    #   options: {dedup: {by: email}}\n", "    options: {dedup: {by: email}}\n"))
    approve_spec_file(path, "test reviewer", "2026-11-21T00:00:00+00:00")
    return {**migration_env, "export": export}


def test_three_persons_sharing_an_email_merge_into_the_most_complete_and_a_rerun_sends_nothing(dedup_env):
    from flit_pipelines.assets.resources import FlitResource

    url = dedup_env["sandbox"]
    assert run_wave(M, "full", quiet=True) is True
    rep = report(M, "full")
    assert rep["all_checks_passed"] is True
    assert rep["deduplication"]["persons"]["duplicates_merged"] == 2
    assert rep["deduplication"]["persons"]["checks"] == {"merges_reconcile": True}
    persons = rep["targets"]["persons"]
    assert (persons["created"], persons["duplicates_merged"]) == (6, 2)
    assert sandbox_stats(url)["entities"]["person"]["active"] == 4  # 6 created - 2 merged

    ledger = FlitResource().ledger()
    xw = ledger.crosswalk_frame(M, "persons").set_index("source_id")["dest_id"]
    survivor = xw[ALICE]
    assert xw[DUP_1] == xw[DUP_2] == survivor  # FK resolution now lands on the survivor
    log = pd.read_csv(dedup_env["tmp"] / "data" / "reports" / M / "full" / "dedup_reconciliation.csv", dtype=str)
    assert sorted(log["merged_source_id"]) == [DUP_1, DUP_2]
    assert set(log["survivor_source_id"]) == {ALICE} and set(log["survivor_dest_id"]) == {survivor}
    assert set(log["match_key"]) == {"email"} and set(log["status"]) == {"done"}
    assert survivor not in set(log["merged_dest_id"]) and log["merged_at"].notna().all()
    assert "@" not in log.to_csv()  # the key's kind, never the address
    merges = ledger.audit_frame(M, target="persons", operations=["merge"])
    assert sorted(merges["source_id"]) == [DUP_1, DUP_2] and set(merges["dest_id"]) == {survivor}

    client = PipedriveClient(url, TOKEN)
    for former in log["merged_dest_id"]:
        assert client.get("person", int(former)) is None
    note = client.get("note", int(ledger.crosswalk_frame(M, "clinical_notes").set_index("source_id")["dest_id"][
        "ae000000-0000-4000-8000-000000000099"]))
    assert note["person_id"] == int(survivor)  # the duplicate's child attached to the survivor
    kept = client.get("person", int(survivor))
    assert kept["postal_address"]["postal_code"]  # the survivor's own values

    # the same wave again: no write at all, nothing re-created, merges still reconcile
    before = _writes(sandbox_stats(url))
    assert run_wave(M, "full", quiet=True) is True
    assert _writes(sandbox_stats(url)) == before
    rep2 = report(M, "full")
    assert rep2["all_checks_passed"] is True
    assert (rep2["targets"]["persons"]["created"], rep2["targets"]["persons"]["unchanged"]) == (0, 6)
    assert rep2["deduplication"]["persons"]["duplicates_merged"] == 2
    assert sandbox_stats(url)["entities"]["person"]["active"] == 4

    # a merged duplicate changed in the source: held for a person, the survivor is not overwritten
    patients = pd.read_csv(dedup_env["export"] / "patients.csv", dtype=str, keep_default_na=False)
    patients.loc[patients["Id"] == DUP_2, "CITY"] = "Elsewhere"
    patients.to_csv(dedup_env["export"] / "patients.csv", index=False)
    assert run_wave(M, "full", quiet=True) is True
    assert _writes(sandbox_stats(url)) == before
    rep3 = report(M, "full")
    assert rep3["all_checks_passed"] is True
    t = rep3["targets"]["persons"]
    assert (t["updated"], t["held_for_phi_review"], t["quarantined"]) == (0, 1, 1)
    assert next(iter(t["quarantine_reasons"])).startswith(f"merged into source record {ALICE}")
    assert client.get("person", int(survivor))["postal_address"]["locality"] != "Elsewhere"
