"""Each of the twelve seed objects, mapped from the hand-checkable fixture export (real values)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from flit_pipelines.transform.payload import build_payload


def _row(df: pd.DataFrame, source_id: str) -> pd.Series:
    hit = df[df["source_id"] == source_id]
    assert len(hit) == 1, f"{source_id} not found once"
    return hit.iloc[0]


ALICE = "a0000000-0000-4000-8000-000000000001"
BOB = "a0000000-0000-4000-8000-000000000002"
CARA = "a0000000-0000-4000-8000-000000000003"
DAN = "a0000000-0000-4000-8000-000000000004"


@pytest.fixture(scope="module")
def payloads(spec, fixture_frames):
    return {t: build_payload(spec, t, fixture_frames) for t in spec.targets}


def test_patient_record_to_person(payloads):
    alice = _row(payloads["persons"], ALICE)
    assert alice["name"] == "Alice101 Example201"
    assert alice["birthday"] == "1985-03-14"
    assert json.loads(alice["emails"]) == [{"value": "alice.example@mail.example", "primary": True, "label": "home"}]
    assert alice["postal_address.value"] == "1 Example Street, Testville, Massachusetts 02081"
    assert alice["postal_address.postal_code"] == "02081"
    assert alice["cf:Clinic Patient ID"] == ALICE
    assert alice["fk:org_id"] == "b0000000-0000-4000-8000-000000000001"  # primary clinic = most visited


def test_clinic_location_to_organization(payloads):
    orgs = payloads["organizations"]
    assert len(orgs) == 2 and orgs["source_id"].is_unique
    assert orgs["name"].notna().all()
    assert orgs["cf:Clinic Location ID"].tolist() == orgs["source_id"].tolist()


def test_visit_to_activity_keeps_times_status_and_no_show(payloads):
    visits = payloads["visits"].set_index("source_id")
    first = visits.loc["e0000000-0000-4000-8000-000000000001"]
    assert (first["due_date"], first["due_time"], first["duration"]) == ("2024-01-15", "09:00", "00:30")
    assert bool(first["done"]) is True and first["fk:participants"] == ALICE
    no_show = visits.loc["e0000000-0000-4000-8000-000000000007"]
    assert bool(no_show["done"]) is False
    assert "Status: no-show | No-show: Yes" in no_show["note"]
    assert "End: 2024-04-15 15:30 UTC" in no_show["note"] and "Provider: Dan104 Sample301" in no_show["note"]
    cancelled = visits[visits["note"].str.contains("Status: cancelled")]
    assert len(cancelled) == 1 and "Cancellation reason: Patient request" in cancelled["note"].iloc[0]


def test_care_plan_to_deal_in_treatment_pipeline(spec, payloads):
    assert spec.targets["treatment_plans"].pipeline.name == "Treatment"
    plans = payloads["treatment_plans"].set_index("source_id")
    done = plans.loc["ca000000-0000-4000-8000-000000000001"]
    assert (done["status"], done["stage"], done["won_time"]) == ("won", "Completed", "2023-08-15T00:00:00Z")
    active = plans.loc["ca000000-0000-4000-8000-000000000002"]
    assert (active["status"], active["stage"]) == ("open", "Active") and pd.isna(active["won_time"])
    assert active["cf:Plan reason"] == "Viral sinusitis (disorder)" and pd.isna(active["cf:Plan end"])


def test_clinical_note_keeps_date_author_and_escapes_html(payloads):
    notes = payloads["clinical_notes"].set_index("source_id")
    n1 = notes.loc["ae000000-0000-4000-8000-000000000001"]
    assert n1["add_time"] == "2024-01-15 09:30:00"
    assert n1["fk:user_id"] == "c0000000-0000-4000-8000-000000000001"
    assert "&quot;feeling better&quot;" in n1["content"] and "by Erin105 Doctor401" in n1["content"]
    assert "<br>1) lifestyle changes" in notes.loc["ae000000-0000-4000-8000-000000000002"]["content"]


def test_insurance_to_person_custom_fields(payloads):
    alice = _row(payloads["persons"], ALICE)
    assert alice["cf:Insurance carrier"] == "Example Health Mutual"
    assert alice["cf:Secondary insurance carrier"] == "Sample Shield Insurance"
    assert alice["cf:Insurance coverage level"] == "Primary and secondary"
    assert alice["cf:Insurance coverage type"] == "Private"
    assert alice["cf:Insurance policy number"] == "dd000000-0000-4000-8000-000000000001"
    assert alice["cf:Insurance effective date"] == "2022-01-01"
    assert _row(payloads["persons"], BOB)["cf:Insurance policy holder"] == "Spouse"
    # Dan changed payer: the latest coverage period wins
    assert _row(payloads["persons"], DAN)["cf:Insurance effective date"] == "2023-12-31"


def test_medications_to_person_custom_fields(payloads):
    dan = _row(payloads["persons"], DAN)
    assert dan["cf:Active medications"] == "lisinopril 10 MG Oral Tablet"
    assert dan["cf:Medication history"] == ("2024-03-20 lisinopril 10 MG Oral Tablet; "
                                            "2023-06-01 Naproxen sodium 220 MG Oral Tablet")
    assert pd.isna(_row(payloads["persons"], ALICE)["cf:Active medications"])


def test_billing_to_deal_custom_fields_and_value(spec, payloads, fixture_frames):
    bills = payloads["billing"].set_index("source_id")
    open_claim = bills.loc["f0000000-0000-4000-8000-000000000003"]
    assert open_claim["value"] == pytest.approx(136.80)
    assert open_claim["cf:Paid to date"] == pytest.approx(109.44)
    assert open_claim["cf:Outstanding balance"] == pytest.approx(27.36)
    assert (open_claim["status"], open_claim["stage"]) == ("open", "Outstanding")
    assert pd.isna(open_claim["won_time"])
    assert open_claim["cf:Last payment method"] == "ECHECK" and open_claim["cf:Last payment date"] == "2024-03-12"
    # money reconciles with the ledger of transactions: value - paid = outstanding on every claim
    assert ((bills["value"] - bills["cf:Paid to date"] - bills["cf:Outstanding balance"]).abs() < 0.005).all()
    tx = fixture_frames["claims_transactions"]
    assert bills["value"].sum() == pytest.approx(tx.loc[tx["TYPE"] == "CHARGE", "AMOUNT"].sum())


def test_providers_matched_by_email_and_is_provider_flag(payloads):
    prov = payloads["providers"].set_index("source_id")
    assert prov.loc["c0000000-0000-4000-8000-000000000001", "match_value"] == "erin.doctor@synthclinic.example"
    assert pd.isna(prov.loc["c0000000-0000-4000-8000-000000000003", "match_value"])  # not in the directory
    flags = payloads["persons"].set_index("source_id")["cf:Is provider"]
    assert flags.to_dict() == {ALICE: "No", BOB: "No", CARA: "No", DAN: "Yes"}


def test_labs_and_imaging_to_typed_person_fields(spec, payloads):
    dan = _row(payloads["persons"], DAN)
    assert dan["cf:Latest HbA1c (%)"] == pytest.approx(5.9)
    assert dan["cf:Lab result count"] == 2
    assert dan["cf:Last lab date"] == "2024-03-20"
    assert dan["cf:Imaging orders"] == "2023-06-01 Digital Radiography - Wrist (60027007)"
    types = {n: cf.type for n, cf in spec.targets["persons"].custom_fields.items()}
    assert types["Latest HbA1c (%)"] == "double" and types["Last lab date"] == "date"


def test_documents_to_files_and_oversize_link(spec, fixture_frames):
    docs = build_payload(spec, "documents", fixture_frames)
    assert docs["file_name"].tolist() == ["de000000-0000-4000-8000-000000000001.pdf",
                                          "de000000-0000-4000-8000-000000000002.txt"]
    one_mib = {"file_size_limit_bytes": 1 << 20}
    persons = build_payload(spec, "persons", fixture_frames, settings=one_mib).set_index("source_id")
    assert persons.loc[ALICE, "cf:Documents over size limit"] == (
        "Lab report -> documents/de000000-0000-4000-8000-000000000001.pdf (1200000 bytes)")
    assert pd.isna(persons.loc[CARA, "cf:Documents over size limit"])


def test_relationships_to_person_fields_and_notes(payloads):
    cara = _row(payloads["persons"], CARA)
    assert cara["cf:Guarantor"] == f"Alice101 Example201 ({ALICE})"
    assert cara["cf:Family relationships"] == f"parent: {ALICE}"
    assert pd.isna(_row(payloads["persons"], BOB)["cf:Guarantor"])
    notes = payloads["relationship_notes"]
    assert len(notes) == 4
    note = _row(notes, "ee000000-0000-4000-8000-000000000001")
    assert note["fk:person_id"] == CARA
    assert "Alice101 Example201" in note["content"] and "is this patient's parent. Guarantor: Yes." in note["content"]
