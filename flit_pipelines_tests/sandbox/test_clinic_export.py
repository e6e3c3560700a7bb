"""Tests of the synthetic clinic export builder and of the hand-made ``clinic_extras`` fixture.

The same checks (headers, referential integrity, ledger money) run over a generated export and over the
fixture, so the fixture documents the rules the generator follows. Headers are compared with the real
Synthea sample bundled in the package, not with the generator's own constants.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import flit_pipelines
from flit_sandboxes import clinic_export_codes as C
from flit_sandboxes.clinic_export import REF_TIME, build_clinic_export, main

SAMPLE = Path(flit_pipelines.__file__).parent / "sample_data" / "synthea_csv_sample"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURE = FIXTURES / "clinic_extras"
SYNTHEA_FILES = sorted(C.SYNTHEA_HEADERS)
EXTRA_FILES = sorted(C.EXTRA_HEADERS)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
DATE = r"\d{4}-\d{2}-\d{2}"
MONEY = r"\d+\.\d{2}"


# --- helpers ---------------------------------------------------------------------------------------


def read(folder: Path, name: str) -> pd.DataFrame:
    """A CSV as strings, empty fields as "" (ZIPs keep their leading zeros)."""
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


def cents(s: pd.Series) -> pd.Series:
    """Money strings ("12.34", "0", "") to integer cents; "" counts as 0."""
    return (pd.to_numeric(s.replace("", "0")) * 100).round().astype("int64")


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_refs(child: pd.Series, parent: pd.Series, what: str, allow_empty: bool = False) -> None:
    values = child[child != ""] if allow_empty else child
    missing = set(values) - set(parent)
    assert not missing, f"{what}: {len(missing)} dangling, e.g. {sorted(missing)[:3]}"


def check_integrity(folder: Path) -> None:
    """Every foreign key of the export points at an existing row."""
    pat, org, prov, payer = (read(folder, f"{n}.csv") for n in ("patients", "organizations", "providers", "payers"))
    enc, claims = read(folder, "encounters.csv"), read(folder, "claims.csv")
    tx = read(folder, "claims_transactions.csv")
    for df, col in ((pat, "Id"), (org, "Id"), (prov, "Id"), (payer, "Id"), (enc, "Id"), (claims, "Id"), (tx, "ID")):
        assert df[col].is_unique, col
    assert_refs(prov.ORGANIZATION, org.Id, "providers.ORGANIZATION")
    assert_refs(enc.PATIENT, pat.Id, "encounters.PATIENT")
    assert_refs(enc.ORGANIZATION, org.Id, "encounters.ORGANIZATION")
    assert_refs(enc.PROVIDER, prov.Id, "encounters.PROVIDER")
    assert_refs(enc.PAYER, payer.Id, "encounters.PAYER")
    pt = read(folder, "payer_transitions.csv")
    assert_refs(pt.PATIENT, pat.Id, "payer_transitions.PATIENT")
    assert_refs(pt.PAYER, payer.Id, "payer_transitions.PAYER")
    assert_refs(pt.SECONDARY_PAYER, payer.Id, "payer_transitions.SECONDARY_PAYER", allow_empty=True)
    # claims belong to an encounter and carry its patient and provider
    merged = claims.merge(enc, left_on="APPOINTMENTID", right_on="Id", how="left", suffixes=("", "_enc"))
    assert merged.PATIENT.notna().all(), "claims.APPOINTMENTID must be an encounter Id"
    assert (merged.PATIENTID == merged.PATIENT).all()
    assert (merged.PROVIDERID == merged.PROVIDER).all()
    assert_refs(claims.PRIMARYPATIENTINSURANCEID, payer.Id, "claims.PRIMARY…", allow_empty=True)
    assert_refs(claims.SECONDARYPATIENTINSURANCEID, payer.Id, "claims.SECONDARY…", allow_empty=True)
    m = tx.merge(claims[["Id", "PATIENTID", "APPOINTMENTID"]], left_on="CLAIMID", right_on="Id", how="left",
                 suffixes=("", "_claim"))
    assert m.Id.notna().all(), "claims_transactions.CLAIMID must be a claim Id"
    assert (m.PATIENTID == m.PATIENTID_claim).all()
    assert (m.APPOINTMENTID == m.APPOINTMENTID_claim).all()
    assert_refs(tx.PLACEOFSERVICE, org.Id, "claims_transactions.PLACEOFSERVICE")
    assert_refs(tx.PROVIDERID, prov.Id, "claims_transactions.PROVIDERID")
    for name in ("careplans", "medications", "observations", "imaging_studies"):
        df = read(folder, f"{name}.csv")
        assert_refs(df.PATIENT, pat.Id, f"{name}.PATIENT")
        assert_refs(df.ENCOUNTER, enc.Id, f"{name}.ENCOUNTER")
        pairs = df.merge(enc[["Id", "PATIENT"]], left_on="ENCOUNTER", right_on="Id", suffixes=("", "_enc"))
        assert (pairs.PATIENT == pairs.PATIENT_enc).all(), f"{name}: encounter of another patient"
    assert_refs(read(folder, "medications.csv").PAYER, payer.Id, "medications.PAYER")
    if (folder / "notes.csv").exists():
        notes = read(folder, "notes.csv")
        assert_refs(notes.PATIENT, pat.Id, "notes.PATIENT")
        assert_refs(notes.ENCOUNTER, enc.Id, "notes.ENCOUNTER", allow_empty=True)
        assert_refs(notes.AUTHOR, prov.Id, "notes.AUTHOR")
        rel = read(folder, "relationships.csv")
        assert_refs(rel.PATIENT, pat.Id, "relationships.PATIENT")
        assert_refs(rel.RELATED_PATIENT, pat.Id, "relationships.RELATED_PATIENT")
        assert_refs(read(folder, "documents.csv").PATIENT, pat.Id, "documents.PATIENT")
        assert_refs(read(folder, "provider_directory.csv").PROVIDER, prov.Id, "provider_directory.PROVIDER")


def check_timeline(folder: Path) -> None:
    """Encounters fall inside the patient's life, and their PAYER is the payer_transitions period in force."""
    pat, enc = read(folder, "patients.csv"), read(folder, "encounters.csv")
    e = enc.merge(pat[["Id", "BIRTHDATE", "DEATHDATE"]], left_on="PATIENT", right_on="Id", suffixes=("", "_pat"))
    assert (e.START.str[:10] >= e.BIRTHDATE).all()
    dead = e.DEATHDATE != ""
    assert (e.STOP.str[:10][dead] <= e.DEATHDATE[dead]).all()
    pt = read(folder, "payer_transitions.csv")
    m = enc[["Id", "PATIENT", "START", "PAYER"]].merge(pt, on="PATIENT", suffixes=("", "_period"))
    m = m[(m.START_DATE <= m.START) & (m.START < m.END_DATE)]  # ISO-8601 strings sort by time
    assert m.Id.is_unique and set(m.Id) == set(enc.Id), "exactly one coverage period per encounter"
    assert (m.PAYER == m.PAYER_period).all()


