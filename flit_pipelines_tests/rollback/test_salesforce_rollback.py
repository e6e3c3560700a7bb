"""Rollback against the real HTTP Salesforce sandbox, loaded with ``load_target`` (Bulk API 2.0 and
sObject Collections), on the tiny fixture spec of the destination tests with ``match_existing: Email``
on patient Contacts. The org reads exactly as before the migration afterwards; a dry run changes
nothing; a crash midway resumes; a second rollback does nothing.
"""

from __future__ import annotations

import json

import pytest
import requests

from flit_pipelines.destinations.base import FatalLoadError
from flit_pipelines.rollback import execute_rollback, plan_rollback
from flit_pipelines_tests.destinations.test_salesforce_destination import ORDER, env  # noqa: F401 (fixture)
from flit_pipelines_tests.rollback.snapshots import CrashingDestination, salesforce_snapshot, snapshot_diff


def with_match(spec, target: str, field: str):
    raw = spec.model_dump(by_alias=True, exclude_none=True)
    raw["targets"][target].setdefault("options", {})["match_existing"] = field
    return type(spec).model_validate(raw)


def create(env, sobject: str, body: dict) -> str:
    resp = requests.post(f"{env.url}/services/data/v62.0/sobjects/{sobject}", json=body, timeout=10,
                         headers={"Authorization": f"Bearer {env.token()}"})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def writes(env) -> int:
    ops = env.stats().get("requests_by_operation") or {}
    return sum(n for op, n in ops.items() if op.split(" ")[0] in ("POST", "PATCH", "PUT", "DELETE")
               and "oauth2" not in op and "__sandbox" not in op)


@pytest.fixture
def org(env):  # noqa: F811 (the env fixture, imported)
    env.sandbox()
    spec = with_match(env.spec, "patients", "Email")
    dest = env.destination(spec)
    dest.ensure_schema()  # custom objects/fields and permission sets: account set-up, kept by rollback
    acct = create(env, "Account", {"Name": "Existing Household"})
    ann = create(env, "Contact", {"LastName": "Smith-Old", "FirstName": "Ann", "Email": "ANN@example.test",
                                  "Phone": "+15550009999", "AccountId": acct})
    other = create(env, "Contact", {"LastName": "Nobody", "Email": "nobody@example.test"})
    create(env, "Task", {"Subject": "Existing call", "WhoId": other, "Status": "Not Started"})
    return {"env": env, "spec": spec, "dest": dest, "ann": ann}


def snap(env) -> dict:
    return salesforce_snapshot(env.url, env.token())


def test_rollback_restores_the_org_to_its_state_before_the_migration(org):
    env, spec, dest = org["env"], org["spec"], org["dest"]
    ledger = env.ledger
    before = snap(env)

    loaded = {t: env.load(dest, t, "r1", spec=spec) for t in ORDER}
    assert (loaded["patients"].matched_existing, loaded["patients"].created) == (1, 4)
    assert all(s.failed == 0 for s in loaded.values())
    assert env.xw("patients")["1"] == org["ann"]
    prior = json.loads(ledger.prior_states(spec.migration, "patients").set_index("dest_id").loc[org["ann"], "payload"])
    assert prior["LastName"] == "Smith-Old" and not prior.get("Source_System_ID__c")
    migrated = snap(env)
    assert (len(before["Contact"]), len(migrated["Contact"])) == (2, 2 + 4 + 2)  # + patients, practitioners
    assert len(migrated["Treatment_Record__c"]) == 4 and len(migrated["ContentVersion"]) == 2
    assert len(migrated["Task"]) == len(before["Task"]) + 2 and len(migrated["ContentDocumentLink"]) >= 2
    ann = next(c for c in migrated["Contact"] if c["Id"] == org["ann"])
    assert (ann["LastName"], ann["Source_System_ID__c"], ann["Birthdate"]) == ("Smith", "1", "1980-02-03")

    plan = plan_rollback(spec, ledger, scope="all")
    counts = plan.groupby("action").size().to_dict()
    assert counts == {"delete": counts["delete"], "restore": 1, "keep": 2}
    w = writes(env)
    execute_rollback(spec, ledger, dest, plan, run_id="dry", dry_run=True)
    assert writes(env) == w and snap(env) == migrated

    crashing = CrashingDestination(dest, crash_after=4)
    with pytest.raises(FatalLoadError, match="simulated crash"):
        execute_rollback(spec, ledger, crashing, plan, run_id="rb1")
    recorded = len(ledger.audit_frame(spec.migration, wave="rollback"))
    assert recorded < 4 and snap(env) not in (before, migrated)

    plan2 = plan_rollback(spec, ledger, scope="all")
    assert (plan2["action"] == "delete").sum() == counts["delete"] - recorded
    summary = execute_rollback(spec, ledger, dest, plan2, run_id="rb2")
    assert summary["totals"]["failed"] == 0 and summary["manual_actions"] == [], summary["errors"]
    assert summary["totals"]["restored"] == 1
    after = snap(env)
    assert after == before, snapshot_diff(before, after)
    events = ledger.audit_frame(spec.migration, wave="rollback")
    assert set(events["status"]) == {"ok"} and set(events["operation"]) == {"delete", "restore"}

    w = writes(env)
    plan3 = plan_rollback(spec, ledger, scope="all")
    assert set(plan3["action"]) == {"keep"}  # users only
    execute_rollback(spec, ledger, dest, plan3, run_id="rb3")
    assert writes(env) == w and snap(env) == before
