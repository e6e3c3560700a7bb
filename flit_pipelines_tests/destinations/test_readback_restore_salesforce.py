"""SalesforceDestination read_fields / normalise_body / restore / find_matches / delete against the real
HTTP Salesforce sandbox.

Spec ``fixtures/salesforce/tiny_salesforce.yaml`` and the in-memory frames and ``env`` fixture of
``test_salesforce_destination``; records are loaded with ``load_target`` and their bodies rebuilt as
``load_target`` builds them.
"""

from __future__ import annotations

import pandas as pd
import pytest

from flit_pipelines.destinations.base import SendResult, resolve_lookups
from flit_pipelines.destinations.salesforce.errors import SchemaError
from flit_pipelines.transform.payload import build_payload
from flit_pipelines_tests.destinations.test_salesforce_destination import ORDER, env  # noqa: F401 (fixture)

WRITTEN = [t for t in ORDER if t != "users"]


def start(env):  # noqa: F811 (the fixture's name)
    """A fresh sandbox and a destination on it with the schema deployed."""
    env.sandbox()
    d = env.destination()
    d.ensure_schema()
    return d


def bodies(env, dest, name: str) -> dict[str, tuple[dict, dict]]:  # noqa: F811
    """record Id -> (body as load_target built it, payload row) for the target's loaded records."""
    spec = env.spec
    payload = build_payload(spec, name, env.frames)
    resolved, _ = resolve_lookups(spec, name, payload, env.ledger, dest.fallback_owner_id())
    xw = env.xw(name)
    out = {}
    for i, row in enumerate(payload.to_dict("records")):
        sid = str(row["source_id"])
        if sid not in xw or dest.flag(name, spec.targets[name], row):
            continue
        fks = {fk: (None if pd.isna(v) else v) for fk, v in resolved.iloc[i].items()}
        out[xw[sid]] = (dest.build_body(name, spec.targets[name], row, fks), row)
    return out


def test_read_fields_equals_build_body_and_shows_changes(env):  # noqa: F811
    dest = start(env)
    env.load_all(dest)
    compared = 0
    for name in WRITTEN:
        t = env.spec.targets[name]
        sent = bodies(env, dest, name)
        assert sent, name
        live = dest.read_fields(name, t, [*sent, "003000000000000AAA"])
        assert set(live) == set(sent), name
        for dest_id, (body, _row) in sent.items():
            expected = dest.normalise_body(name, t, body)
            assert "_file" not in expected and set(expected) <= set(live[dest_id]), name
            assert {k: live[dest_id][k] for k in expected} == expected, (name, dest_id)
            compared += 1
    assert compared >= 15

    # relationship columns read back as the parent's external ID, polymorphic ones too
    ev_id = env.xw("appointment_events")["A1"]
    event = dest.read_fields("appointment_events", env.spec.targets["appointment_events"], [ev_id])[ev_id]
    assert event["Contact:Who.Source_System_ID__c"] == "1"
    assert event["Treatment_Record__c:What.Source_System_ID__c"] == "T1"
    assert event["StartDateTime"] == "2024-01-15T15:30:00.000Z"

    # a value changed in the org shows as a difference of exactly that key
    patients = env.spec.targets["patients"]
    cid, (body, _) = next((d, b) for d, b in bodies(env, dest, "patients").items() if b[1]["source_id"] == "1")
    dest.client.rest("PATCH", f"sobjects/Contact/{cid}", json={"Phone": "+15559999999"})
    live = dest.read_fields("patients", patients, [cid])[cid]
    expected = dest.normalise_body("patients", patients, body)
    assert {k for k in expected if live[k] != expected[k]} == {"Phone"}


def test_restore_pre_existing_contact_update_in_place_and_gone(env):  # noqa: F811
    dest = start(env)
    env.load(dest, "users")
    patients = env.spec.targets["patients"]
    created = dest.client.rest("POST", "sobjects/Contact", json={"LastName": "Existing", "FirstName": "Pat",
                                                                 "Email": "pat@old.test", "Balance__c": 5})
    cid = str(created["id"])
    prior = dest.read_fields("patients", patients, [cid])[cid]
    assert prior["LastName"] == "Existing" and prior["Source_System_ID__c"] is None
    assert prior["Phone"] is None and prior["Balance__c"] == 5 and prior["OwnerId"]

    # the migration updates the pre-existing record in place (by Id): external ID set, fields filled
    payload = build_payload(env.spec, "patients", env.frames)
    row = payload.iloc[0].to_dict()
    body = dest.build_body("patients", patients, row, {"OwnerId": dest.fallback_owner_id()})
    assert dest.update("patients", patients, cid, body, row) == SendResult(cid)
    assert len(env.query("SELECT Id FROM Contact")) == 1  # no duplicate created
    migrated = dest.read_fields("patients", patients, [cid])[cid]
    assert migrated["Source_System_ID__c"] == "1" and migrated["Phone"] == "+15550001000"
    assert migrated["Medical_Alerts__c"] == "Diabetes;Latex"

    assert dest.restore("patients", patients, cid, prior) == SendResult(cid)
    assert dest.read_fields("patients", patients, [cid])[cid] == prior

    dest.client.rest("DELETE", f"sobjects/Contact/{cid}")
    assert dest.restore("patients", patients, cid, prior) == SendResult(None, error="gone")
    assert dest.read_fields("patients", patients, [cid]) == {}


