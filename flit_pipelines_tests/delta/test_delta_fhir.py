"""Delta pickup for fhir_clinic_to_pipedrive: a Bulk export with ``_since`` brings only what changed.

An edited Patient (``meta.lastUpdated`` bumped by the sandbox) is updated in Pipedrive; a Patient made
``active = false`` counts as deleted (the person is kept and marked, ``on_source_delete: update``) and
a deleted Encounter (in the export's ``deleted`` file) removes its activity.
"""

from __future__ import annotations

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import report, run_wave
from flit_pipelines.delta.runner import tick
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines_tests.integration.fhir_env import M, PD_TOKEN, fhir_migration
from flit_pipelines_tests.sources.fhir_helpers import EXTRAS, admin


def _writes(audit, run_id):
    rows = audit[(audit["run_id"] == run_id) & audit["operation"].isin(["create", "update", "delete"])]
    return sorted(zip(rows["target"], rows["operation"], rows["source_id"], strict=True))


def test_an_edited_patient_a_retired_patient_and_a_deleted_encounter_reach_pipedrive(tmp_path, monkeypatch):
    with fhir_migration(tmp_path, monkeypatch, EXTRAS) as env:
        assert run_wave(M, "full", quiet=True) is True
        assert tick(M).skip_reason.startswith("no source changes")
        ledger = FlitResource().ledger()
        people = dict(zip(*ledger.crosswalk_frame(M, "persons")[["source_id", "dest_id"]].T.values, strict=True))
        visit = ledger.crosswalk_frame(M, "visits").set_index("source_id").loc["fx-enc-1", "dest_id"]
        client = PipedriveClient(env["pipedrive"], PD_TOKEN)

        admin(env["fhir"], "PATCH", "resources/Patient/fx-patient-1",
              {"telecom": [{"system": "email", "value": "alice.new@mail.example"}]})
        edited = tick(M)
        assert edited.success is True and "patients" in edited.changed_objects
        assert _writes(ledger.audit_frame(M), edited.run_id) == [("persons", "update", "fx-patient-1")]
        alice = client.get("person", int(people["fx-patient-1"]))
        assert [e["value"] for e in alice["emails"]] == ["alice.new@mail.example"]
        assert report(M, edited.partition)["all_checks_passed"] is True

        admin(env["fhir"], "PATCH", "resources/Patient/fx-patient-2", {"active": False})
        admin(env["fhir"], "DELETE", "resources/Encounter/fx-enc-1")
        retired = tick(M)
        assert retired.success is True and {"patients", "encounters"} <= set(retired.changed_objects)
        # the claim's deal title named the deleted encounter's description: re-derived, so updated too
        assert _writes(ledger.audit_frame(M), retired.run_id) == [("billing", "update", "fx-claim-1"),
                                                                  ("persons", "update", "fx-patient-2"),
                                                                  ("visits", "delete", "fx-enc-1")]
        fields = {f["field_name"]: f for f in client.list_fields("person") if f.get("is_custom_field")}
        status = fields["Record status"]
        bob = client.get("person", int(people["fx-patient-2"]))
        label = {o["id"]: o["label"] for o in status["options"]}[bob["custom_fields"][status["field_code"]]]
        assert label == "Inactive in source"
        assert client.get("activity", int(visit)) in (None, {}) or client.get("activity", int(visit)).get(
            "is_deleted") is True
        rep = report(M, retired.partition)
        assert rep["all_checks_passed"] is True
        assert tick(M).skip_reason.startswith("no source changes")
