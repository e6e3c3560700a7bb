"""HighLevelDestination read_fields / normalise_body / restore / find_matches / delete against the real
HTTP HighLevel sandbox.

Spec ``fixtures/highlevel/tiny_highlevel.yaml`` and the in-memory source frames of
``test_highlevel_destination`` (a family sharing one e-mail and phone, so two contacts land in shared
form); records are loaded with ``load_target`` and their bodies rebuilt as ``load_target`` builds them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flit_pipelines.destinations.base import SendResult, load_target, resolve_lookups
from flit_pipelines.destinations.highlevel.bodies import SHARED_TAG
from flit_pipelines.destinations.highlevel.client import HighLevelClient
from flit_pipelines.destinations.highlevel.destination import HighLevelDestination
from flit_pipelines.destinations.highlevel.errors import SchemaError
from flit_pipelines.ledger import Ledger
from flit_sandboxes.highlevel import running_sandbox
from flit_pipelines.spec import load_spec
from flit_pipelines.transform.payload import build_payload
from flit_pipelines_tests.destinations.test_highlevel_destination import (
    AGENCY,
    FAMILY_EMAIL,
    FIXTURE,
    LOCATION,
    ORDER,
    PIPELINES,
    TOKEN,
    USERS,
    _frames,
)

WRITTEN = ["patients", "patient_notes", "visits", "recalls", "plans", "lifecycle", "uploads", "links"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TINY_AGENCY_TOKEN", AGENCY)
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "xray.pdf").write_bytes(b"%PDF-1.4 panoramic")
    spec = load_spec(FIXTURE)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    frames = _frames()
    started = []

    def start(**settings) -> HighLevelDestination:
        settings = {"agency_token": AGENCY, "burst_limit": 10_000, "users": USERS, "pipelines": PIPELINES, **settings}
        cm = running_sandbox(tmp_path / f"hl{len(started)}.db", TOKEN, **settings)
        url = cm.__enter__()
        client = HighLevelClient(url, TOKEN, location_id=LOCATION)
        started.append((cm, client))
        dest = HighLevelDestination(client, spec, files_root=tmp_path / "files")
        dest.settle_seconds = 0.2
        dest.ensure_schema()
        return dest

    def load(dest: HighLevelDestination, names=ORDER) -> None:
        for name in names:
            payload = build_payload(spec, name, frames)
            load_target(spec=spec, target_name=name, payload=payload, destination=dest, ledger=ledger,
                        run_id="r1", wave="sample", max_workers=1)

    def bodies(dest: HighLevelDestination, name: str) -> dict[str, tuple[dict, dict]]:
        """dest ID -> (body as load_target built it, payload row), for the target's loaded records."""
        payload = build_payload(spec, name, frames)
        resolved, _ = resolve_lookups(spec, name, payload, ledger, dest.fallback_owner_id())
        xw = ledger.crosswalk_frame(spec.migration, name).set_index("source_id")["dest_id"]
        out = {}
        for i, row in enumerate(payload.to_dict("records")):
            sid = str(row["source_id"])
            if sid not in xw.index or dest.flag(name, spec.targets[name], row):
                continue
            fks = {fk: (None if pd.isna(v) else v) for fk, v in resolved.iloc[i].items()}
            out[str(xw[sid])] = (dest.build_body(name, spec.targets[name], row, fks), row)
        return out

    class Env:
        pass

    e = Env()
    e.spec, e.ledger, e.frames, e.start, e.load, e.bodies = spec, ledger, frames, start, load, bodies
    yield e
    for cm, client in reversed(started):
        client.close()
        cm.__exit__(None, None, None)


