"""PipedriveDestination read_fields / normalise_body / restore / find_matches / delete against the real
HTTP Pipedrive sandbox.

Records are loaded with ``load_target`` from the clinic fixture export (``fixtures/clinic_extras``,
mapping spec ``clinic_to_pipedrive.yaml``); bodies are rebuilt the way ``load_target`` builds them
(``resolve_lookups`` + ``build_body``) and compared with what the sandbox returns.
"""

from __future__ import annotations

import pandas as pd
import pytest

from flit_pipelines.destinations.base import SendResult, load_target, resolve_lookups
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines.destinations.pipedrive.destination import PipedriveDestination
from flit_pipelines.destinations.pipedrive.errors import SchemaError
from flit_pipelines.ledger import Ledger
from flit_pipelines.transform.payload import build_payload
from flit_pipelines_tests.conftest import FIXTURE_EXPORT, TOKEN, sandbox_stats

ORDER = ["organizations", "providers", "persons", "visits", "treatment_plans", "billing", "clinical_notes",
         "relationship_notes", "documents"]
WRITTEN = ["organizations", "persons", "visits", "treatment_plans", "billing", "clinical_notes", "relationship_notes",
           "documents"]


@pytest.fixture
def env(sandbox, spec, fixture_frames, tmp_path):
    client = PipedriveClient(sandbox, TOKEN)
    dest = PipedriveDestination(client, spec, files_root=FIXTURE_EXPORT)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    dest.ensure_schema()
    yield {"client": client, "dest": dest, "ledger": ledger, "spec": spec, "frames": fixture_frames}
    client.close()


def load_all(env) -> None:
    for name in ORDER:
        payload = build_payload(env["spec"], name, env["frames"])
        summary = load_target(spec=env["spec"], target_name=name, payload=payload, destination=env["dest"],
                              ledger=env["ledger"], run_id="r1", wave="sample", max_workers=2)
        assert summary.failed == 0, (name, summary.errors)


def bodies(env, name: str) -> dict[str, dict]:
    """dest ID -> the body load_target sent for each loaded record of the target."""
    spec, dest, ledger = env["spec"], env["dest"], env["ledger"]
    payload = build_payload(spec, name, env["frames"])
    resolved, _ = resolve_lookups(spec, name, payload, ledger, dest.fallback_owner_id())
    xw = ledger.crosswalk_frame(spec.migration, name).set_index("source_id")["dest_id"]
    out = {}
    for i, row in enumerate(payload.to_dict("records")):
        sid = str(row["source_id"])
        if sid not in xw.index or dest.flag(name, spec.targets[name], row):
            continue
        fks = {fk: (None if pd.isna(v) else v) for fk, v in resolved.iloc[i].items()}
        out[str(xw[sid])] = dest.build_body(name, spec.targets[name], row, fks)
    return out


def test_read_fields_equals_build_body_and_shows_changes(env):
    load_all(env)
    dest, spec, client = env["dest"], env["spec"], env["client"]
    compared = 0
    for name in WRITTEN:
        t = spec.targets[name]
        sent = bodies(env, name)
        assert sent, name
        live = dest.read_fields(name, t, [*sent, "999999"])
        assert set(live) == set(sent), name  # the unknown ID is absent
        for dest_id, body in sent.items():
            assert live[dest_id] == dest.normalise_body(name, t, body), (name, dest_id)
            compared += 1
        assert not dest.WRITE_ONLY_FIELDS[t.entity] & set(live[next(iter(live))])
    assert compared >= 20
    assert dest.WRITE_ONLY_FIELDS["file"] == {"file"}

    # Persons: the source key and typed custom values are read back in body form.
    persons = spec.targets["persons"]
    pid, body = next(iter(bodies(env, "persons").items()))
    key = dest.source_key_fields["person"].key
    gender = dest.fields["person"]["Gender"]
    live = dest.read_fields("persons", persons, [pid])[pid]
    assert live["custom_fields"][key].startswith("persons:")
    assert live["custom_fields"][gender.key] in gender.options.values()
    assert live["emails"] == body["emails"]

    # A value changed in the CRM shows as a difference of exactly that key.
    client.update("person", int(pid), {"name": "Changed In CRM"})
    changed = dest.read_fields("persons", persons, [pid])[pid]
    expected = dest.normalise_body("persons", persons, body)
    assert {k for k in expected if changed.get(k) != expected[k]} == {"name"}

    # Activities: the sandbox echoes HH:MM:SS (v2 example); read as the HH:MM we send.
    visits = spec.targets["visits"]
    vid, vbody = next((d, b) for d, b in bodies(env, "visits").items() if b.get("due_time"))
    raw = client.get("activity", int(vid))
    assert len(raw["due_time"]) == 8 and len(vbody["due_time"]) == 5
    assert dest.read_fields("visits", visits, [vid])[vid]["due_time"] == vbody["due_time"]


