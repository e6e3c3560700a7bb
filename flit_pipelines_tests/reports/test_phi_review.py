"""PHI review queue: the detector (each pattern, no false positives on plain clinical prose), the spec
shape, and the queue end to end: held rows are not sent, `flit phi approve` releases them, the next
load sends them, `flit phi list` and phi_review_queue.csv show IDs and pattern names, never text."""

from __future__ import annotations

import shutil
import typing

import pandas as pd
import pytest

from flit_pipelines.cli import main, report, run_wave
from flit_pipelines.spec.load import SpecError, approve_spec_file, load_spec
from flit_pipelines.spec.model import PhiPattern, PhiReview
from flit_pipelines.transform.phi import PATTERNS, detect, hold_reasons, patterns_of, plain_text, scan_text
from flit_pipelines_tests.conftest import FIXTURE_EXPORT, SPEC_PATH, sandbox_stats
from flit_pipelines_tests.spec_edit import edit_spec_file

M = "clinic_to_pipedrive"
ALICE = "a0000000-0000-4000-8000-000000000001"
PHI_NOTE = "ae000000-0000-4000-8000-000000000077"
PHI_TEXT = "Pt DOB: 03/14/1961. Daughter asked us to call 555-867-5309."
TXT_DOC = "de000000-0000-4000-8000-000000000002"

POSITIVE = {
    "ssn": ["SSN 123456789 on file", "ssn: 123-45-6789", "ref 999-33-2827 from intake"],
    "dob": ["DOB: 01/02/1990", "Date of birth 1990-01-02", "D.O.B. Jan 2, 1990", "born 2 January 1990"],
    "mrn": ["MRN 00123456", "Medical record number: A-12345", "chart # 778899"],
    "phone": ["call (555) 123-4567", "cell 555-123-4567", "+1 555 123 4567", "sms +15551234567", "Mobile: 5551234567"],
    "email": ["mail jo.doe@clinic.example today"],
    "icd10": ["Dx E11.9, stable", "S93.401A right ankle", "ICD-10: E11"],
    "member_id": ["Member ID: XYZ123456", "policy # AB12345", "Medicaid no. 9876543"],
}
PLAIN = ["Prefers mornings", "Prefers morning appointments.", "Anxious patient - offer nitrous.",
         'Sinus congestion, mild fever, no cough. Patient says "feeling better" since Friday.',
         "Plan:\n1) lifestyle changes\n2) recheck blood pressure in 4 weeks",
         "Called guardian re: missed appointment. Left voicemail, will retry.",
         "Local anesthetic 2% lidocaine 1:100k epi x1 carpule.", "Strength 4/5 in the affected region.",
         "progress note by Erin, 2024-01-15 09:30", "2024-01-15T09:30:00Z", "Vitamin B12 low; HbA1c 5.9",
         "Medical history reviewed, no changes.", "Insurance card scan", "Member since 2019",
         "(SNOMED 185349003)", "Invoice 2024-01-15 100.00", "Return in 3 weeks; born and raised locally."]


@pytest.mark.parametrize("name", sorted(POSITIVE))
def test_each_pattern_finds_its_identifier(name):
    found = scan_text(pd.Series(POSITIVE[name]), [name])
    assert found.tolist() == [name] * len(POSITIVE[name])


def test_plain_clinical_text_matches_no_pattern():
    assert scan_text(pd.Series(PLAIN), list(PATTERNS)).isna().all()


def test_pattern_names_match_the_spec_vocabulary():
    assert set(PATTERNS) == set(typing.get_args(PhiPattern))


def test_html_is_stripped_and_several_patterns_are_named_in_spec_order():
    html = pd.Series(["<p>DOB:&nbsp;01/02/1990</p><p>mail <b>a@b.example</b> or (555) 123-4567</p>", None])
    assert plain_text(html).iloc[0].startswith(" DOB: 01/02/1990")
    assert scan_text(plain_text(html), ["phone", "dob", "email"]).tolist() == ["phone, dob, email", pd.NA]


