"""Rollback of clinic_to_pipedrive against the real HTTP Pipedrive sandbox, loaded with ``load_target``.

Pre-existing persons that share a fixture patient's e-mail are matched (``options.match_existing: email``)
and updated by the migration; the rollback deletes what the migration created and restores those
persons, and the sandbox reads exactly as it did before the migration. Also: a dry run changes
nothing, a crash midway resumes, and a second rollback does nothing.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from flit_pipelines.destinations.base import FatalLoadError, load_target
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines.destinations.pipedrive.destination import PipedriveDestination
from flit_pipelines.ledger import Ledger
from flit_pipelines.rollback import execute_rollback, plan_rollback
from flit_pipelines.transform.payload import build_payload
from flit_pipelines_tests.conftest import FIXTURE_EXPORT, TOKEN, sandbox_stats
from flit_pipelines_tests.rollback.snapshots import CrashingDestination, pipedrive_snapshot, snapshot_diff

M = "clinic_to_pipedrive"
ORDER = ["organizations", "providers", "persons", "visits", "treatment_plans", "billing", "clinical_notes",
         "relationship_notes", "documents"]
ALICE = "a0000000-0000-4000-8000-000000000001"
DAN = "a0000000-0000-4000-8000-000000000004"


def with_match(spec, target: str, field: str):
    """The spec with ``options.match_existing`` on one target (committed specs may not have it yet)."""
    raw = spec.model_dump(by_alias=True, exclude_none=True)
    raw["targets"][target].setdefault("options", {})["match_existing"] = field
    return type(spec).model_validate(raw)


def writes(stats: dict) -> int:
    return sum(n for op, n in stats["requests_by_operation"].items()
               if op.split(" ")[0] in ("POST", "PATCH", "PUT", "DELETE") and "/__sandbox" not in op)


@pytest.fixture
def env(sandbox, spec, fixture_frames, tmp_path):
    spec = with_match(spec, "persons", "email")
    client = PipedriveClient(sandbox, TOKEN)
    dest = PipedriveDestination(client, spec, files_root=FIXTURE_EXPORT)
    dest.ensure_schema()  # custom fields and pipelines are account schema, not records: kept by rollback
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    mrn = dest.fields["person"]["MRN"].key
    # Records the clinic already had in Pipedrive: two share a patient's e-mail (one in another case).
    # Both have a birthday and an organization: the v2 API has no empty value for those, so a restore
    # cannot empty them (the destination reports that as a manual action; see test_execute.py).
    org = client.create("organization", {"name": "Old Clinic Org"})
    alice = client.create("person", {"name": "Alice Before", "org_id": org["id"], "birthday": "1970-01-02",
                                     "emails": [{"value": "Alice.Example@mail.example", "label": "work",
                                                 "primary": True}],
                                     "phones": [{"value": "+1 555 0100", "label": "mobile", "primary": True}],
                                     "custom_fields": {mrn: "OLD-1"}})
    dan = client.create("person", {"name": "Dan Before", "org_id": org["id"], "birthday": "1960-03-04",
                                   "emails": [{"value": "dan.sample@synthclinic.example", "label": "home"}]})
    other = client.create("person", {"name": "Unrelated Person", "emails": [{"value": "zed@else.example"}]})
    client.create("deal", {"title": "Old deal", "person_id": other["id"], "value": 10, "currency": "USD"})
    client.create("activity", {"subject": "Old call", "type": "call", "due_date": "2023-05-01",
                                "participants": [{"person_id": dan["id"], "primary": True}]})
    client.request("POST", "/api/v1/notes", json={"content": "Old note", "person_id": alice["id"]})
    yield {"spec": spec, "client": client, "dest": dest, "ledger": ledger, "frames": fixture_frames,
           "sandbox": sandbox, "pre": {"alice": str(alice["id"]), "dan": str(dan["id"])}}
    client.close()


def migrate(env, run_id: str = "r1", wave: str = "full") -> dict:
    out = {}
    for name in ORDER:
        payload = build_payload(env["spec"], name, env["frames"])
        out[name] = load_target(spec=env["spec"], target_name=name, payload=payload, destination=env["dest"],
                                ledger=env["ledger"], run_id=run_id, wave=wave, max_workers=2)
        assert out[name].failed == 0, (name, out[name].errors)
    return out


def test_rollback_restores_the_sandbox_to_its_state_before_the_migration(env):
    client, ledger, spec = env["client"], env["ledger"], env["spec"]
    before = pipedrive_snapshot(client)

    loaded = migrate(env)
    persons = loaded["persons"]
    assert (persons.matched_existing, persons.created, persons.updated) == (2, 2, 2)
    xw = ledger.crosswalk_frame(M, "persons").set_index("source_id")
    assert xw.loc[ALICE, "dest_id"] == env["pre"]["alice"] and xw.loc[DAN, "dest_id"] == env["pre"]["dan"]
    assert xw.loc[[ALICE, DAN], "created_by_migration"].tolist() == [0, 0]
    prior = ledger.prior_states(M, "persons").set_index("dest_id")["payload"].map(json.loads)
    assert set(prior.index) == set(env["pre"].values())
    assert prior[env["pre"]["alice"]]["name"] == "Alice Before"
    migrated = pipedrive_snapshot(client)
    alice_now = next(p for p in migrated["person"] if str(p["id"]) == env["pre"]["alice"])
    assert alice_now["name"] == "Alice101 Example201"  # the migration updated the pre-existing record
    assert len(migrated["person"]) == len(before["person"]) + 2

    # a second load of the same wave re-reads nothing and captures nothing new
    again = migrate(env, run_id="r2")
    assert again["persons"].unchanged == 4 and len(ledger.prior_states(M, "persons")) == 2

    # dry run: a plan, no change anywhere
    plan = plan_rollback(spec, ledger, scope="all")
    counts = plan.groupby("action").size().to_dict()
    assert counts["restore"] == 2 and counts["keep"] == 3  # 3 providers (2 matched users, 1 fallback)
    writes_before = writes(sandbox_stats(env["sandbox"]))
    dry = execute_rollback(spec, ledger, env["dest"], plan, run_id="rb0", dry_run=True)
    assert dry["totals"]["deleted"] == 0 and dry["totals"]["planned_delete"] == counts["delete"]
    assert writes(sandbox_stats(env["sandbox"])) == writes_before
    assert pipedrive_snapshot(client) == migrated
    assert ledger.audit_frame(M, wave="rollback").empty

    # crash after 5 remote deletes (the 5th is deleted but its ledger write never happens)
    crashing = CrashingDestination(env["dest"], crash_after=5)
    with pytest.raises(FatalLoadError, match="simulated crash"):
        execute_rollback(spec, ledger, crashing, plan, run_id="rb1")
    recorded = len(ledger.audit_frame(M, wave="rollback"))  # chunks finished before the crash
    assert 0 < recorded < 5
    assert pipedrive_snapshot(client) not in (before, migrated)

    # resume: plan again from the ledger, only what is left (deleted-but-unrecorded ones answer "gone")
    plan2 = plan_rollback(spec, ledger, scope="all")
    assert (plan2["action"] == "delete").sum() == counts["delete"] - recorded
    summary = execute_rollback(spec, ledger, env["dest"], plan2, run_id="rb2")
    assert summary["totals"]["failed"] == 0 and summary["manual_actions"] == [], summary["errors"]
    assert summary["totals"]["deleted"] == counts["delete"] - recorded and summary["totals"]["restored"] == 2
    after = pipedrive_snapshot(client)
    assert after == before, snapshot_diff(before, after)

    events = ledger.audit_frame(M, wave="rollback")
    assert set(events["operation"]) == {"delete", "restore"} and set(events["status"]) == {"ok"}
    assert sorted(events.loc[events["operation"] == "restore", "dest_id"]) == sorted(env["pre"].values())
    deletes = events.loc[events["operation"] == "delete", ["target", "dest_id"]]
    assert len(deletes.drop_duplicates()) == len(deletes) == counts["delete"]  # each record once
    assert ledger.prior_states(M, "persons").empty
    assert all(ledger.crosswalk_frame(M, t).empty for t in ORDER if t != "providers")
    assert len(ledger.crosswalk_frame(M, "providers")) == 3  # users: matched, never touched

    # a second rollback does nothing
    stats = writes(sandbox_stats(env["sandbox"]))
    plan3 = plan_rollback(spec, ledger, scope="all")
    assert set(plan3["action"]) == {"keep"}
    third = execute_rollback(spec, ledger, env["dest"], plan3, run_id="rb3")
    assert third["totals"]["deleted"] == third["totals"]["restored"] == 0
    assert writes(sandbox_stats(env["sandbox"])) == stats
    assert pipedrive_snapshot(client) == before


def test_rollback_of_one_wave_keeps_the_other(env):
    """The sample wave loads first; the full wave adds the rest; rolling back full leaves sample's records."""
    client, ledger, spec = env["client"], env["ledger"], env["spec"]
    before = pipedrive_snapshot(client)
    for name in ORDER:  # the sample wave: Alice only (her children load; other patients' fail their lookup)
        payload = build_payload(spec, name, env["frames"])
        if name == "persons":
            payload = payload[payload["source_id"] == ALICE]
        load_target(spec=spec, target_name=name, payload=payload, destination=env["dest"], ledger=ledger,
                    run_id="s1", wave="sample", max_workers=2)
    after_sample = pipedrive_snapshot(client)
    migrate(env, run_id="f1", wave="full")

    plan = plan_rollback(spec, ledger, scope="wave", wave="full")
    assert not (plan["source_id"] == ALICE).any()  # first written in the sample wave
    assert ((plan["source_id"] == DAN) & (plan["action"] == "restore")).sum() == 1
    summary = execute_rollback(spec, ledger, env["dest"], plan, run_id="rb")
    assert summary["totals"]["failed"] == 0
    now = pipedrive_snapshot(client)
    assert now == after_sample, snapshot_diff(after_sample, now)

    summary = execute_rollback(spec, ledger, env["dest"], plan_rollback(spec, ledger, scope="wave", wave="sample"),
                               run_id="rb2")
    assert summary["totals"]["failed"] == 0 and summary["totals"]["restored"] == 1
    assert pipedrive_snapshot(client) == before
    assert pd.Series([ledger.crosswalk_frame(M, t).empty for t in ORDER if t != "providers"]).all()


