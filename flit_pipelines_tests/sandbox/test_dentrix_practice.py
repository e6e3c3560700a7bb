"""Tests of the synthetic Dentrix-shaped practice builder (``flit_sandboxes.dentrix_practice``).

SQLite files are read the way a reader would: a fresh connection with the file attached as ``admin``,
so every query here uses ``admin.<object>``. The PostgreSQL test creates and drops its own database on
the local server (skipped when none answers).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import uuid
from pathlib import Path

import pytest

from flit_sandboxes import dentrix_practice_codes as C
from flit_sandboxes.dentrix_practice import (
    ORIGIN, REF_DAY, SCHEMA, attach_sqlite, build_practice, main, practice_ddl)

PG_ADMIN = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
PATIENTS = 400


def connect(path: Path) -> sqlite3.Connection:
    return attach_sqlite(sqlite3.connect(":memory:"), path)


def q(conn, sql: str) -> list[tuple]:
    return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("dentrix") / "practice.db"
    return path, build_practice(path, patients=PATIENTS, seed=11)


@pytest.fixture(scope="module")
def db(built):
    conn = connect(built[0])
    yield conn
    conn.close()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- shape, determinism, scale ----------------------------------------------------------------------


def test_counts_match_tables_and_every_object_is_filled(built, db):
    _, counts = built
    assert list(counts) == list(SCHEMA)
    for table, rows in counts.items():
        assert rows > 0, table
        assert q(db, f"SELECT count(*) FROM admin.{table}")[0][0] == rows
    assert counts["v_patient"] == PATIENTS


def test_same_arguments_give_identical_bytes_and_other_seed_differs(built, tmp_path):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    build_practice(a, patients=PATIENTS, seed=11)
    build_practice(b, patients=PATIENTS, seed=12)
    assert sha(a) == sha(built[0])
    assert sha(a) != sha(b)


def test_scales_with_patients(tmp_path):
    small = build_practice(tmp_path / "s.db", patients=100, seed=3)
    large = build_practice(tmp_path / "l.db", patients=800, seed=3)
    assert small["v_patient"] == 100 and large["v_patient"] == 800
    for table in ("v_appt", "fullproclog", "v_guarantor_balance", "v_insured", "v_document"):
        assert 4 < large[table] / small[table] < 16, table


def test_one_patient_works_and_bad_arguments_raise(tmp_path):
    assert build_practice(tmp_path / "one.db", patients=1)["v_patient"] == 1
    with pytest.raises(ValueError):
        build_practice(tmp_path / "x.db", patients=0)
    with pytest.raises(ValueError):
        build_practice(tmp_path / "x.db", dialect="mssql")
    with pytest.raises(ValueError):
        build_practice("postgresql://postgres@127.0.0.1/x")
    with pytest.raises(ValueError):
        practice_ddl("oracle")


def test_ddl_covers_every_object_in_both_dialects():
    for dialect in ("sqlite", "postgresql"):
        ddl = practice_ddl(dialect)
        made = [re.match(r"CREATE TABLE admin\.(\w+) ", s).group(1) for s in ddl if s.startswith("CREATE TABLE")]
        assert made == list(SCHEMA)
    assert practice_ddl("postgresql")[0] == "CREATE SCHEMA admin"
    assert {ORIGIN[t] for t in ("v_treatment_plan", "v_clinical_notes", "v_referral", "v_document")} == {"default"}
    assert ORIGIN["v_patient"] == ORIGIN["fullproclog"] == "public"


def test_every_object_has_a_modified_at_column_not_after_reference(db):
    ref = f"{REF_DAY} 00:00:00"
    for table, cols in SCHEMA.items():
        ts = [c for c, t in cols if c in ("modified_time_stamp", "automodifiedtimestamp")]
        assert len(ts) == 1, table
        lo, hi, nulls = q(db, f"SELECT min({ts[0]}), max({ts[0]}), sum({ts[0]} IS NULL) FROM admin.{table}")[0]
        assert nulls == 0 and hi <= ref and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", lo), table


def test_cli_writes_a_file(tmp_path, capsys):
    out = tmp_path / "cli.db"
    assert main([str(out), "--patients", "30", "--seed", "5"]) == 0
    assert "v_patient\t30" in capsys.readouterr().out
    assert q(connect(out), "SELECT count(*) FROM admin.v_patient")[0][0] == 30


# --- referential integrity ----------------------------------------------------------------------------

FOREIGN_KEYS = [  # (table, column, referenced table, referenced column)
    ("v_patient", "guar_id", "v_patient", "patient_id"),
    ("v_patient", "pri_provider_id", "v_provider", "provider_id"),
    ("v_patient", "sec_provider_id", "v_provider", "provider_id"),
    ("v_patient", "employer_id", "v_employers", "employer_id"),
    ("v_patient", "primdentalinsuredid", "v_insured", "insured_id"),
    ("v_patient", "secdentalinsuredid", "v_insured", "insured_id"),
    ("v_provider", "specialty_id", "v_referral_specialty", "defid"),
    ("v_appt", "patient_id", "v_patient", "patient_id"),
    ("v_appt", "provider_id", "v_provider", "provider_id"),
    ("v_appt", "addtnl_provider_id", "v_provider", "provider_id"),
    ("v_appt", "operatory_id", "v_operatory", "op_id"),
    ("v_appt", "status_id", "v_appt_status_codes", "defid"),
    ("fullproclog", "patid", "v_patient", "patient_id"),
    ("fullproclog", "guarid", "v_patient", "patient_id"),
    ("fullproclog", "provid", "v_provider", "provider_id"),
    ("fullproclog", "proccodeid", "proccode", "proccodeid"),
    ("feeschedule", "proccodeid", "proccode", "proccodeid"),
    ("v_insured", "ins_plan_id", "v_insurance_plans", "ins_id"),
    ("v_insured", "ins_party_id", "v_patient", "patient_id"),
    ("v_patient_insurance", "patient_id", "v_patient", "patient_id"),
    ("v_patient_insurance", "primary_insured_id", "v_insured", "insured_id"),
    ("v_patient_insurance", "primary_insurance_carrier_id", "v_insurance_plans", "ins_id"),
    ("v_patient_insurance", "secondary_insured_id", "v_insured", "insured_id"),
    ("v_guarantor_balance", "guar_id", "v_patient", "patient_id"),
    ("v_notes", "noteid", "v_patient", "patient_id"),
    ("v_clinical_notes", "appointment_id", "v_appt", "appointment_id"),
    ("v_clinical_notes", "patient_id", "v_patient", "patient_id"),
    ("hhlinkpat_item", "patid", "v_patient", "patient_id"),
    ("hhlinkpat_item", "hhitemid", "hhitem", "itemid"),
    ("v_patient_recall", "patient_id", "v_patient", "patient_id"),
    ("v_patient_recall", "provider_id", "v_provider", "provider_id"),
    ("v_treatment_plan", "patient_id", "v_patient", "patient_id"),
    ("v_treatment_plan", "procid", "fullproclog", "procid"),
    ("v_treatment_plan", "proccodeid", "proccode", "proccodeid"),
    ("v_referral", "specialty_id", "v_referral_specialty", "defid"),
    ("v_patient_referral", "referral_id", "v_referral", "referral_id"),
    ("v_patient_referral", "patient_id", "v_patient", "patient_id"),
    ("v_document", "patient_id", "v_patient", "patient_id"),
]


@pytest.mark.parametrize("table,col,ref,ref_col", FOREIGN_KEYS, ids=[f"{t}.{c}" for t, c, _, _ in FOREIGN_KEYS])
def test_foreign_keys_resolve(db, table, col, ref, ref_col):
    dangling = q(db, f"SELECT count(*) FROM admin.{table} t WHERE t.{col} IS NOT NULL AND NOT EXISTS "
                     f"(SELECT 1 FROM admin.{ref} r WHERE r.{ref_col} = t.{col})")[0][0]
    assert dangling == 0
    assert q(db, f"SELECT count(*) FROM admin.{table} WHERE {col} IS NOT NULL")[0][0] > 0


def test_guarantor_is_in_the_family_and_families_share_contact_data(db):
    # a guarantor is their own guarantor and shares last name, address, home phone and email
    assert q(db, "SELECT count(*) FROM admin.v_patient p JOIN admin.v_patient g ON g.patient_id = p.guar_id "
                 "WHERE g.guar_id <> g.patient_id OR g.last_name <> p.last_name OR g.address_line1 <> p.address_line1 "
                 "OR g.home_phone <> p.home_phone OR coalesce(g.email, '') <> coalesce(p.email, '')")[0][0] == 0
    shared = q(db, "SELECT email, count(*), count(DISTINCT guar_id) FROM admin.v_patient WHERE email IS NOT NULL "
                   "GROUP BY email")
    assert all(guars == 1 for _, _, guars in shared)  # one email per family, never reused across families
    assert sum(1 for _, members, _ in shared if members >= 2) >= 20
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+\d+@example\.(com|org|net)", e) for e, _, _ in shared)


def test_subscribers_are_family_members(db):
    assert q(db, "SELECT count(*) FROM admin.v_patient p JOIN admin.v_insured i "
                 "ON i.insured_id IN (p.primdentalinsuredid, p.secdentalinsuredid) "
                 "JOIN admin.v_patient s ON s.patient_id = i.ins_party_id WHERE s.guar_id <> p.guar_id")[0][0] == 0
    assert q(db, "SELECT count(*) FROM admin.v_patient WHERE secdentalinsuredid IS NOT NULL")[0][0] > 0
    assert q(db, "SELECT count(*) FROM admin.v_patient p JOIN admin.v_patient_insurance pi USING (patient_id) "
                 "WHERE pi.primary_insured_id <> p.primdentalinsuredid")[0][0] == 0


# --- clinical content ---------------------------------------------------------------------------------


def test_procedure_codes_teeth_and_surfaces(db):
    codes = [c for (c,) in q(db, "SELECT adacode FROM admin.proccode")]
    assert all(re.fullmatch(r"D\d{4}", c) for c in codes)
    assert {"D0120", "D1110", "D2391", "D2740", "D7140"} <= set(codes)
    assert q(db, "SELECT count(*) FROM admin.fullproclog WHERE toothrangestart IS NOT NULL AND "
                 "(toothrangestart NOT BETWEEN 1 AND 32 OR toothrangeend <> toothrangestart)")[0][0] == 0
    flags = " + ".join(C.SURFACE_FLAGS)
    bad = q(db, f"SELECT count(*) FROM admin.fullproclog f JOIN admin.proccode c USING (proccodeid) "
                f"WHERE {flags} <> CASE c.adacode WHEN 'D2391' THEN 1 WHEN 'D2392' THEN 2 WHEN 'D2393' THEN 3 "
                f"WHEN 'D2330' THEN 1 WHEN 'D2140' THEN 1 WHEN 'D2150' THEN 2 ELSE 0 END")[0][0]
    assert bad == 0
    assert q(db, "SELECT count(*) FROM admin.fullproclog WHERE surfo = 1")[0][0] > 0


def test_chartstatus_and_classes(db):
    rows = dict(((cs, cls), n) for cs, cls, n in q(
        db, "SELECT chartstatus, proclogclass, count(*) FROM admin.fullproclog GROUP BY 1, 2"))
    assert set(rows) == {(C.CHART_COMPLETED, C.CLASS_PROCEDURE), (C.CHART_TREATMENT_PLANNED, C.CLASS_PROCEDURE),
                         (C.CHART_LEDGER, C.CLASS_PATIENT_PAYMENT), (C.CHART_LEDGER, C.CLASS_INSURANCE_PAYMENT),
                         (C.CHART_LEDGER, C.CLASS_ADJUSTMENT)}
    assert q(db, "SELECT count(*) FROM admin.fullproclog WHERE (proclogclass = 0) <> (proccodeid IS NOT NULL) "
                 "OR (proclogclass = 0 AND amt <= 0) OR (proclogclass <> 0 AND amt >= 0)")[0][0] == 0
    # plan items: proposed/accepted -> treatment-planned rows, completed -> completed charges
    assert q(db, "SELECT count(*) FROM admin.v_treatment_plan t JOIN admin.fullproclog f USING (procid) "
                 f"WHERE f.chartstatus <> CASE t.status WHEN 'completed' THEN {C.CHART_COMPLETED} "
                 f"ELSE {C.CHART_TREATMENT_PLANNED} END OR f.proccodeid <> t.proccodeid OR f.patid <> t.patient_id "
                 "OR round(f.amt, 2) <> round(t.fee, 2)")[0][0] == 0
    assert {s for (s,) in q(db, "SELECT DISTINCT status FROM admin.v_treatment_plan")} == {
        "proposed", "accepted", "completed"}


def test_appointment_statuses(db):
    statuses = dict(q(db, "SELECT status_id, count(*) FROM admin.v_appt GROUP BY 1"))
    assert {C.STATUS_COMPLETE, C.STATUS_CHECKED_OUT, C.STATUS_BROKEN, C.STATUS_CANCELLED} <= set(statuses)
    assert q(db, f"SELECT count(*) FROM admin.v_appt WHERE (broken = 1) <> (status_id = {C.STATUS_BROKEN})")[0][0] == 0
    assert q(db, f"SELECT count(*) FROM admin.v_appt WHERE appointment_date >= '{REF_DAY}' "
                 f"AND status_id IN ({C.STATUS_COMPLETE}, {C.STATUS_CHECKED_OUT})")[0][0] == 0
    assert q(db, "SELECT count(*) FROM admin.v_appt WHERE start_hour NOT BETWEEN 7 AND 18 "
                 "OR start_minute NOT IN (0, 10, 20, 30, 40, 50)")[0][0] == 0
    # visit dates on the patient come from finished appointments
    assert q(db, "SELECT count(*) FROM admin.v_patient p WHERE last_visit_date IS NOT NULL AND last_visit_date <> "
                 f"(SELECT max(appointment_date) FROM admin.v_appt a WHERE a.patient_id = p.patient_id "
                 f"AND status_id IN ({C.STATUS_COMPLETE}, {C.STATUS_CHECKED_OUT}))")[0][0] == 0


def test_synthetic_identifiers(db):
    ssns = [s for (s,) in q(db, "SELECT social_sec_num FROM admin.v_patient WHERE social_sec_num IS NOT NULL "
                                "UNION ALL SELECT ssn FROM admin.v_provider")]
    assert ssns and all(re.fullmatch(r"999-\d\d-\d{4}", s) for s in ssns)
    guids = [g for (g,) in q(db, "SELECT patient_guid FROM admin.v_patient")]
    assert len(set(guids)) == len(guids) and all(uuid.UUID(g) for g in guids)
    names = q(db, "SELECT file_path, file_name, file_type, patient_id, document_id FROM admin.v_document")
    assert all(name == f"{pid:08X}{did:08X}.{ext.upper()}" and path.endswith(f"\\{pid % 256:02X}\\")
               for path, name, ext, pid, did in names)


# --- money ----------------------------------------------------------------------------------------------


def test_guarantor_aging_equals_ledger_balance(db):
    rows = q(db, f"""
        SELECT g.guar_id,
               round(g.balance_0_30_days + g.balance_31_60_days + g.balance_61_90_days + g.balance_91_plus_days, 2),
               round(coalesce((SELECT sum(f.amt) FROM admin.fullproclog f
                               WHERE f.guarid = g.guar_id AND f.chartstatus <> {C.CHART_TREATMENT_PLANNED}), 0), 2),
               min(g.balance_0_30_days, g.balance_31_60_days, g.balance_61_90_days, g.balance_91_plus_days)
        FROM admin.v_guarantor_balance g""")
    assert len(rows) == q(db, "SELECT count(DISTINCT guar_id) FROM admin.v_patient")[0][0]
    assert all(abs(aged - ledger) < 0.005 and low >= 0 for _, aged, ledger, low in rows)
    assert sum(1 for _, aged, _, _ in rows if aged > 0) > 5
    assert q(db, "SELECT count(*) FROM admin.fullproclog WHERE procdate > '2024-04-27' AND chartstatus = 90")[0][0] == 0


def test_appointment_amount_is_sum_of_its_fees(db):
    total_appts = q(db, "SELECT round(sum(amount), 2) FROM admin.v_appt")[0][0]
    visit_charges = q(db, "SELECT round(sum(amt), 2) FROM admin.fullproclog "
                          "WHERE proclogclass = 0 AND chartstatus = 105 "
                          "AND procid NOT IN (SELECT procid FROM admin.v_treatment_plan)")[0][0]
    assert abs(total_appts - visit_charges) < 0.005
    assert q(db, "SELECT count(*) FROM admin.v_appt WHERE amount > 0 AND status_id NOT IN (-106, 150)")[0][0] == 0


# --- same SQL on PostgreSQL ---------------------------------------------------------------------------

SAME_SQL = [
    "SELECT patient_id, first_name, last_name, guar_id, email, status FROM admin.v_patient ORDER BY patient_id",
    "SELECT appointment_id, patient_id, start_hour, start_minute, status_id FROM admin.v_appt ORDER BY appointment_id",
    "SELECT count(*), sum(proclogclass) FROM admin.fullproclog",
]


@pytest.fixture(scope="module")
def pg_url():
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(**PG_ADMIN, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no local PostgreSQL: {exc}")
    admin.autocommit = True
    name = f"flit_test_{uuid.uuid4().hex[:12]}"
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def test_same_sql_text_works_on_sqlite_and_postgresql(pg_url, built, db):
    import psycopg2
    from sqlalchemy.engine import make_url

    counts = build_practice(pg_url, patients=PATIENTS, seed=11, dialect="postgresql")
    assert counts == built[1]
    u = make_url(pg_url)
    pg = psycopg2.connect(host=u.host, port=u.port, user=u.username, dbname=u.database)
    try:
        cur = pg.cursor()
        for sql in SAME_SQL:
            cur.execute(sql)
            assert [tuple(r) for r in cur.fetchall()] == q(db, sql), sql
        cur.execute("SELECT birth_date, modified_time_stamp FROM admin.v_patient ORDER BY patient_id LIMIT 1")
        d, ts = cur.fetchone()
        assert (str(d), str(ts)) == q(db, "SELECT birth_date, modified_time_stamp FROM admin.v_patient "
                                          "ORDER BY patient_id LIMIT 1")[0]
        cur.execute("SELECT round(sum(amt), 2) FROM admin.fullproclog")
        lite_total = q(db, "SELECT sum(amt) FROM admin.fullproclog")[0][0]
        assert float(cur.fetchone()[0]) == pytest.approx(lite_total, abs=0.01)
    finally:
        pg.close()