def test_restore_pre_existing_person_and_gone(env):
    dest, spec, client = env["dest"], env["spec"], env["client"]
    persons = spec.targets["persons"]
    dest.prepare("persons", persons)
    mrn = dest.fields["person"]["MRN"].key
    source_key = dest.source_key_fields["person"].key
    payload = build_payload(spec, "persons", env["frames"])
    row = payload.iloc[0].to_dict()
    body = dest.build_body("persons", persons, row, {"org_id": None, "owner_id": dest.fallback_owner_id()})

    def pre_existing(**extra) -> tuple[str, dict]:
        pre = client.create("person", {"name": "Pat Existing", "emails": [{"value": "pat@old.test", "label": "work"}],
                                       "custom_fields": {mrn: "OLD-1"}, **extra})
        pid = str(pre["id"])
        return pid, dest.read_fields("persons", persons, [pid])[pid]

    pid, prior = pre_existing(birthday="1970-01-01")
    assert prior["name"] == "Pat Existing" and "postal_address" not in prior and "phones" not in prior
    assert prior["custom_fields"][mrn] == "OLD-1" and prior["custom_fields"][source_key] is None

    # The migration adopts the record: source key set, fields filled and changed.
    assert dest.update("persons", persons, pid, body, row).error is None
    migrated = dest.read_fields("persons", persons, [pid])[pid]
    assert migrated["custom_fields"][source_key] and migrated["birthday"] != "1970-01-01"
    assert "postal_address" in migrated and migrated["name"] != "Pat Existing"

    res = dest.restore("persons", persons, pid, prior)
    assert res == SendResult(pid)
    assert dest.read_fields("persons", persons, [pid])[pid] == prior

    # A birthday the migration filled cannot be emptied through v2 (not nullable): named for an admin,
    # everything else restored.
    pid2, prior2 = pre_existing()
    assert "birthday" not in prior2
    assert dest.update("persons", persons, pid2, body, row).error is None
    res2 = dest.restore("persons", persons, pid2, prior2)
    assert res2.dest_id == pid2 and res2.error.startswith("manual: person fields birthday were empty")
    after = dest.read_fields("persons", persons, [pid2])[pid2]
    assert {k: v for k, v in after.items() if k != "birthday"} == prior2

    client.delete("person", int(pid))
    gone = dest.restore("persons", persons, pid, prior)
    assert gone == SendResult(None, error="gone")
    assert dest.read_fields("persons", persons, [pid]) == {}


def test_restore_every_written_entity(env):
    """Capture each loaded record, overwrite it with another record's body, restore, read again."""
    load_all(env)
    dest, spec = env["dest"], env["spec"]
    for name in ["organizations", "persons", "visits", "treatment_plans", "billing", "clinical_notes"]:
        t = spec.targets[name]
        sent = bodies(env, name)
        ids = list(sent)
        assert len(ids) >= 2, name
        target_id, other = ids[0], sent[ids[1]]
        prior = dest.read_fields(name, t, [target_id])[target_id]
        assert dest.update(name, t, target_id, other, {"source_id": "x"}).error is None, name
        assert dest.read_fields(name, t, [target_id])[target_id] != prior, name
        res = dest.restore(name, t, target_id, prior)
        assert res.error is None, (name, res.error)
        assert dest.read_fields(name, t, [target_id])[target_id] == prior, name
    doc = dest.restore("documents", spec.targets["documents"], "1", {})
    assert doc.dest_id is None and doc.error.startswith("manual: ")