def test_a_field_the_api_cannot_empty_is_a_manual_action_and_not_repeated(env, tmp_path):
    """A pre-existing person without a birthday gets one from the migration; Pipedrive's v2 API has no
    empty birthday, so the restore writes everything else and the report names the field to clear."""
    from flit_pipelines.rollback.execute import rollback_migration

    client, ledger, spec = env["client"], env["ledger"], env["spec"]
    bare = client.create("person", {"name": "Bob Before", "emails": [{"value": "bob.example@mail.example"}]})
    migrate(env)
    summary = rollback_migration(spec, ledger, lambda: env["dest"], tmp_path / "reports", rollback_run_id="rb",
                                 dry_run=False)
    assert summary["totals"]["restored"] == 2 and summary["totals"]["manual"] == 1
    assert summary["totals"]["failed"] == 0
    [manual] = summary["manual_actions"]
    assert (manual["target"], manual["dest_id"], manual["action"]) == ("persons", str(bare["id"]), "restore")
    assert "birthday" in manual["what"] and manual["what"].startswith("manual:")
    report = json.loads((tmp_path / "reports" / "rollback_report.json").read_text())
    assert report["manual_actions"] == summary["manual_actions"] and report["scope"] == "all"
    plan_csv = pd.read_csv(tmp_path / "reports" / "rollback_plan.csv", dtype=str)
    assert list(plan_csv.columns) == ["target", "source_id", "dest_id", "action", "reason"]
    assert (plan_csv["action"] == "restore").sum() == 3
    live = client.get("person", int(bare["id"]))
    assert live["name"] == "Bob Before" and live["birthday"] is not None  # left for the admin
    events = ledger.audit_frame(M, wave="rollback", operations=["restore"])
    assert sorted(events["status"]) == ["error", "ok", "ok"]
    # handed over: the next rollback does not repeat it
    again = rollback_migration(spec, ledger, lambda: env["dest"], tmp_path / "reports", rollback_run_id="rb2",
                               dry_run=False)
    assert again["totals"]["planned_restore"] == again["totals"]["planned_delete"] == 0