def check_money(folder: Path) -> None:
    """Per claim: OUTSTANDING1+2+P == sum(CHARGE AMOUNT) - sum(PAYMENT PAYMENTS); ledger shape rules."""
    claims, tx = read(folder, "claims.csv"), read(folder, "claims_transactions.csv")
    charged = cents(tx.AMOUNT.where(tx.TYPE == "CHARGE", "")).groupby(tx.CLAIMID).sum()
    paid = cents(tx.PAYMENTS.where(tx.TYPE == "PAYMENT", "")).groupby(tx.CLAIMID).sum()
    owed = (cents(claims.OUTSTANDING1) + cents(claims.OUTSTANDING2) + cents(claims.OUTSTANDINGP))
    owed.index = claims.Id
    balance = charged.sub(paid, fill_value=0).reindex(claims.Id)
    bad = balance[balance != owed]
    assert bad.empty, f"{len(bad)} claims out of balance, e.g. {bad.head(3).to_dict()}"
    assert (tx[tx.TYPE == "CHARGE"].groupby("CLAIMID").size().reindex(claims.Id) >= 1).all(), "claim without CHARGE"
    assert set(tx.TYPE) <= {"CHARGE", "PAYMENT", "ADJUSTMENT", "TRANSFERIN", "TRANSFEROUT"}
    pay = tx[tx.TYPE == "PAYMENT"]
    assert pay.METHOD.isin(["CASH", "CHECK", "COPAY", "SYSTEM", "CC", "ECHECK"]).all()
    assert (pay.AMOUNT == "").all(), "as in Synthea, a PAYMENT's amount is in PAYMENTS"
    assert (tx.METHOD[tx.TYPE != "PAYMENT"] == "").all()
    # every TRANSFERIN names the TRANSFEROUT of the same claim and moves the same amount
    out = tx[tx.TYPE == "TRANSFEROUT"].set_index("CHARGEID")
    tin = tx[tx.TYPE == "TRANSFERIN"]
    src = out.loc[tin.TRANSFEROUTID]
    assert (src.CLAIMID.to_numpy() == tin.CLAIMID.to_numpy()).all()
    assert (src.TRANSFERS.to_numpy() == tin.AMOUNT.to_numpy()).all()
    assert tin.TRANSFERTYPE.isin(["2", "p"]).all()
    assert tx.CHARGEID.is_unique
    # a claim is BILLED on a side exactly when that side still owes something
    for side in ("1", "P"):
        billed = claims[f"STATUS{side}"] == "BILLED"
        assert (billed == (cents(claims[f"OUTSTANDING{side}"]) > 0)).all(), side