def test_find_matches_unique_ambiguous_keyed_case(env):
    dest, spec, client = env["dest"], env["spec"], env["client"]
    persons = spec.targets["persons"].model_copy(update={"options": {"match_existing": "email"}})
    dest.prepare("persons", persons)
    key = dest.source_key_fields["person"].key

    def person(email: str, source_key: str | None = None) -> str:
        body = {"name": "P", "emails": [{"value": email}]}
        if source_key:
            body["custom_fields"] = {key: source_key}
        return str(client.create("person", body)["id"])

    solo = person("Solo@Example.test")
    twins = [person("twin@example.test"), person("TWIN@example.test")]
    person("keyed@example.test", "persons:p1")
    mixed = person("mixed@example.test")
    person("mixed@example.test", "persons:p2")
    deleted = person("deleted@example.test")
    client.delete("person", int(deleted))

    values = ["  solo@EXAMPLE.test ", "twin@example.test", "keyed@example.test", "Mixed@example.test",
              "deleted@example.test", "nobody@example.test", ""]
    assert dest.find_matches("persons", persons, values) == {"solo@example.test": solo, "mixed@example.test": mixed}
    assert dest.ambiguous_matches("persons", persons, values) == {"twin@example.test": sorted(twins, key=int)}
    assert dest.match_value("persons", persons, {"emails": [{"value": " Solo@Example.test", "primary": True}]}) \
        == "solo@example.test"

    orgs = spec.targets["organizations"].model_copy(update={"options": {"match_existing": "name"}})
    org = str(client.create("organization", {"name": "Main Street Clinic"})["id"])
    assert dest.find_matches("organizations", orgs, ["main street clinic"]) == {"main street clinic": org}


def _person_reads(url: str) -> dict[str, int]:
    return {op: n for op, n in sandbox_stats(url)["requests_by_operation"].items()
            if op.startswith("GET /api/v2/persons")}


def test_match_existing_costs_one_listing_per_load_never_a_search_per_record(env, sandbox):
    """Issue 12 item 1: the account's persons are listed once for the load; no person search per
    record, whatever the number of chunks; matching still finds the pre-existing person."""
    dest, spec, client = env["dest"], env["spec"], env["client"]
    assert spec.targets["persons"].options["match_existing"] == "email"
    payload = build_payload(spec, "persons", env["frames"])
    email = next(e for e in env["frames"]["patients"]["EMAIL"].dropna().astype(str) if "@" in e)
    pre = str(client.create("person", {"name": "Already here", "emails": [{"value": email.upper()}]})["id"])
    before = _person_reads(sandbox)
    for name in ("organizations", "providers"):
        load_target(spec=spec, target_name=name, payload=build_payload(spec, name, env["frames"]), destination=dest,
                    ledger=env["ledger"], run_id="r1", wave="sample", max_workers=2)
    summary = load_target(spec=spec, target_name="persons", payload=payload, destination=dest, ledger=env["ledger"],
                          run_id="r1", wave="sample", max_workers=2, chunk_rows=2)
    reads = {op: n - before.get(op, 0) for op, n in _person_reads(sandbox).items() if n != before.get(op, 0)}
    assert "GET /api/v2/persons/search" not in reads, reads
    # one listing for find_existing, one for the match index (each one page here), ids= checks of hits
    assert reads.get("GET /api/v2/persons", 0) <= 2 + len(payload) // 2, reads
    assert summary.failed == 0 and len(payload) >= 3 and summary.matched_existing == 1
    assert pre in set(env["ledger"].crosswalk_frame(spec.migration, "persons")["dest_id"].astype(str))


def test_match_existing_is_validated(env):
    dest, spec = env["dest"], env["spec"]
    bad = spec.targets["persons"].model_copy(update={"options": {"match_existing": "Email"}})
    with pytest.raises(SchemaError, match="target persons: options.match_existing 'Email'"):
        dest.prepare("persons", bad)
    visits = spec.targets["visits"].model_copy(update={"options": {"match_existing": "subject"}})
    with pytest.raises(SchemaError, match="target visits"):
        dest.find_matches("visits", visits, ["x"])


def test_delete_every_entity_idempotent(env):
    load_all(env)
    dest, spec, ledger = env["dest"], env["spec"], env["ledger"]
    for name in reversed(ORDER):  # children first (reverse FK order), as the rollback job runs
        t = spec.targets[name]
        ids = ledger.crosswalk_frame(spec.migration, name)["dest_id"].astype(str).tolist()
        first = dest.delete(name, t, ids)
        if t.entity == "user":
            assert not first["deleted"].any() and first["error"].str.startswith("skipped: ").all()
            continue
        assert first["deleted"].all() and first["error"].isna().all(), (name, first["error"].tolist())
        again = dest.delete(name, t, ids)
        assert again["deleted"].all() and (again["error"] == "gone").all(), name
        assert dest.read_fields(name, t, ids) == {}