def test_refused_delete_is_retried_and_a_record_deleted_since_is_a_manual_restore(env):
    import requests

    client, ledger, spec = env["client"], env["ledger"], env["spec"]
    migrate(env)
    client.delete("person", int(env["pre"]["dan"]))  # someone deleted the pre-existing person meanwhile
    resp = requests.post(f"{env['sandbox']}/__sandbox/faults", headers={"x-api-token": TOKEN}, timeout=10,
                         json={"status": 400, "count": 1, "path_prefix": "/api/v2/deals", "method": "DELETE"})
    resp.raise_for_status()
    first = execute_rollback(spec, ledger, env["dest"], plan_rollback(spec, ledger), run_id="rb1")
    assert first["totals"]["failed"] == 1 and first["totals"]["manual"] == 1
    assert first["errors"].pop("gone") == 1  # the restore's answer (a manual action, below)
    [(text, n)] = first["errors"].items()
    assert text.startswith("Pipedrive 400 on DELETE /api/v2/deals/") and n == 1
    [manual] = first["manual_actions"]
    assert (manual["dest_id"], manual["action"]) == (env["pre"]["dan"], "restore")
    assert "deleted in the destination" in manual["what"]
    # the refused deal and the gone person stay in the ledger (its prior state is the only copy left)
    left = plan_rollback(spec, ledger)
    assert sorted(left.loc[left["action"] != "keep", "action"]) == ["delete", "restore"]
    assert list(ledger.prior_states(M, "persons")["dest_id"]) == [env["pre"]["dan"]]

    second = execute_rollback(spec, ledger, env["dest"], left, run_id="rb2")
    assert (second["totals"]["deleted"], second["totals"]["failed"], second["totals"]["manual"]) == (1, 0, 1)
    assert not any(d["is_deleted"] is False for d in client.list("deal") if d["title"] != "Old deal")