def check_headers(folder: Path, with_extras: bool) -> None:
    for name in SYNTHEA_FILES:
        expected = header(SAMPLE / name) + (list(C.EXTRA_COLUMNS.get(name, ())) if with_extras else [])
        assert header(folder / name) == expected, name
    for name in EXTRA_FILES:
        if with_extras:
            assert header(folder / name) == list(C.EXTRA_HEADERS[name]), name
        else:
            assert not (folder / name).exists(), name


def provider_patients(folder: Path) -> pd.DataFrame:
    """The documented is-provider rule: same 'FIRST LAST' as providers.NAME, same GENDER, and the same
    e-mail (case-insensitive) as the provider's provider_directory entry."""
    pat, prov = read(folder, "patients.csv"), read(folder, "providers.csv")
    directory = read(folder, "provider_directory.csv")
    pat = pat.assign(NAME=pat.FIRST + " " + pat.LAST, email=pat.EMAIL.str.lower())
    directory = directory.assign(email=directory.EMAIL.str.lower())
    by_name = pat.merge(prov[["Id", "NAME", "GENDER"]], on=["NAME", "GENDER"], suffixes=("", "_provider"))
    return by_name.merge(directory, left_on=["Id_provider", "email"], right_on=["PROVIDER", "email"])


def age_at_ref(birthdates: pd.Series) -> pd.Series:
    ref = pd.Timestamp(REF_TIME, unit="s")
    return (ref - pd.to_datetime(birthdates)).dt.days / 365.2425


# --- a generated export shared by most tests --------------------------------------------------------


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """150 patients in chunks of 60: exercises chunk appends, and documents spanning chunks."""
    out = tmp_path_factory.mktemp("clinic_export")
    rows = build_clinic_export(out, patients=150, seed=11, chunk_patients=60)
    return out, rows


def test_headers_equal_the_real_sample_plus_extras(export):
    check_headers(export[0], with_extras=True)


def test_rows_reported_match_the_files(export):
    out, rows = export
    assert set(rows) == set(SYNTHEA_FILES) | set(EXTRA_FILES)
    for name, count in rows.items():
        assert len(read(out, name)) == count, name
    assert rows["patients.csv"] == 150


def test_value_formats_follow_the_sample(export):
    out, _ = export
    pat = read(out, "patients.csv")
    assert pat.Id.str.fullmatch(UUID).all()
    assert pat.BIRTHDATE.str.fullmatch(DATE).all()
    assert pat.DEATHDATE[pat.DEATHDATE != ""].str.fullmatch(DATE).all()
    assert pat.ZIP.str.fullmatch(r"0\d{4}").all()
    assert pat.FIRST.str.fullmatch(r"[A-Za-z]+\d{1,3}").all() and pat.LAST.str.fullmatch(r"[A-Za-z]+\d{1,3}").all()
    assert pat.SSN.str.fullmatch(r"999-\d{2}-\d{4}").all()
    assert pat.HEALTHCARE_EXPENSES.str.fullmatch(MONEY).all()
    enc = read(out, "encounters.csv")
    assert enc.START.str.fullmatch(TS).all() and enc.STOP.str.fullmatch(TS).all()
    assert (enc.STOP > enc.START).all()
    assert enc.TOTAL_CLAIM_COST.str.fullmatch(MONEY).all()
    assert set(enc.ENCOUNTERCLASS) <= set(C.ENCOUNTER_CLASSES)
    claims = read(out, "claims.csv")
    for col in ("OUTSTANDING1", "OUTSTANDINGP"):
        assert claims[col].str.fullmatch(rf"0|{MONEY}").all(), col
    pt = read(out, "payer_transitions.csv")
    assert pt.START_DATE.str.fullmatch(TS).all() and (pt.END_DATE > pt.START_DATE).all()
    care = read(out, "careplans.csv")
    assert care.START.str.fullmatch(DATE).all()
    provider_names = read(out, "providers.csv").NAME
    assert provider_names.str.fullmatch(r"[A-Za-z]+\d{1,3} [A-Za-z]+\d{1,3}").all()