def test_read_fields_equals_build_body_and_shows_changes(env):
    dest = env.start()
    env.load(dest)
    compared = 0
    for name in WRITTEN:
        t = env.spec.targets[name]
        sent = env.bodies(dest, name)
        assert sent, name
        ids = list(sent)
        live = dest.read_fields(name, t, [*ids, "no-such-id" if "/" not in ids[0] else ids[0].split("/")[0] + "/nope"])
        assert set(live) == set(sent), name
        for dest_id, (body, _row) in sent.items():
            assert live[dest_id] == dest.normalise_body(name, t, body), (name, dest_id)
            assert not dest.WRITE_ONLY_FIELDS[t.entity] & set(live[dest_id]), name
            compared += 1
    assert compared >= 14

    patients = env.spec.targets["patients"]
    sent = env.bodies(dest, "patients")
    by_sid = {row["source_id"]: (d, body) for d, (body, row) in sent.items()}
    # Bob's e-mail and phone went into the Shared fields (another family member holds them); the
    # read-back shows what was sent, without the shared-contact tag.
    bob_id, bob_body = by_sid["2"]
    raw = dest.client.get_contact(bob_id)
    assert raw.get("email") is None and SHARED_TAG in raw["tags"]
    bob = dest.read_fields("patients", patients, [bob_id])[bob_id]
    assert bob["email"] == FAMILY_EMAIL and bob["tags"] == ["Dental Patient"]
    assert set(bob["customFields"]) == {x["id"] for x in bob_body["customFields"]}
    # Appointment flags are sent but never returned; times compare as UTC instants.
    visit_id, (visit_body, _) = next(iter(env.bodies(dest, "visits").items()))
    assert visit_body["toNotify"] is False and visit_body["startTime"].endswith("-06:00")
    visit = dest.read_fields("visits", env.spec.targets["visits"], [visit_id])[visit_id]
    assert "toNotify" not in visit and visit["startTime"] == "2024-01-15T15:30:00Z"

    # A value changed in the CRM shows as a difference of exactly that key.
    ann_id, ann_body = by_sid["1"]
    dest.client.update_contact(ann_id, {"firstName": "Changed"})
    changed = dest.read_fields("patients", patients, [ann_id])[ann_id]
    expected = dest.normalise_body("patients", patients, ann_body)
    assert {k for k in expected if changed.get(k) != expected[k]} == {"firstName"}


def test_restore_pre_existing_contact_and_gone(env):
    dest = env.start()
    env.load(dest, ["users"])
    patients = env.spec.targets["patients"]
    refs = dest.fields["contact"]
    pre = dest.client.create_contact({"firstName": "Pat", "lastName": "Existing", "email": "pat@old.test",
                                      "tags": ["VIP"], "source": "Front desk",
                                      "customFields": [{"id": refs["Patient_ID"].id, "field_value": "OLD-1"}]})
    cid = str(pre["id"])
    prior = dest.read_fields("patients", patients, [cid])[cid]
    assert prior == {"firstName": "Pat", "lastName": "Existing", "email": "pat@old.test", "tags": ["VIP"],
                     "source": "Front desk", "customFields": {refs["Patient_ID"].id: "OLD-1"}}

    payload = build_payload(env.spec, "patients", env.frames)
    row = payload.iloc[0].to_dict()  # Ann: tags, phone, birthday, balance, options, source key
    body = dest.build_body("patients", patients, row, {"assignedTo": dest.fallback_owner_id()})
    assert dest.update("patients", patients, cid, body, row).error is None
    migrated = dest.read_fields("patients", patients, [cid])[cid]
    assert migrated["tags"] == ["Dental Patient", "Guarantor"] and migrated["dateOfBirth"] == "1980-02-03"
    assert migrated["customFields"][refs["Flit Source Key"].id] == "patients:1"

    assert dest.restore("patients", patients, cid, prior) == SendResult(cid)
    assert dest.read_fields("patients", patients, [cid])[cid] == prior
    raw = dest.client.get_contact(cid)
    assert raw.get("phone") is None and raw.get("assignedTo") is None and raw["customFields"] == [
        {"id": refs["Patient_ID"].id, "value": "OLD-1"}]

    assert dest.client.delete_contact(cid)
    assert dest.restore("patients", patients, cid, prior) == SendResult(None, error="gone")
    assert dest.read_fields("patients", patients, [cid]) == {}


MUTATE = {
    "patient_notes": lambda b: {**b, "body": "changed in a later wave"},
    "recalls": lambda b: {**b, "title": "changed", "completed": not b["completed"]},
    "visits": lambda b: {**b, "title": "changed", "appointmentStatus": "cancelled"},
    "lifecycle": lambda b: {**b, "name": "changed", "monetaryValue": 1.0},
    "plans": lambda b: {**b, "properties": {**b["properties"], "plan_name": "changed"}},
    "links": lambda b: {**b, "body": "changed link"},
}