def test_matched_record_whose_ledger_write_was_lost_is_adopted_as_pre_existing(env):
    """The update of a matched person reached Pipedrive (our source key is on it) but its ledger write did
    not: the next load adopts it by source key, and its captured prior state keeps it "not created by us",
    so rollback restores it instead of deleting a record the clinic had before."""
    client, ledger, spec = env["client"], env["ledger"], env["spec"]
    before = pipedrive_snapshot(client)
    migrate(env)
    ledger.forget(M, "persons", [ALICE])  # as if the crash came between the remote write and the ledger
    again = migrate(env, run_id="r2")
    assert (again["persons"].adopted, again["persons"].matched_existing) == (1, 0)
    xw = ledger.crosswalk_frame(M, "persons").set_index("source_id")
    assert (xw.loc[ALICE, "dest_id"], xw.loc[ALICE, "created_by_migration"]) == (env["pre"]["alice"], 0)
    plan = plan_rollback(spec, ledger)
    assert plan.loc[plan["source_id"] == ALICE, "action"].tolist() == ["restore"]
    assert execute_rollback(spec, ledger, env["dest"], plan, run_id="rb")["totals"]["failed"] == 0
    assert pipedrive_snapshot(client) == before


def test_match_existing_needs_read_fields_and_find_matches(env):
    class NoReadBack:  # a destination without read_fields / find_matches
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            if name in ("read_fields", "find_matches", "match_candidates"):
                raise AttributeError(name)
            return getattr(self.inner, name)

    payload = build_payload(env["spec"], "persons", env["frames"])
    with pytest.raises(FatalLoadError, match="persons: options.match_existing needs .* read_fields and find_matches"):
        load_target(spec=env["spec"], target_name="persons", payload=payload, destination=NoReadBack(env["dest"]),
                    ledger=env["ledger"], run_id="r1", wave="full")
    assert env["ledger"].audit_frame(M, target="persons").empty  # nothing sent