def test_referential_integrity(export):
    check_integrity(export[0])
    check_timeline(export[0])


def test_claim_money_is_consistent(export):
    out, _ = export
    check_money(out)
    claims = read(out, "claims.csv")
    # the three claim states all occur at this size
    assert (claims.STATUS1 == "BILLED").any() or (claims.STATUSP == "BILLED").any()
    assert (claims.STATUS1 == "CLOSED").mean() > 0.9


def test_only_completed_encounters_are_billed(export):
    out, _ = export
    enc, claims = read(out, "encounters.csv"), read(out, "claims.csv")
    billed = enc.Id.isin(claims.APPOINTMENTID)
    assert (billed == (enc.STATUS == "completed")).all()
    share = enc.STATUS.value_counts(normalize=True)
    assert 0.85 < share["completed"] < 0.95 and share["cancelled"] > 0.03 and share["no-show"] > 0.005
    cancelled = enc.STATUS == "cancelled"
    assert enc.CANCELLATION_REASON[cancelled].isin(C.CANCELLATION_REASONS).all()
    assert (enc.CANCELLATION_REASON[~cancelled] == "").all()
    assert (enc.TOTAL_CLAIM_COST[~billed] == "0.00").all()
    # TOTAL_CLAIM_COST is the sum of the encounter's CHARGE rows
    tx = read(out, "claims_transactions.csv")
    charges = cents(tx.AMOUNT.where(tx.TYPE == "CHARGE", "")).groupby(tx.APPOINTMENTID).sum()
    total = cents(enc.set_index("Id").TOTAL_CLAIM_COST)
    assert (total.loc[charges.index] == charges).all()


def test_clinical_files_have_the_required_variety(export):
    out, _ = export
    obs = read(out, "observations.csv")
    lab = obs[obs.CATEGORY == "laboratory"]
    assert len(lab) > 0 and (lab.TYPE == "numeric").all() and (lab.UNITS != "").all()
    assert pd.to_numeric(lab.VALUE).notna().all()
    assert (obs.TYPE == "text").any()
    meds = read(out, "medications.csv")
    assert (meds.STOP == "").any() and (meds.STOP != "").any()
    assert ((meds.STOP == "") | (meds.STOP > meds.START)).all()
    care = read(out, "careplans.csv")
    assert (care.STOP == "").any() and (care.STOP != "").any()
    assert len(read(out, "imaging_studies.csv")) > 0


def test_notes_are_quoted_csv(export):
    out, _ = export
    notes = read(out, "notes.csv")
    assert notes.DATE.str.fullmatch(TS).all()
    assert set(notes.NOTE_TYPE) == set(C.NOTE_TYPES)
    assert ((notes.ENCOUNTER == "") == (notes.NOTE_TYPE == "phone")).all()
    for ch in (",", '"', "\n"):
        assert notes.TEXT.str.contains(ch, regex=False).any(), repr(ch)


def test_documents_exist_with_their_sizes(export):
    out, rows = export
    docs = read(out, "documents.csv")
    assert docs.FILE_PATH.str.fullmatch(r"documents/[0-9a-f-]{36}\.(txt|pdf|png)").all()
    sizes = np.array([(out / p).stat().st_size for p in docs.FILE_PATH])
    assert (sizes == docs.SIZE_BYTES.astype(int).to_numpy()).all()
    assert 0 < (sizes > 1_048_576).sum() <= 2, "one to two large files"
    small = sizes[sizes <= 1_048_576]
    assert small.min() >= 200 and small.max() <= 8_000
    first_ids = read(out, "patients.csv").Id.head(200)
    assert docs.PATIENT.isin(first_ids).all()
    kinds = {p.suffix: (out / p).read_bytes()[:8] for p in map(Path, docs.FILE_PATH)}
    assert kinds.get(".pdf", b"%PDF").startswith(b"%PDF") and kinds.get(".png", b"\x89PNG").startswith(b"\x89PNG")