def test_attachments_are_flagged_by_file_name_and_only_text_bodies_are_read(tmp_path):
    (tmp_path / "a.txt").write_text("Referral. Patient SSN 123-45-6789.")
    (tmp_path / "b.pdf").write_bytes(b"%PDF SSN 123-45-6789")  # not text: never opened
    (tmp_path / "c.txt").write_text("Routine follow-up, nothing else.")
    payload = pd.DataFrame({"source_id": ["1", "2", "3", "4"],
                            "title": ["Referral letter", "Lab report", "Scanned ID card", "Visit summary"],
                            "path": ["a.txt", "b.pdf", "c.txt", "missing.txt"]})
    review = PhiReview(file_name_column="title", file_names=["*id card*", "*insurance card*"], text_file_column="path",
                       patterns=["ssn", "phone"])
    assert detect(payload, review, files_root=tmp_path).tolist() == ["ssn", pd.NA, "file_name", pd.NA]
    reasons = hold_reasons(payload, review, approved=["1"], files_root=tmp_path)
    assert reasons.tolist() == [pd.NA, pd.NA, "held for PHI review: file_name", pd.NA]
    assert patterns_of(reasons).tolist() == [pd.NA, pd.NA, "file_name", pd.NA]
    assert hold_reasons(payload, None).isna().all()


def test_spec_rejects_phi_review_on_unmapped_fields_and_incomplete_rules(tmp_path):
    with pytest.raises(ValueError, match="columns / text_file_column need patterns"):
        PhiReview(columns=["content"])
    with pytest.raises(ValueError, match="go together"):
        PhiReview(file_names=["*card*"])
    with pytest.raises(ValueError):
        PhiReview(columns=["content"], patterns=["passport"])
    bad = tmp_path / "bad.yaml"
    edit_spec_file(bad, "phi_review: {columns: [content],", "phi_review: {columns: [text],", source=SPEC_PATH)
    with pytest.raises(SpecError, match="phi_review names payload fields the target does not map"):
        load_spec(bad)


# -- end to end ------------------------------------------------------------------------------------
@pytest.fixture
def phi_env(migration_env, tmp_path, monkeypatch):
    """The fixture export with a clinical note naming a DOB and a phone number, and the text document
    carrying an SSN; the committed spec's phi_review settings."""
    export = tmp_path / "export"
    shutil.copytree(FIXTURE_EXPORT, export)
    notes = pd.read_csv(export / "notes.csv", dtype=str, keep_default_na=False)
    note = notes.iloc[0].copy()
    note[["Id", "TEXT"]] = [PHI_NOTE, PHI_TEXT]
    pd.concat([notes, pd.DataFrame([note])]).to_csv(export / "notes.csv", index=False)
    doc = export / "documents" / f"{TXT_DOC}.txt"
    doc.write_text(doc.read_text() + "Patient SSN 123-45-6789.\n")
    docs = pd.read_csv(export / "documents.csv", dtype=str, keep_default_na=False)
    docs.loc[docs["Id"] == TXT_DOC, "SIZE_BYTES"] = str(doc.stat().st_size)
    docs.to_csv(export / "documents.csv", index=False)
    monkeypatch.setenv("CLINIC_EXPORT_DIR", str(export))
    path = migration_env["specs"] / f"{M}.yaml"
    edit_spec_file(path, "file_size_limit_bytes: 10485760", "file_size_limit_bytes: 1048576")
    approve_spec_file(path, "test reviewer", "2026-11-21T00:00:00+00:00")
    return migration_env