def test_restore_other_entities(env):
    dest = env.start()
    env.load(dest)
    for name, mutate in MUTATE.items():
        t = env.spec.targets[name]
        dest_id, (body, row) = next(iter(env.bodies(dest, name).items()))
        prior = dest.read_fields(name, t, [dest_id])[dest_id]
        assert dest.update(name, t, dest_id, mutate(body), row).error is None, name
        assert dest.read_fields(name, t, [dest_id])[dest_id] != prior, name
        res = dest.restore(name, t, dest_id, prior)
        assert res == SendResult(dest_id), (name, res)
        assert dest.read_fields(name, t, [dest_id])[dest_id] == prior, name
    upload = dest.restore("uploads", env.spec.targets["uploads"], "c/f", {})
    assert upload.dest_id is None and upload.error.startswith("manual: ")


def test_find_matches_unique_ambiguous_keyed_case(env):
    dest = env.start(allow_duplicate_contact=True)
    patients = env.spec.targets["patients"].model_copy(update={"options": {"match_existing": "email"}})
    key_id = dest.fields["contact"]["Flit Source Key"].id

    def contact(email: str, key: str | None = None) -> str:
        body = {"firstName": "P", "email": email}
        if key:
            body["customFields"] = [{"id": key_id, "field_value": key}]
        return str(dest.client.create_contact(body)["id"])

    solo = contact("Solo@Example.test")
    twins = [contact("twin@example.test"), contact("TWIN@example.test")]
    contact("keyed@example.test", "patients:9")
    mixed = contact("mixed@example.test")
    contact("mixed@example.test", "patients:8")
    gone = contact("gone@example.test")
    dest.client.delete_contact(gone)

    values = [" solo@EXAMPLE.test", "twin@example.test", "keyed@example.test", "MIXED@example.test",
              "gone@example.test", "nobody@example.test", ""]
    assert dest.find_matches("patients", patients, values) == {"solo@example.test": solo, "mixed@example.test": mixed}
    assert {k: sorted(v) for k, v in dest.ambiguous_matches("patients", patients, values).items()} == {
        "twin@example.test": sorted(twins)}
    assert dest.match_value("patients", patients, {"email": " Solo@Example.test "}) == "solo@example.test"


def test_match_existing_is_validated(env):
    dest = env.start()
    bad = env.spec.targets["patients"].model_copy(update={"options": {"match_existing": "phone"}})
    with pytest.raises(SchemaError, match="target patients: options.match_existing 'phone'"):
        dest.find_matches("patients", bad, ["x"])
    notes = env.spec.targets["patient_notes"].model_copy(update={"options": {"match_existing": "body"}})
    with pytest.raises(SchemaError, match="target patient_notes"):
        dest._validate_target("patient_notes", notes)


def test_delete_every_entity_idempotent_and_children_after_parents(env):
    dest = env.start()
    env.load(dest)
    ids = {n: env.ledger.crosswalk_frame(env.spec.migration, n)["dest_id"].astype(str).tolist() for n in ORDER}
    for name in reversed(ORDER):  # children first, as the rollback job runs
        t = env.spec.targets[name]
        first = dest.delete(name, t, ids[name])
        if name == "users":
            assert not first["deleted"].any() and first["error"].str.startswith("skipped: ").all()
        elif name == "uploads":  # no API removes one uploaded file
            assert not first["deleted"].any() and first["error"].str.startswith("manual: remove the file").all()
        else:
            assert first["deleted"].all() and first["error"].isna().all(), (name, first["error"].tolist())
            assert dest.read_fields(name, t, ids[name]) == {}, name
            again = dest.delete(name, t, ids[name])
            assert again["deleted"].all() and (again["error"] == "gone").all(), name
    # the uploads went with their contacts
    uploads = dest.delete("uploads", env.spec.targets["uploads"], ids["uploads"])
    assert uploads["deleted"].all() and (uploads["error"] == "gone").all()


def test_delete_children_after_their_contact_reads_gone(env):
    dest = env.start()
    env.load(dest)
    notes = env.ledger.crosswalk_frame(env.spec.migration, "patient_notes")["dest_id"].astype(str).tolist()
    contacts = {n.split("/")[0] for n in notes}
    assert dest.delete("patients", env.spec.targets["patients"], sorted(contacts))["deleted"].all()
    res = dest.delete("patient_notes", env.spec.targets["patient_notes"], notes)
    assert res["deleted"].all() and (res["error"] == "gone").all()