def test_relationships_form_families_with_guarantors(export):
    out, _ = export
    rel, pat = read(out, "relationships.csv"), read(out, "patients.csv")
    assert set(rel.RELATIONSHIP) <= set(C.RELATIONSHIPS) and set(rel.IS_GUARANTOR) <= {"true", "false"}
    # every row has its inverse
    pairs = set(zip(rel.PATIENT, rel.RELATED_PATIENT, strict=True))
    assert all((b, a) in pairs for a, b in pairs)
    age = age_at_ref(pat.set_index("Id").BIRTHDATE)
    guarantor = rel[rel.IS_GUARANTOR == "true"]
    assert len(guarantor) > 0
    assert (age.loc[guarantor.PATIENT].to_numpy() < 18).all()
    assert (age.loc[guarantor.RELATED_PATIENT].to_numpy() >= 18).all()
    assert guarantor.RELATIONSHIP.isin(["parent", "guardian"]).all()
    minors_with_parent = rel[rel.RELATIONSHIP.isin(["parent", "guardian"]) & (age.loc[rel.PATIENT].to_numpy() < 18)]
    assert (minors_with_parent.IS_GUARANTOR == "true").all()
    members = set(rel.PATIENT)
    assert 0.2 < len(members) / len(pat) < 0.4


def test_provider_directory_and_the_is_provider_match(export):
    out, _ = export
    prov, directory = read(out, "providers.csv"), read(out, "provider_directory.csv")
    assert 0 < len(directory) < len(prov), "some providers are missing from the directory"
    assert directory.EMAIL.str.fullmatch(rf"[a-z]+\.[a-z]+\d*@{re.escape(C.CLINIC_DOMAIN)}").all()
    assert directory.EMAIL.is_unique
    matches = provider_patients(out)
    assert len(matches) == max(1, round(150 * 0.01))
    assert matches.Id.is_unique and matches.PROVIDER.is_unique


def test_directory_lists_about_80_percent_of_providers():
    from flit_sandboxes.clinic_export import _build_pools, _build_reference

    ref = _build_reference(20_000, 7, _build_pools(7))  # 400 providers, 200 of them also patients
    assert 0.75 < ref.prov_listed.mean() < 0.85
    assert ref.prov_listed[ref.pp_provider].all()


def test_core_files_do_not_depend_on_extras(export, tmp_path):
    """Extras draw from their own random streams: without them the Synthea files are the same rows."""
    out, _ = export
    plain = tmp_path / "plain"
    build_clinic_export(plain, patients=150, seed=11, chunk_patients=60, with_extras=False)
    check_headers(plain, with_extras=False)
    for name in SYNTHEA_FILES:
        extra = list(C.EXTRA_COLUMNS.get(name, ()))
        if extra:
            pd.testing.assert_frame_equal(read(out, name).drop(columns=extra), read(plain, name), obj=name)
        else:
            assert (out / name).read_bytes() == (plain / name).read_bytes(), name


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    args = dict(patients=40, encounters_per_patient=4.0, chunk_patients=25)
    build_clinic_export(tmp_path / "a", seed=3, **args)
    build_clinic_export(tmp_path / "b", seed=3, **args)
    build_clinic_export(tmp_path / "c", seed=4, **args)
    a, b, c = (digest(tmp_path / x) for x in "abc")
    assert a == b
    assert a["patients.csv"] != c["patients.csv"]