MUTATE = {
    "treatments": {"Name": "changed", "Fee__c": 1.0, "Performed_On__c": None},
    "insurance": {"Member_ID__c": "changed"},
    "invoices": {"Amount__c": 2.0, "Invoice_Status__c": "Void"},
    "appointment_events": {"Subject": "changed", "Description": None},
    "appointment_tasks": {"Subject": "changed", "Status": "Completed"},
    "relationships": {"Role__c": "Hygienist"},
}


def test_restore_other_objects(env):  # noqa: F811
    dest = start(env)
    env.load_all(dest)
    for name, change in MUTATE.items():
        t = env.spec.targets[name]
        dest_id, (body, row) = next(iter(bodies(env, dest, name).items()))
        prior = dest.read_fields(name, t, [dest_id])[dest_id]
        assert dest.update(name, t, dest_id, {**body, **change}, row) == SendResult(dest_id), name
        assert dest.read_fields(name, t, [dest_id])[dest_id] != prior, name
        assert dest.restore(name, t, dest_id, prior) == SendResult(dest_id), name
        assert dest.read_fields(name, t, [dest_id])[dest_id] == prior, name
    doc = dest.restore("documents", env.spec.targets["documents"], "068000000000000AAA", {})
    assert doc.dest_id is None and doc.error.startswith("manual: ")


def test_find_matches_unique_ambiguous_keyed_case(env):  # noqa: F811
    dest = start(env)
    patients = env.spec.targets["patients"].model_copy(update={"options": {"sobject": "Contact",
                                                                           "match_existing": "Email"}})

    def contact(email: str, ext: str | None = None) -> str:
        body = {"LastName": "P", "Email": email, **({"Source_System_ID__c": ext} if ext else {})}
        return str(dest.client.rest("POST", "sobjects/Contact", json=body)["id"])

    solo = contact("Solo@Example.test")
    twins = [contact("twin@example.test"), contact("TWIN@example.test")]
    contact("keyed@example.test", "9")
    mixed = contact("mixed@example.test")
    contact("mixed@example.test", "PR-X")
    gone = contact("gone@example.test")
    dest.client.rest("DELETE", f"sobjects/Contact/{gone}")

    values = [" solo@EXAMPLE.test", "twin@example.test", "keyed@example.test", "MIXED@example.test",
              "gone@example.test", "nobody@example.test", "", "o'brien@example.test"]
    assert dest.find_matches("patients", patients, values) == {"solo@example.test": solo, "mixed@example.test": mixed}
    assert {k: sorted(v) for k, v in dest.ambiguous_matches("patients", patients, values).items()} == {
        "twin@example.test": sorted(twins)}
    assert dest.match_value("patients", patients, {"Email": " Solo@Example.test"}) == "solo@example.test"


def test_match_existing_is_validated(env):  # noqa: F811
    dest = start(env)
    base = env.spec.targets["patients"]
    unknown = base.model_copy(update={"options": {"sobject": "Contact", "match_existing": "EmailAddress"}})
    with pytest.raises(SchemaError, match="target patients: options.match_existing 'EmailAddress'"):
        dest.find_matches("patients", unknown, ["x"])
    not_text = base.model_copy(update={"options": {"sobject": "Contact", "match_existing": "Birthdate"}})
    with pytest.raises(SchemaError, match="target patients: options.match_existing 'Birthdate' is not a filterable"):
        dest.find_matches("patients", not_text, ["x"])


def test_delete_every_object_idempotent(env):  # noqa: F811
    dest = start(env)
    env.load_all(dest)
    for name in reversed(ORDER):  # children first, as the rollback job runs
        t = env.spec.targets[name]
        ids = list(env.xw(name).values())
        first = dest.delete(name, t, ids)
        if name == "users":
            assert not first["deleted"].any() and first["error"].str.startswith("skipped: ").all()
            continue
        assert first["deleted"].all() and first["error"].isna().all(), (name, first["error"].tolist())
        assert dest.read_fields(name, t, ids) == {}, name
        again = dest.delete(name, t, ids)
        assert again["deleted"].all() and (again["error"] == "gone").all(), (name, again["error"].tolist())