def test_held_rows_are_not_sent_until_approved_then_the_next_load_sends_them(phi_env, capsys):
    from flit_pipelines.assets.resources import FlitResource

    url = phi_env["sandbox"]
    assert run_wave(M, "full", quiet=True) is True
    rep = report(M, "full")
    assert rep["all_checks_passed"] is True  # held rows are quarantined with the reason: counts reconcile
    notes, docs = rep["targets"]["clinical_notes"], rep["targets"]["documents"]
    assert (notes["created"], notes["held_for_phi_review"], notes["quarantined"]) == (3, 1, 1)
    assert notes["quarantine_reasons"] == {"held for PHI review: dob, phone": 1}
    assert (docs["created"], docs["held_for_phi_review"]) == (0, 1)  # the PDF is over the 1 MiB limit
    assert rep["phi_review"]["held"] == 2 and rep["phi_review"]["approved"] == 0
    assert sandbox_stats(url)["entities"]["note"]["active"] == 3 + 4  # not the held one
    ledger = FlitResource().ledger()
    assert ledger.crosswalk_frame(M, "clinical_notes")["source_id"].tolist().count(PHI_NOTE) == 0
    holds = ledger.audit_frame(M, operations=["hold"])
    assert sorted(holds["source_id"]) == [PHI_NOTE, TXT_DOC] and set(holds["status"]) == {"ok"}

    queue_csv = phi_env["tmp"] / "data" / "reports" / M / "full" / "phi_review_queue.csv"
    queue = pd.read_csv(queue_csv, dtype=str, keep_default_na=False)
    assert queue[["target", "source_id", "patterns", "status"]].values.tolist() == [
        ["clinical_notes", PHI_NOTE, "dob, phone", "held"], ["documents", TXT_DOC, "ssn", "held"]]
    assert "555" not in queue_csv.read_text() and "1961" not in queue_csv.read_text()

    capsys.readouterr()
    assert main(["phi", "list", M]) == 0
    out = capsys.readouterr().out
    assert "2 held for PHI review, 0 approved" in out
    assert PHI_NOTE in out and "dob, phone" in out and TXT_DOC in out
    assert "555-867-5309" not in out and "03/14/1961" not in out and "123-45-6789" not in out

    assert main(["phi", "approve", M, "clinical_notes", "--source-id", "no-such-id", "--by", "Dr Reviewer"]) == 1
    assert main(["phi", "approve", M, "clinical_notes", "--source-id", PHI_NOTE, "--by", "Dr Reviewer"]) == 0
    assert main(["phi", "approve", M, "documents", "--all", "--by", "Dr Reviewer"]) == 0
    assert main(["phi", "approve", M, "documents", "--all", "--by", "Someone Else"]) == 0  # nothing new
    capsys.readouterr()
    assert main(["phi", "list", M]) == 0
    out = capsys.readouterr().out
    assert "0 held for PHI review, 2 approved" in out and "approved by Dr Reviewer" in out
    with pytest.raises(SystemExit):
        main(["phi", "approve", M, "visits", "--all", "--by", "x"])  # no phi_review on that target

    assert run_wave(M, "full", quiet=True) is True
    rep2 = report(M, "full")
    assert rep2["all_checks_passed"] is True
    n2, d2 = rep2["targets"]["clinical_notes"], rep2["targets"]["documents"]
    assert (n2["created"], n2["unchanged"], n2["held_for_phi_review"], n2["quarantined"]) == (1, 3, 0, 0)
    assert (d2["created"], d2["held_for_phi_review"]) == (1, 0)
    assert rep2["phi_review"] == {"held": 0, "approved": 2, "queue": str(queue_csv),
                                  "by_target": {"clinical_notes": {"held": 0, "approved": 1},
                                                "documents": {"held": 0, "approved": 1}}}
    assert sandbox_stats(url)["entities"]["note"]["active"] == 3 + 4 + 1
    queue = pd.read_csv(queue_csv, dtype=str, keep_default_na=False)
    assert set(queue["status"]) == {"approved"} and set(queue["approved_by"]) == {"Dr Reviewer"}
    assert queue["approved_at"].str.len().min() > 0
    approvals = ledger.phi_approvals(M)
    assert sorted(approvals["source_id"]) == [PHI_NOTE, TXT_DOC]
    assert approvals.set_index("source_id")["patterns"].to_dict() == {PHI_NOTE: "dob, phone", TXT_DOC: "ssn"}