def test_row_counts_scale_with_patients(tmp_path):
    small = build_clinic_export(tmp_path / "s", patients=50, seed=5, with_extras=False)
    large = build_clinic_export(tmp_path / "l", patients=200, seed=5, with_extras=False)
    assert (small["patients.csv"], large["patients.csv"]) == (50, 200)
    for name in ("encounters.csv", "claims.csv", "claims_transactions.csv", "payer_transitions.csv"):
        assert 3.0 < large[name] / small[name] < 5.0, name
    assert 6.5 < large["encounters.csv"] / 200 < 9.5  # ~8 per patient by default
    zero_claims = build_clinic_export(tmp_path / "z", patients=20, seed=5, claims_per_encounter=0.0,
                                      notes_per_patient=0.0)
    assert zero_claims["claims.csv"] == zero_claims["claims_transactions.csv"] == zero_claims["notes.csv"] == 0
    assert header(tmp_path / "z" / "claims.csv") == header(SAMPLE / "claims.csv")


@pytest.mark.parametrize("kwargs", [
    dict(patients=0), dict(patients=1.5), dict(seed=-1), dict(chunk_patients=0),
    dict(encounters_per_patient=-1.0), dict(claims_per_encounter=float("nan")), dict(notes_per_patient=-0.1),
])
def test_rejects_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        build_clinic_export(tmp_path, **kwargs)


def test_cli_prints_row_counts(tmp_path, capsys):
    assert main([str(tmp_path / "cli"), "--patients", "12", "--seed", "2"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^patients\.csv\s+12$", printed, re.M)
    assert re.search(r"^total\s+[\d,]+$", printed, re.M)


# --- the hand-made fixture ------------------------------------------------------------------------


def test_fixture_is_what_the_script_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_clinic_extras", FIXTURES / "make_clinic_extras.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write(tmp_path)
    assert digest(tmp_path) == digest(FIXTURE)


def test_fixture_follows_the_export_rules():
    check_headers(FIXTURE, with_extras=True)
    check_integrity(FIXTURE)
    check_timeline(FIXTURE)
    check_money(FIXTURE)


def test_fixture_contents_are_the_documented_cases():
    counts = {name: len(read(FIXTURE, name)) for name in SYNTHEA_FILES + EXTRA_FILES}
    assert counts["patients.csv"] == 4 and counts["organizations.csv"] == 2 and counts["providers.csv"] == 3
    assert counts["encounters.csv"] == 8 and counts["claims.csv"] == 3 and counts["payers.csv"] == 2
    assert counts["careplans.csv"] == 2 and counts["imaging_studies.csv"] == 1 and counts["notes.csv"] == 3
    enc = read(FIXTURE, "encounters.csv")
    assert enc.STATUS.value_counts().to_dict() == {"completed": 6, "cancelled": 1, "no-show": 1}
    assert enc.CANCELLATION_REASON[enc.STATUS == "cancelled"].item() == "Patient request"
    care = read(FIXTURE, "careplans.csv")
    assert sorted(care.STOP == "") == [False, True]
    claims = read(FIXTURE, "claims.csv")
    assert (cents(claims.OUTSTANDINGP) > 0).sum() == 1
    assert (claims.SECONDARYPATIENTINSURANCEID != "").sum() == 1
    tx = read(FIXTURE, "claims_transactions.csv")
    assert {"COPAY", "CC", "ECHECK", "CHECK"} <= set(tx.METHOD)
    assert (read(FIXTURE, "payer_transitions.csv").SECONDARY_PAYER != "").any()
    meds = read(FIXTURE, "medications.csv")
    assert (meds.STOP == "").sum() == 1 and (meds.STOP != "").sum() == 2
    obs = read(FIXTURE, "observations.csv")
    assert ((obs.CATEGORY == "laboratory") & (obs.TYPE == "numeric")).sum() == 2
    docs = read(FIXTURE, "documents.csv")
    sizes = [(FIXTURE / p).stat().st_size for p in docs.FILE_PATH]
    assert sizes == docs.SIZE_BYTES.astype(int).tolist()
    assert sum(s > 1_048_576 for s in sizes) == 1 and sum(s < 1_000 for s in sizes) == 1
    rel = read(FIXTURE, "relationships.csv")
    assert (rel.IS_GUARANTOR == "true").sum() == 1
    directory, prov = read(FIXTURE, "provider_directory.csv"), read(FIXTURE, "providers.csv")
    assert len(set(prov.Id) - set(directory.PROVIDER)) == 1
    match = provider_patients(FIXTURE)
    assert match[["FIRST", "LAST"]].values.tolist() == [["Dan104", "Sample301"]]
    notes = read(FIXTURE, "notes.csv")
    assert notes.TEXT.str.contains('"').any() and notes.TEXT.str.contains("\n").any()
