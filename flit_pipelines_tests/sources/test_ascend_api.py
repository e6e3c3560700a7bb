"""``AscendApiSource`` against the Ascend sandbox over real HTTP (notes/sources.md §2).

The sandbox serves a 60-patient demo practice built into ``tmp_path``; expected values come straight
from that SQLite file, the spec objects from ``flit_sandboxes/ascend/SPEC_OBJECTS.yaml`` (the block the
Henry Schein One -> HighLevel spec uses).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
import requests

import flit_sandboxes
from flit_sandboxes import dentrix_practice_codes as C
from flit_sandboxes.ascend import api_base, running_sandbox, token_url
from flit_sandboxes.dentrix_practice import build_practice
from flit_pipelines.sources.ascend_api import AscendApiError, AscendApiSource, AscendAuthError, _records
from flit_pipelines.sources.csv_export import MissingColumnError, MissingFileError
from flit_pipelines.http.session import retry_after_seconds
from flit_pipelines.http.stats import Counters
from flit_pipelines.sources.json_api import ColumnPlan, drop_seen_keys, header_report, text_batch, to_text
from flit_pipelines.sources.validate import split_chunk
from flit_pipelines.spec.model import ColumnSpec, SourceObject
from flit_pipelines_tests.sources.helpers import load_spec_objects, sandbox_fixtures, text_frame

SPEC_OBJECTS = Path(flit_sandboxes.__file__).parent / "ascend" / "SPEC_OBJECTS.yaml"
CLIENT_ID = "reader-client"
CLIENT_SECRET = "reader-secret-never-logged"
ORG = "org-1234"
FINISHED = (C.STATUS_COMPLETE, C.STATUS_CHECKED_OUT)


state, db, sandbox = sandbox_fixtures(
    partial(build_practice, patients=60, seed=23),
    partial(running_sandbox, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, organization_id=ORG,
            rate_per_second=10_000),
    directory="ascend_reader", filename="practice.db")


@pytest.fixture(scope="module")
def objects() -> dict[str, SourceObject]:
    return load_spec_objects(SPEC_OBJECTS)


def make_source(url: str, **kwargs) -> AscendApiSource:
    options = {"requests_per_second": 200.0, **kwargs}
    secret = options.pop("client_secret", CLIENT_SECRET)
    org = options.pop("organization_id", ORG)
    return AscendApiSource(api_base(url), token_url(url), CLIENT_ID, secret, org, **options)


@pytest.fixture
def source(sandbox: str) -> Iterator[AscendApiSource]:
    src = make_source(sandbox)
    yield src
    src.close()


def read_all(src: AscendApiSource, obj: SourceObject, since: datetime | None = None) -> pd.DataFrame:
    return text_frame(list(src.read(obj, since)), obj)


def admin(url: str, method: str, path: str, **kwargs) -> requests.Response:
    tok = requests.post(token_url(url), params={"grant_type": "client_credentials"},
                        data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, timeout=10).json()
    return requests.request(method, f"{url}/__sandbox/{path}", timeout=10,
                            headers={"Authorization": f"Bearer {tok['access_token']}"}, **kwargs)


def q(conn: sqlite3.Connection, sql: str, *params: object) -> list[tuple]:
    return conn.execute(sql, params).fetchall()


EXPECTED_SQL = {
    "patients": "SELECT COUNT(*) FROM v_patient",
    "providers": "SELECT COUNT(*) FROM v_provider",
    "locations": "SELECT 1",
    "operatories": "SELECT COUNT(*) FROM v_operatory",
    "appointments": "SELECT COUNT(*) FROM v_appt",
    "treatment_plan_items": "SELECT COUNT(*) FROM v_treatment_plan",
    "insurance_carriers": "SELECT COUNT(*) FROM v_insurance_plans",
    "insurance_plans": "SELECT COUNT(*) FROM v_insurance_plans",
    "patient_insurance": "SELECT COUNT(*) FROM v_patient_insurance",
    "ledger_transactions": f"SELECT COUNT(*) FROM fullproclog WHERE chartstatus <> {C.CHART_TREATMENT_PLANNED}",
    "guarantor_balances": "SELECT COUNT(*) FROM v_guarantor_balance",
    "clinical_notes": "SELECT COUNT(*) FROM v_clinical_notes",
    "referrers": "SELECT COUNT(*) FROM v_referral",
    "patient_referrals": "SELECT COUNT(*) FROM v_patient_referral",
    "documents": "SELECT COUNT(*) FROM v_document",
    "claims": "SELECT COUNT(*) FROM v_appt a JOIN v_patient p ON p.patient_id = a.patient_id "
              f"WHERE p.primdentalinsuredid IS NOT NULL AND a.status_id IN {FINISHED} AND a.amount > 0",
}


# ------------------------------------------------------------------ every spec object, whole
def test_spec_objects_cover_the_ten_seed_objects(objects: dict[str, SourceObject]) -> None:
    assert set(objects) == set(EXPECTED_SQL)
    for name, obj in objects.items():
        assert obj.endpoint and obj.endpoint.startswith("/v1/"), name
        assert obj.primary_key and obj.modified_at, name
        for col in obj.columns.values():
            assert col.source, f"{name}: every column names its JSON path"
    patient_keyed = {n for n, o in objects.items() if o.wave_key}
    assert patient_keyed == {"patients", "appointments", "treatment_plan_items", "patient_insurance",
                             "ledger_transactions", "guarantor_balances", "clinical_notes", "patient_referrals",
                             "documents", "claims"}


def test_every_object_reads_completely_and_validates(source: AscendApiSource, objects: dict[str, SourceObject],
                                                     db: sqlite3.Connection) -> None:
    for name, obj in objects.items():
        report = source.header(obj)
        assert report.present and report.file == obj.endpoint.split("?")[0]
        frame = read_all(source, obj)
        expected = q(db, EXPECTED_SQL[name])[0][0]
        assert len(frame) == expected > 0, name
        assert frame[obj.primary_key].is_unique, name
        result = split_chunk(obj, name, frame.astype("string"), first_row=1)
        assert len(result.quarantine) == 0, (name, result.quarantine.head().to_dict("records"))


# ------------------------------------------------------------------ values equal the practice
def test_text_values_equal_the_practice(source: AscendApiSource, objects: dict[str, SourceObject],
                                        db: sqlite3.Connection) -> None:
    patients = read_all(source, objects["patients"]).set_index("patient_id")
    for row in q(db, "SELECT patient_id, first_name, last_name, birth_date, email, guar_id, zipcode, "
                     "pri_provider_id, sec_provider_id, modified_time_stamp FROM v_patient"):
        got = patients.loc[str(row[0])]
        assert got["first_name"] == row[1] and got["last_name"] == row[2] and got["birth_date"] == row[3]
        assert (got["email"] if pd.notna(got["email"]) else None) == row[4]
        assert got["guar_id"] == str(row[5]) and got["zipcode"] == row[6] and got["pri_provider_id"] == str(row[7])
        assert (None if pd.isna(got["sec_provider_id"]) else int(got["sec_provider_id"])) == row[8]
        assert got["modified_time_stamp"] == row[9]  # datetime column: UTC "YYYY-MM-DD HH:MM:SS"

    appts = read_all(source, objects["appointments"]).set_index("appointment_id")
    for appt_id, date, hour, minute, status, provider, amount in q(
            db, "SELECT appointment_id, appointment_date, start_hour, start_minute, status_id, provider_id, amount "
                "FROM v_appt ORDER BY appointment_id LIMIT 80"):
        got = appts.loc[str(appt_id)]
        assert got["start"] == f"{date}T{hour:02d}:{minute:02d}:00"
        assert (got["status_id"], got["provider_id"]) == (str(status), str(provider))
        assert float(got["amount"]) == pytest.approx(amount)
    no_show = appts[appts["status_id"] == str(C.STATUS_BROKEN)]
    assert len(no_show) and set(no_show["status_name"]) == {"NO_SHOW"} and set(no_show["is_broken"]) == {"true"}

    ledger = read_all(source, objects["ledger_transactions"]).set_index("procid")
    for procid, patid, amt, cls, code in q(db, "SELECT f.procid, f.patid, f.amt, f.proclogclass, pc.adacode "
                                              "FROM fullproclog f LEFT JOIN proccode pc USING (proccodeid) "
                                              f"WHERE f.chartstatus <> {C.CHART_TREATMENT_PLANNED}"):
        got = ledger.loc[str(procid)]
        assert got["patid"] == str(patid) and float(got["amt"]) == pytest.approx(amt)
        assert got["transaction_type"] == {0: "CHARGE", 1: "PATIENT_PAYMENT", 2: "INSURANCE_PAYMENT",
                                           3: "ADJUSTMENT"}[cls]
        assert (got["adacode"] if pd.notna(got["adacode"]) else None) == code
    assert "e" not in "".join(ledger["amt"])  # plain decimal notation

    items = read_all(source, objects["treatment_plan_items"]).set_index("plan_item_id")
    for item_id, plan_id, patient_id, code, tooth, surfaces, fee, status in q(
            db, "SELECT plan_item_id, plan_id, patient_id, adacode, tooth, surfaces, fee, status "
                "FROM v_treatment_plan"):
        got = items.loc[str(item_id)]
        assert (got["plan_id"], got["patient_id"], got["adacode"]) == (str(plan_id), str(patient_id), code)
        assert (None if pd.isna(got["tooth"]) else int(got["tooth"])) == tooth
        assert (None if pd.isna(got["surfaces"]) else got["surfaces"]) == surfaces
        assert float(got["fee"]) == pytest.approx(fee) and got["item_status"] == status.upper()

    coverage = read_all(source, objects["patient_insurance"]).set_index("patient_id")
    for patient_id, member, plan in q(db, "SELECT pi.patient_id, i.id_num, i.ins_plan_id FROM v_patient_insurance pi "
                                          "JOIN v_insured i ON i.insured_id = pi.primary_insured_id"):
        assert coverage.loc[str(patient_id), "primary_member_id"] == member
        assert coverage.loc[str(patient_id), "primary_insurance_carrier_id"] == str(plan)

    docs = read_all(source, objects["documents"]).set_index("document_id")
    for doc_id, name, size in q(db, "SELECT document_id, file_name, file_size FROM v_document"):
        assert docs.loc[str(doc_id), "file_name"] == name and docs.loc[str(doc_id), "file_size"] == str(size)

    balances = read_all(source, objects["guarantor_balances"]).set_index("guar_id")
    for guar, over90 in q(db, "SELECT guar_id, balance_91_plus_days FROM v_guarantor_balance"):
        assert float(balances.loc[str(guar), "balance_91_plus_days"]) == pytest.approx(over90)


def test_document_download(source: AscendApiSource, objects: dict[str, SourceObject],
                           db: sqlite3.Connection) -> None:
    docs = read_all(source, objects["documents"])
    first = docs.iloc[0]
    data = source.download(first["download_url"])
    assert len(data) == int(first["file_size"])
    assert source.download(f"/v1/documents/{first['document_id']}/content") == data
    with pytest.raises(AscendApiError) as err:
        source.download("/v1/documents/999999/content")
    assert err.value.status == 404


# ------------------------------------------------------------------ delta pickup
def test_since_reads_rows_modified_at_or_after_it(source: AscendApiSource, objects: dict[str, SourceObject],
                                                  db: sqlite3.Connection) -> None:
    since = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for name, table, key, column in (("patients", "v_patient", "patient_id", "modified_time_stamp"),
                                     ("ledger_transactions", "fullproclog", "procid", "automodifiedtimestamp"),
                                     ("clinical_notes", "v_clinical_notes", "note_id", "modified_time_stamp")):
        obj = objects[name]
        where = f" AND chartstatus <> {C.CHART_TREATMENT_PLANNED}" if table == "fullproclog" else ""
        expected = {str(r[0]) for r in q(db, f"SELECT {key} FROM {table} "
                                             f"WHERE {column} >= '2024-01-01 00:00:00'{where}")}
        frame = read_all(source, obj, since)
        assert 0 < len(frame) < len(read_all(source, obj))
        assert set(frame[obj.primary_key]) == expected, name
        assert (frame[obj.modified_at] >= "2024-01-01 00:00:00").all()
    # naive = UTC; an aware value in another zone means the same instant
    local = datetime(2024, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert len(read_all(source, objects["patients"], local)) == len(read_all(source, objects["patients"],
                                                                             datetime(2024, 1, 1)))
    # plan items filter on the plan's lastModified: whole plans come back
    items = read_all(source, objects["treatment_plan_items"], since)
    plans = set(items["plan_id"])
    assert len(items) == q(db, "SELECT COUNT(*) FROM v_treatment_plan WHERE plan_id IN "
                               "(SELECT plan_id FROM v_treatment_plan GROUP BY plan_id "
                               "HAVING MAX(modified_time_stamp) >= '2024-01-01 00:00:00')")[0][0]
    assert plans


# ------------------------------------------------------------------ auth
def test_bad_secret_fails_with_auth_error_naming_no_secret(sandbox: str, objects: dict[str, SourceObject],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="flit_pipelines.sources.ascend_api")
    with make_source(sandbox, client_secret="not-the-secret") as src:
        with pytest.raises(AscendAuthError) as err:
            src.header(objects["patients"])
    assert err.value.status == 401 and "not-the-secret" not in str(err.value)
    assert "not-the-secret" not in caplog.text and repr(src).find("secret") == -1


def test_expired_token_is_refreshed_once_mid_read(sandbox: str, objects: dict[str, SourceObject],
                                                  db: sqlite3.Connection) -> None:
    obj = objects["appointments"]
    with make_source(sandbox, page_size=50) as src:
        batches = src.read(obj)
        first = next(batches)
        assert admin(sandbox, "POST", "expire-tokens").status_code == 200
        rest = list(batches)
        ids = [v for b in [first, *rest] for v in b.column("appointment_id").to_pylist()]
        assert len(ids) == len(set(ids)) == q(db, "SELECT COUNT(*) FROM v_appt")[0][0]
        assert src.stats["token_fetches"] == 2 and src.stats["token_refreshes_on_401"] == 1


def test_organization_id_is_sent_and_a_refusal_is_not_retried(sandbox: str, objects: dict[str, SourceObject]) -> None:
    with make_source(sandbox, organization_id="org-not-enabled") as src:
        with pytest.raises(AscendApiError) as err:
            list(src.read(objects["providers"]))
        assert err.value.status == 403 and str(err.value) == "GET /v1/providers: HTTP 403"
        assert src.stats["requests"] == 1 and src.stats["retries"] == 0


# ------------------------------------------------------------------ limits and faults
def test_429_with_retry_after_still_reads_every_row_once(sandbox: str, objects: dict[str, SourceObject],
                                                         db: sqlite3.Connection) -> None:
    rule = admin(sandbox, "POST", "faults", json={"status": 429, "count": 2, "after": 1,
                                                  "path_prefix": "/v1/chartnotes"})
    assert rule.status_code == 200
    with make_source(sandbox, page_size=40) as src:
        frame = read_all(src, objects["clinical_notes"])
        assert src.stats["responses_429"] == 2 and src.stats["retries"] == 2
    expected = {str(r[0]) for r in q(db, "SELECT note_id FROM v_clinical_notes")}
    assert len(frame) == len(expected) and set(frame["note_id"]) == expected


def test_real_rate_limit_is_waited_out(state: Path, objects: dict[str, SourceObject],
                                       db: sqlite3.Connection) -> None:
    with running_sandbox(state, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, organization_id=ORG,
                         rate_per_second=4) as url:
        with make_source(url, page_size=6, requests_per_second=50.0) as src:
            frame = read_all(src, objects["patients"])
            assert src.stats["responses_429"] > 0
        assert sorted(frame["patient_id"].astype(int)) == [r[0] for r in q(db, "SELECT patient_id FROM v_patient "
                                                                             "ORDER BY 1")]
    # the client-side limiter alone keeps a polite reader under the server's limit
    with running_sandbox(state, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, organization_id=ORG,
                         rate_per_second=4) as url:
        with make_source(url, page_size=10, requests_per_second=3.0) as src:
            assert len(read_all(src, objects["patients"])) == 60
            assert src.stats["responses_429"] == 0


def test_5xx_and_dropped_connections_are_retried(sandbox: str, objects: dict[str, SourceObject]) -> None:
    admin(sandbox, "POST", "faults", json={"status": 503, "count": 1, "path_prefix": "/v1/operatories"})
    admin(sandbox, "POST", "faults", json={"drop_connection": True, "count": 1, "path_prefix": "/v1/operatories"})
    with make_source(sandbox, backoff_initial=0.05, backoff_max=0.2) as src:
        frame = read_all(src, objects["operatories"])
        assert len(frame) == 3 and src.stats["responses_5xx"] == 1 and src.stats["retries"] == 2
    admin(sandbox, "POST", "faults", json={"status": 500, "count": 5, "path_prefix": "/v1/locations"})
    with make_source(sandbox, max_attempts=3, backoff_initial=0.01, backoff_max=0.02) as src:
        with pytest.raises(AscendApiError) as err:
            list(src.read(objects["locations"]))
        assert err.value.status == 500 and src.stats["requests"] == 3
    admin(sandbox, "DELETE", "faults")


def test_token_endpoint_errors_are_retried(sandbox: str, objects: dict[str, SourceObject]) -> None:
    admin(sandbox, "POST", "faults", json={"status": 503, "count": 1, "path_prefix": "/oauth/"})
    with make_source(sandbox, backoff_initial=0.01, backoff_max=0.02) as src:
        assert len(read_all(src, objects["providers"])) == 3
        assert src.stats["token_fetches"] == 2


# ------------------------------------------------------------------ header checks
def test_header_reports_missing_paths_and_endpoints(source: AscendApiSource, objects: dict[str, SourceObject]) -> None:
    base = objects["providers"]
    report = source.header(base.model_copy(update={"columns": {
        **base.columns, "license": ColumnSpec(required=False, source="licenseNumber")}}))
    assert report.missing_optional == ["license"] and "location" in report.extra
    assert report.rename["emailAddress"] == "email"
    assert report.rename["shortName"] == "provider_code"
    broken = base.model_copy(update={"columns": {**base.columns, "npi": base.columns["npi"].model_copy(
        update={"source": "nationalProviderId", "required": True})}})
    with pytest.raises(MissingColumnError, match=r"/v1/providers: required field 'nationalProviderId' is missing"):
        source.header(broken)
    absent = SourceObject(endpoint="/v1/inventory", primary_key="ID", columns={"ID": {"source": "id"}})
    with pytest.raises(MissingFileError, match="/v1/inventory"):
        source.header(absent)
    with pytest.raises(MissingFileError):
        list(source.read(absent))
    optional = absent.model_copy(update={"optional": True})
    assert source.header(optional).present is False and list(source.read(optional)) == []
    two_lists = SourceObject(endpoint="/v1/treatmentplans", columns={"A": {"source": "items[].id"},
                                                                     "B": {"source": "other[].id"}})
    with pytest.raises(ValueError, match="different lists"):
        source.header(two_lists)


def test_fixed_endpoint_query_is_kept_and_merged(source: AscendApiSource, objects: dict[str, SourceObject],
                                                 db: sqlite3.Connection) -> None:
    report = "/v1/agingbalances/report?filter=location.id==1"
    obj = objects["guarantor_balances"].model_copy(update={"endpoint": report})
    since = datetime(2024, 1, 1)
    expected = q(db, "SELECT COUNT(*) FROM v_guarantor_balance "
                     "WHERE modified_time_stamp >= '2024-01-01 00:00:00'")[0][0]
    assert len(read_all(source, obj, since)) == expected
    elsewhere = obj.model_copy(update={"endpoint": "/v1/agingbalances/report?filter=location.id==2"})
    assert len(read_all(source, elsewhere)) == 0


# ------------------------------------------------------------------ pure helpers
def test_text_forms_and_body_shapes() -> None:
    assert to_text(True, "bool") == "true" and to_text(12, "int") == "12" and to_text(1e-7, "float") == "0.0000001"
    assert to_text(181.0, "money") == "181.0" and to_text(None, "string") is None
    assert to_text("2024-04-01T10:00:00Z", "datetime") == "2024-04-01 10:00:00"
    assert to_text("2024-04-01T12:00:00+02:00", "datetime") == "2024-04-01 10:00:00"
    assert to_text("2024-04-01T12:00:00", "datetime") == "2024-04-01T12:00:00"
    assert to_text({"id": 1}, "string") == '{"id":1}'
    assert _records({"data": [{"id": 1}]}, "/x") == [{"id": 1}]
    assert _records({"data": {"patientReports": [{"id": 2}]}}, "/x") == [{"id": 2}]
    assert _records({"data": None, "errors": []}, "/x") == []
    with pytest.raises(AscendApiError):
        _records({"rows": []}, "/x")
    with pytest.raises(ValueError):
        AscendApiSource("", "t", "a", "b", "c")
    assert AscendApiSource.format_since(datetime(2024, 1, 2, 3, 4, 5, 999)) == "2024-01-02T03:04:05Z"


def test_shared_json_api_plan_header_and_retry_helpers() -> None:
    obj = SourceObject.model_validate({"endpoint": "/v1/plans", "primary_key": "line", "columns": {
        "plan": {"source": "id", "required": True}, "line": {"source": "items[].id"},
        "code": {"source": "items[].code.value"}}})
    plan = ColumnPlan(obj, "/v1/plans")
    rows = [{"id": 1, "items": [{"id": "a", "code": {"value": 2.5}}, {"id": "b"}]}, {"id": 2, "items": None}]
    assert plan.rows(rows) == {"plan": ["1", "1"], "line": ["a", "b"], "code": ["2.5", None]}
    report = header_report(obj, plan, "/v1/plans", rows)
    assert report.rename == {"id": "plan", "items[].id": "line", "items[].code.value": "code"} and not report.extra
    with pytest.raises(MissingColumnError, match="'id'"):
        header_report(obj, plan, "/v1/plans", [{"items": []}])
    seen: set[str] = set()
    batch = text_batch(plan.rows(rows), plan.names)
    assert drop_seen_keys(batch, "line", seen).num_rows == 2 and drop_seen_keys(batch, "line", seen) is None
    assert retry_after_seconds("7") == 7.0 and retry_after_seconds("soon") is None
    stats = Counters("retries")
    stats.add("retries")
    assert stats == {"retries": 1}
