"""Every seed object of both Dentrix specs, mapped from a demo practice and checked against SQL.

The payloads are built from extracts read the way the assets read them: ``dentrix_to_highlevel``
through the database reader on the SQLite practice, ``henry_schein_one_to_highlevel`` through the
Ascend API reader against the Ascend sandbox serving the same practice. Expected values are computed
independently with SQL on the practice file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from flit_sandboxes.ascend import running_sandbox as running_ascend
from flit_sandboxes.dentrix_practice import build_practice
from flit_pipelines.sources.ascend_api import AscendApiSource
from flit_pipelines.sources.database import DatabaseSource
from flit_pipelines.sources.extract import empty_frame, run_extract
from flit_pipelines.spec import load_spec
from flit_pipelines.spec.load import SPEC_DIR
from flit_pipelines.transform.payload import build_payload


def _frames(spec, source) -> dict[str, pd.DataFrame]:
    frames = {}
    for name, obj in spec.objects.items():
        parts: list[pd.DataFrame] = []
        quarantined: list[pd.DataFrame] = []
        run_extract(source, obj, name, write=parts.append, quarantine=quarantined.append)
        assert not quarantined, f"{name}: rows quarantined"
        frames[name] = pd.concat(parts, ignore_index=True) if parts else empty_frame(obj)
    return frames


@pytest.fixture(scope="module")
def practice(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("practice") / "practice.db"
    build_practice(path, patients=80, seed=3)
    return path


@pytest.fixture(scope="module")
def sql(practice):
    con = sqlite3.connect(practice)
    yield lambda q, *a: con.execute(q, a).fetchall()
    con.close()


@pytest.fixture(scope="module")
def dx(practice) -> dict[str, pd.DataFrame]:
    spec = load_spec(SPEC_DIR / "dentrix_to_highlevel.yaml")
    frames = _frames(spec, DatabaseSource.from_url(f"sqlite:///{practice}"))
    return {t: build_payload(spec, t, frames).set_index("source_id") for t in spec.targets}


@pytest.fixture(scope="module")
def hso(practice) -> dict[str, pd.DataFrame]:
    spec = load_spec(SPEC_DIR / "henry_schein_one_to_highlevel.yaml")
    with running_ascend(practice, client_id="c", client_secret="s", organization_id="o") as url:
        with AscendApiSource(f"{url}/ascend-gateway/api", f"{url}/oauth/client_credential/accesstoken",
                             "c", "s", "o") as src:
            frames = _frames(spec, src)
    return {t: build_payload(spec, t, frames).set_index("source_id") for t in spec.targets}


def _guarantor_with_balance(sql) -> tuple[str, float, list[str]]:
    g, total = sql("SELECT guar_id, balance_0_30_days + balance_31_60_days + balance_61_90_days + "
                   "balance_91_plus_days FROM v_guarantor_balance ORDER BY guar_id LIMIT 1")[0]
    family = [str(r[0]) for r in sql("SELECT patient_id FROM v_patient WHERE guar_id = ? AND patient_id <> ?", g, g)]
    return str(g), round(total, 2), family


# ---------------------------------------------------------------- dentrix_to_highlevel (12 seed objects)

def test_dx_patient_is_a_flagged_contact(dx, sql):
    pid, first, email, dob = sql("SELECT patient_id, first_name, email, birth_date FROM v_patient "
                                 "WHERE status = 1 ORDER BY patient_id LIMIT 1")[0]
    row = dx["patients"].loc[str(pid)]
    assert (row["firstName"], row["email"], row["dateOfBirth"]) == (first, email, dob)
    assert row["cf:Dental_Patient"] == "Yes" and row["tags"].startswith("Dental Patient")
    assert row["phone"].startswith("+1") and len(row["phone"]) == 12


def test_dx_provider_is_user_and_staff_contact(dx, sql):
    pid, spec_name, email = sql("SELECT p.provider_id, s.description, p.email FROM v_provider p "
                                "JOIN v_referral_specialty s ON s.defid = p.specialty_id ORDER BY 1 LIMIT 1")[0]
    assert dx["provider_users"].loc[str(pid), "match_value"] == email
    staff = dx["provider_contacts"].loc[str(pid)]
    assert staff["cf:Provider_Role"] == spec_name and staff["tags"].startswith("Staff,Provider")
    assert len(dx["staff_contacts"]) == sql("SELECT COUNT(*) FROM v_staff")[0][0]


def test_dx_appointments_become_events_and_missed_ones_tasks(dx, sql):
    aid, pid, day, hour, minute, length = sql(
        "SELECT appointment_id, patient_id, appointment_date, start_hour, start_minute, length FROM v_appt "
        "WHERE status_id = -106 ORDER BY appointment_id LIMIT 1")[0]
    ev = dx["appointments"].loc[str(aid)]
    start = pd.Timestamp(f"{day} {hour:02d}:{minute:02d}").tz_localize("America/Chicago")
    assert ev["startTime"] == start.isoformat()
    assert ev["endTime"] == (start + pd.Timedelta(minutes=length)).isoformat()
    assert ev["appointmentStatus"] == "showed" and ev["fk:contactId"] == str(pid)
    assert "Dentrix status -106" in ev["description"]
    missed = sql("SELECT appointment_id, status_id FROM v_appt WHERE status_id IN (-103, -104)")
    tasks = dx["missed_appointments"]
    assert set(tasks.index) == {str(a) for a, _ in missed}
    assert not set(tasks.index) & set(dx["appointments"].index)
    broken = next(str(a) for a, s in missed if s == -103)
    assert tasks.loc[broken, "title"].startswith("No-show") and "code -103" in tasks.loc[broken, "body"]
    no_show_patient = sql("SELECT patient_id FROM v_appt WHERE status_id = -103 LIMIT 1")[0][0]
    assert "No-Show" in dx["patients"].loc[str(no_show_patient), "tags"]


def test_dx_insurance_carrier_group_member_and_secondary(dx, sql):
    pid, carrier, member, group = sql(
        "SELECT pi.patient_id, pi.primary_insurance_carrier_name, i.id_num, p.group_name || ' (' || p.group_number || ')' "
        "FROM v_patient_insurance pi JOIN v_insured i ON i.insured_id = pi.primary_insured_id "
        "JOIN v_insurance_plans p ON p.ins_id = i.ins_plan_id ORDER BY 1 LIMIT 1")[0]
    row = dx["patients"].loc[str(pid)]
    assert (row["cf:Insurance_Carrier"], row["cf:Insurance_Member_ID"], row["cf:Insurance_Group"]) == (carrier, member, group)
    spid, scarrier = sql("SELECT patient_id, secondary_insurance_carrier_name FROM v_patient_insurance "
                         "WHERE secondary_insurance_carrier_id IS NOT NULL ORDER BY 1 LIMIT 1")[0]
    assert dx["patients"].loc[str(spid), "cf:Secondary_Insurance_Carrier"] == scarrier


def test_dx_cdt_codes_long_text(dx, sql):
    pid = sql("SELECT patid FROM fullproclog WHERE chartstatus = 105 AND proclogclass = 0 LIMIT 1")[0][0]
    codes = {r[0] for r in sql("SELECT DISTINCT c.adacode FROM fullproclog f JOIN proccode c "
                               "ON c.proccodeid = f.proccodeid WHERE f.patid = ? AND f.chartstatus = 105 "
                               "AND f.proclogclass = 0", pid)}
    row = dx["patients"].loc[str(pid)]
    assert set(row["cf:CDT_Codes"].split(", ")) == codes
    assert all(c in row["cf:Procedure_History"] for c in codes)


def test_dx_clinical_notes_as_notes_and_long_text(dx, sql):
    nid, pid, text = sql("SELECT note_id, patient_id, note_text FROM v_clinical_notes ORDER BY note_date DESC LIMIT 1")[0]
    note = dx["visit_notes"].loc[str(nid)]
    assert text in note["body"] and note["fk:contactId"] == str(pid)
    assert text in dx["patients"].loc[str(pid), "cf:Clinical_Notes"]
    assert len(dx["visit_notes"]) == sql("SELECT COUNT(*) FROM v_clinical_notes")[0][0]


def test_dx_treatment_plan_long_text_and_status(dx, sql):
    pid, plan = sql("SELECT patient_id, MAX(plan_id) FROM v_treatment_plan GROUP BY patient_id LIMIT 1")[0]
    items = sql("SELECT adacode, status, fee FROM v_treatment_plan WHERE plan_id = ?", plan)
    row = dx["patients"].loc[str(pid)]
    assert all(code in row["cf:Treatment_Plan"] for code, _, _ in items)
    assert row["cf:Treatment_Plan_Fee"] == pytest.approx(sum(f for _, _, f in items))
    done = all(s == "completed" for _, s, _ in items)
    assert row["cf:Treatment_Plan_Status"] == ("Completed" if done else "Open")


def test_dx_recall_date(dx, sql):
    pid, due = sql("SELECT patient_id, MAX(due_date) FROM v_patient_recall GROUP BY patient_id LIMIT 1")[0]
    assert dx["patients"].loc[str(pid), "cf:Recall_Date"] == due


def test_dx_documents_flagged_or_linked(dx, sql):
    docs = dx["documents"]
    assert len(docs) == sql("SELECT COUNT(*) FROM v_document")[0][0]
    assert docs["url"].isna().all()  # Dentrix G: nothing hosted -> every row is flagged at load
    pid, name = sql("SELECT patient_id, file_name FROM v_document ORDER BY document_id LIMIT 1")[0]
    assert name in dx["patients"].loc[str(pid), "cf:Documents_To_Reupload"]


def test_dx_ledger_outstanding_balance_on_the_guarantor(dx, sql):
    g, total, family = _guarantor_with_balance(sql)
    assert dx["patients"].loc[g, "cf:Outstanding_Balance"] == pytest.approx(total)
    for member in family:
        assert pd.isna(dx["patients"].loc[member, "cf:Outstanding_Balance"])
        assert dx["patients"].loc[member, "cf:Guarantor"].endswith(f"({g})")


def test_dx_referring_provider_three_fields(dx, sql):
    pid, first, last, practice, phone = sql(
        "SELECT pr.patient_id, r.first_name, r.last_name, r.practice_name, r.phone FROM v_patient_referral pr "
        "JOIN v_referral r ON r.referral_id = pr.referral_id WHERE pr.direction = 'in' "
        "AND pr.patient_id IN (SELECT patient_id FROM v_patient_referral WHERE direction = 'in' "
        "GROUP BY patient_id HAVING COUNT(*) = 1) ORDER BY 1 LIMIT 1")[0]
    row = dx["patients"].loc[str(pid)]
    assert (row["cf:Referred_By_Name"], row["cf:Referred_By_Practice"], row["cf:Referred_By_Phone"]) == (
        f"{first} {last}", practice, phone)


def test_dx_medical_alerts_and_history(dx, sql):
    pid, item = sql("SELECT l.patid, h.description FROM hhlinkpat_item l JOIN hhitem h ON h.itemid = l.hhitemid "
                    "WHERE l.critical = 1 AND l.enddate IS NULL ORDER BY 1 LIMIT 1")[0]
    row = dx["patients"].loc[str(pid)]
    assert item in row["cf:Medical_Alerts"].split(", ") and item in row["cf:Medical_History"]


# ------------------------------------------------------- henry_schein_one_to_highlevel (10 seed objects)

def test_hso_patient_contact(hso, sql):
    pid, first, email = sql("SELECT patient_id, first_name, email FROM v_patient WHERE email IS NOT NULL LIMIT 1")[0]
    row = hso["patients"].loc[str(pid)]
    assert (row["firstName"], row["email"], str(row["cf:Ascend_Patient_ID"])) == (first, email, str(pid))


def test_hso_insurance_fields_and_multi_plan_records(hso, sql):
    multi = {str(r[0]) for r in sql("SELECT patient_id FROM v_patient_insurance "
                                    "WHERE secondary_insurance_carrier_id IS NOT NULL")}
    assert set(hso["insurance_primary"].index) == multi == set(hso["insurance_secondary"].index)
    pid = sorted(multi)[0]
    carrier = sql("SELECT secondary_insurance_carrier_name FROM v_patient_insurance WHERE patient_id = ?", int(pid))[0][0]
    assert hso["insurance_secondary"].loc[pid, "cf:Carrier"] == carrier
    assert hso["insurance_secondary"].loc[pid, "fk:contact"] == pid
    assert hso["patients"].loc[pid, "cf:Insurance_Coverage_Level"] == "Primary and secondary"


def test_hso_treatment_plan_custom_object(hso, sql):
    plan, pid = sql("SELECT plan_id, patient_id FROM v_treatment_plan ORDER BY plan_id LIMIT 1")[0]
    items = sql("SELECT adacode, fee FROM v_treatment_plan WHERE plan_id = ? ORDER BY item_order", plan)
    rec = hso["treatment_plans"].loc[str(plan)]
    assert rec["cf:CDT_Codes"] == ", ".join(c for c, _ in items)
    assert rec["cf:Total_Fee"] == pytest.approx(sum(f for _, f in items)) and rec["fk:contact"] == str(pid)
    assert len(hso["treatment_plans"]) == sql("SELECT COUNT(DISTINCT plan_id) FROM v_treatment_plan")[0][0]


def test_hso_appointments_and_missed_tasks(hso, sql):
    kept = sql("SELECT COUNT(*) FROM v_appt WHERE status_id NOT IN (-103, -104)")[0][0]
    missed = sql("SELECT COUNT(*) FROM v_appt WHERE status_id IN (-103, -104)")[0][0]
    assert (len(hso["appointments"]), len(hso["missed_appointments"])) == (kept, missed)
    aid = sql("SELECT appointment_id FROM v_appt WHERE status_id = -104 LIMIT 1")[0][0]
    task = hso["missed_appointments"].loc[str(aid)]
    assert task["title"].startswith("Cancelled") and "code -104" in task["body"]


def test_hso_provider_staff_contact(hso, sql):
    pid, npi, spec_name = sql("SELECT p.provider_id, p.npi, s.description FROM v_provider p "
                              "JOIN v_referral_specialty s ON s.defid = p.specialty_id LIMIT 1")[0]
    row = hso["staff_contacts"].loc[str(pid)]
    assert (row["cf:Provider_NPI"], row["cf:Provider_Specialty"]) == (npi, spec_name)
    assert row["tags"].startswith("Staff")


def test_hso_ledger_note_and_balance(hso, sql):
    g, total, _ = _guarantor_with_balance(sql)
    assert hso["patients"].loc[g, "cf:Outstanding_Balance"] == pytest.approx(total)
    rows = sql("SELECT COUNT(*) FROM fullproclog WHERE patid = ? AND chartstatus <> 101", int(g))[0][0]
    assert hso["ledger_notes"].loc[g, "body"].count("\n") == rows  # header line + one line per ledger row


def test_hso_clinical_notes_per_visit_option(hso, sql):
    assert len(hso["visit_notes"]) == sql("SELECT COUNT(*) FROM v_clinical_notes")[0][0]
    assert hso["clinical_history_notes"].empty  # clinical_notes_mode: per_visit


def test_hso_referral_source_field_and_tag(hso, sql):
    pid, name = sql("SELECT pr.patient_id, r.practice_name FROM v_patient_referral pr JOIN v_referral r "
                    "ON r.referral_id = pr.referral_id WHERE pr.direction = 'in' AND pr.patient_id IN "
                    "(SELECT patient_id FROM v_patient_referral WHERE direction = 'in' GROUP BY patient_id "
                    "HAVING COUNT(*) = 1) ORDER BY 1 LIMIT 1")[0]
    row = hso["patients"].loc[str(pid)]
    assert row["cf:Referral_Source"] == name and ",Referred" in row["tags"]


def test_hso_documents_descriptive_names(hso, sql):
    did, desc, ftype = sql("SELECT document_id, description, file_type FROM v_document ORDER BY 1 LIMIT 1")[0]
    assert hso["documents"].loc[str(did), "file_name"] == f"{desc}.{ftype}"
    assert len(hso["documents"]) == sql("SELECT COUNT(*) FROM v_document")[0][0]


def test_hso_claims_fields_and_history_note(hso):
    pats = hso["patients"]
    with_claims = pats[pats["cf:Claims_Count"].notna()]
    assert len(with_claims) > 0
    pid = with_claims.index[0]
    assert hso["claim_notes"].loc[pid, "body"].count("claim ") == int(with_claims.loc[pid, "cf:Claims_Count"])
