"""The Dentrix Ascend API Exchange sandbox over real HTTP (uvicorn in a thread, ``requests`` as client).

The practice is built with ``dentrix_practice.build_practice`` (60 patients); expected values are
read straight from that SQLite file. Each test names the notes/sources.md §2 behaviour it checks;
behaviour the notes do not fix is the sandbox's documented UNCONFIRMED choice.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from flit_sandboxes import dentrix_practice_codes as C
from flit_sandboxes.ascend import api_base, create_app, running_sandbox, token_url
from flit_sandboxes.dentrix_practice import build_practice
from flit_pipelines_tests.http_layer.clock import ManualClock

CLIENT_ID = "ascend-test-client"
CLIENT_SECRET = "ascend-test-secret-value"
ORG = "org-4711"
PATIENTS = 60
FINISHED = (C.STATUS_COMPLETE, C.STATUS_CHECKED_OUT)


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ascend") / "practice.db"
    build_practice(path, patients=PATIENTS, seed=11)
    return path


@pytest.fixture(scope="module")
def db(practice: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(practice)
    yield conn
    conn.close()


def scalar(conn: sqlite3.Connection, sql: str, *params: object) -> object:
    return conn.execute(sql, params).fetchone()[0]


@pytest.fixture(scope="module")
def sandbox(practice: Path) -> Iterator[str]:
    with running_sandbox(practice, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, organization_id=ORG,
                         rate_per_second=10_000) as url:
        yield url


def get_token(url: str, secret: str = CLIENT_SECRET) -> requests.Response:
    return requests.post(token_url(url), params={"grant_type": "client_credentials"},
                         data={"client_id": CLIENT_ID, "client_secret": secret}, timeout=10)


def headers(url: str, org: str | None = ORG) -> dict[str, str]:
    out = {"Authorization": f"Bearer {get_token(url).json()['access_token']}"}
    if org is not None:
        out["Organization-ID"] = org
    return out


def api(url: str, path: str, hdrs: dict[str, str], **params: object) -> requests.Response:
    return requests.get(api_base(url) + path, headers=hdrs, params=params, timeout=30)


# ------------------------------------------------------------------ notes §2 "Auth"
def test_token_endpoint_issues_bearer_tokens_and_refuses_bad_clients(sandbox: str) -> None:
    good = get_token(sandbox)
    assert good.status_code == 200
    body = good.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == "3600" and body["access_token"]
    bad = get_token(sandbox, secret="wrong")
    assert bad.status_code == 401
    assert bad.json() == {"ErrorCode": "invalid_client", "Error": "Client credentials are invalid"}
    assert "wrong" not in bad.text and CLIENT_SECRET not in bad.text
    missing = requests.post(token_url(sandbox), params={"grant_type": "client_credentials"},
                            data={"client_secret": CLIENT_SECRET}, timeout=10)
    assert missing.status_code == 400 and missing.json()["ErrorCode"] == "invalid_request"
    grant = requests.post(token_url(sandbox), params={"grant_type": "password"},
                          data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, timeout=10)
    assert grant.status_code == 400 and grant.json()["ErrorCode"] == "unsupported_grant_type"
    basic = requests.post(token_url(sandbox), params={"grant_type": "client_credentials"},
                          auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)
    assert basic.status_code == 200


def test_missing_invalid_and_expired_tokens_get_apigee_401(sandbox: str) -> None:
    invalid = {"fault": {"faultstring": "Invalid access token", "detail": {"errorcode": "oauth.v2.InvalidAccessToken"}}}
    assert api(sandbox, "/v1/patients", {"Organization-ID": ORG}).status_code == 401
    wrong = api(sandbox, "/v1/patients", {"Authorization": "Bearer nope", "Organization-ID": ORG})
    assert wrong.status_code == 401 and wrong.json() == invalid
    hdrs = headers(sandbox)
    assert api(sandbox, "/v1/patients", hdrs).status_code == 200
    admin = requests.post(f"{sandbox}/__sandbox/expire-tokens", headers=headers(sandbox, None), timeout=10)
    assert admin.status_code == 200 and admin.json()["data"]["expired"] >= 2
    expired = api(sandbox, "/v1/patients", hdrs)
    assert expired.status_code == 401
    assert expired.json()["fault"]["detail"]["errorcode"] == "keymanagement.service.access_token_expired"
    assert api(sandbox, "/v1/patients", headers(sandbox)).status_code == 200  # a new token works


def test_token_lifetime_is_enforced(practice: Path) -> None:
    clock = ManualClock()  # the token ages on this clock, not by sleeping
    with running_sandbox(practice, token_ttl_seconds=0.5, clock=clock.monotonic) as url:
        tok = requests.post(token_url(url), params={"grant_type": "client_credentials"},
                            data={"client_id": "sandbox-client", "client_secret": "sandbox-secret"}, timeout=10).json()
        assert tok["expires_in"] == "0"
        hdrs = {"Authorization": f"Bearer {tok['access_token']}", "Organization-ID": "sandbox-org"}
        assert api(url, "/v1/providers", hdrs).status_code == 200
        clock.advance(0.6)
        assert api(url, "/v1/providers", hdrs).status_code == 401


def test_organization_id_header_is_required_and_checked(sandbox: str) -> None:
    missing = api(sandbox, "/v1/patients", headers(sandbox, None))
    assert missing.status_code == 400
    assert missing.json() == {"data": None, "warnings": [], "meta": {}, "errors": [
        {"code": "MISSING_ORGANIZATION_ID", "message": "The Organization-ID header is required"}]}
    other = api(sandbox, "/v1/patients", headers(sandbox, "org-other"))
    assert other.status_code == 403 and other.json()["errors"][0]["code"] == "FORBIDDEN"


# ------------------------------------------------------------------ notes §2 "Pagination and filtering"
def expected_counts(db: sqlite3.Connection) -> dict[str, int]:
    claims = scalar(db, "SELECT COUNT(*) FROM v_appt a JOIN v_patient p ON p.patient_id = a.patient_id "
                        f"WHERE p.primdentalinsuredid IS NOT NULL AND a.status_id IN {FINISHED} AND a.amount > 0")
    return {
        "/v1/patients": scalar(db, "SELECT COUNT(*) FROM v_patient"),
        "/v1/providers": scalar(db, "SELECT COUNT(*) FROM v_provider"),
        "/v1/locations": 1,
        "/v1/operatories": scalar(db, "SELECT COUNT(*) FROM v_operatory"),
        "/v1/appointments": scalar(db, "SELECT COUNT(*) FROM v_appt"),
        "/v1/agingbalances/report": scalar(db, "SELECT COUNT(*) FROM v_guarantor_balance"),
        "/v1/insurancecarriers": scalar(db, "SELECT COUNT(*) FROM v_insurance_plans"),
        "/v1/insuranceplans": scalar(db, "SELECT COUNT(*) FROM v_insurance_plans"),
        "/v1/patientinsurance": scalar(db, "SELECT COUNT(*) FROM v_patient_insurance"),
        "/v1/treatmentplans": scalar(db, "SELECT COUNT(DISTINCT plan_id) FROM v_treatment_plan"),
        "/v1/chartnotes": scalar(db, "SELECT COUNT(*) FROM v_clinical_notes"),
        "/v1/transactions": scalar(
            db, f"SELECT COUNT(*) FROM fullproclog WHERE chartstatus <> {C.CHART_TREATMENT_PLANNED}"),
        "/v1/referralsources": scalar(db, "SELECT COUNT(*) FROM v_referral"),
        "/v1/patientreferrals": scalar(db, "SELECT COUNT(*) FROM v_patient_referral"),
        "/v1/documents": scalar(db, "SELECT COUNT(*) FROM v_document"),
        "/v1/claims": claims,
    }


def rows_of(body: dict) -> list[dict]:
    data = body["data"]
    return data["patientReports"] if isinstance(data, dict) else data


def id_of(row: dict) -> object:
    return row["id"] if "id" in row else row["guarantor"]["id"]


def test_paging_totals_equal_the_practice_for_every_resource(sandbox: str, db: sqlite3.Connection) -> None:
    hdrs = headers(sandbox)
    for path, expected in expected_counts(db).items():
        assert expected > 0, path
        first = api(sandbox, path, hdrs, page=1, pageSize=500)
        assert first.status_code == 200, (path, first.text)
        body = first.json()
        assert set(body) == {"data", "warnings", "errors", "meta"} and body["errors"] == []
        assert body["meta"]["pagination"] == {"page": 1, "pageSize": 500, "totalCount": expected,
                                              "totalPages": math.ceil(expected / 500)}
        assert len(rows_of(body)) == min(expected, 500), path
        # Small pages: every row exactly once, in id order, totalPages consistent.
        size = max(1, math.ceil(expected / 4))
        seen: list[object] = []
        page = 1
        while True:
            part = api(sandbox, path, hdrs, page=page, pageSize=size).json()
            assert part["meta"]["pagination"]["totalPages"] == math.ceil(expected / size)
            seen += [id_of(r) for r in rows_of(part)]
            if page >= part["meta"]["pagination"]["totalPages"]:
                break
            page += 1
        assert len(seen) == expected and len(set(seen)) == expected and seen == sorted(seen), path
        beyond = api(sandbox, path, hdrs, page=page + 1, pageSize=size).json()
        assert rows_of(beyond) == [] and beyond["meta"]["pagination"]["totalCount"] == expected


def test_page_size_cap_and_paging_errors(sandbox: str) -> None:
    hdrs = headers(sandbox)
    assert api(sandbox, "/v1/appointments", hdrs, pageSize=500).status_code == 200
    for params in ({"pageSize": 501}, {"pageSize": 0}, {"page": 0}, {"page": "x"}):
        resp = api(sandbox, "/v1/appointments", hdrs, **params)
        assert resp.status_code == 400, params
        assert resp.json()["errors"][0]["code"] == "INVALID_PAGING"
    default = api(sandbox, "/v1/appointments", hdrs).json()["meta"]["pagination"]
    assert default["page"] == 1 and default["pageSize"] == 100


def test_last_modified_filter_for_delta_pickup(sandbox: str, db: sqlite3.Connection) -> None:
    hdrs = headers(sandbox)
    cutoff = "2024-01-01 00:00:00"
    for path, table, column in (("/v1/patients", "v_patient", "modified_time_stamp"),
                                ("/v1/appointments", "v_appt", "modified_time_stamp"),
                                ("/v1/documents", "v_document", "modified_time_stamp")):
        expected = scalar(db, f"SELECT COUNT(*) FROM {table} WHERE {column} >= ?", cutoff)
        body = api(sandbox, path, hdrs, pageSize=500, filter="lastModified>=2024-01-01T00:00:00Z").json()
        assert 0 < body["meta"]["pagination"]["totalCount"] == expected < expected_counts(db)[path]
        assert all(r["lastModified"] >= "2024-01-01T00:00:00Z" for r in rows_of(body))
    # an offset is converted to UTC before comparing
    shifted = api(sandbox, "/v1/patients", hdrs, filter="lastModified>=2024-01-01T02:00:00+02:00").json()
    plain = api(sandbox, "/v1/patients", hdrs, filter="lastModified>=2024-01-01T00:00:00Z").json()
    assert shifted["meta"]["pagination"]["totalCount"] == plain["meta"]["pagination"]["totalCount"]
    bad = api(sandbox, "/v1/patients", hdrs, filter="lastModified>=yesterday")
    assert bad.status_code == 400 and "yesterday" not in bad.text


def test_id_list_reference_and_combined_filters(sandbox: str, db: sqlite3.Connection) -> None:
    hdrs = headers(sandbox)
    body = api(sandbox, "/v1/patients", hdrs, filter="id->[3,1,7]").json()
    assert [r["id"] for r in body["data"]] == [1, 3, 7]
    pid = scalar(db, "SELECT patient_id FROM v_appt GROUP BY patient_id ORDER BY COUNT(*) DESC LIMIT 1")
    expected = scalar(db, "SELECT COUNT(*) FROM v_appt WHERE patient_id = ? AND appointment_date >= '2023-01-01'", pid)
    appts = api(sandbox, "/v1/appointments", hdrs, pageSize=500,
                filter=f"patient.id=={pid},start>=2023-01-01T00:00:00").json()
    assert appts["meta"]["pagination"]["totalCount"] == expected
    assert {r["patient"]["id"] for r in appts["data"]} == {pid}
    report = api(sandbox, "/v1/agingbalances/report", hdrs, filter="location.id==1,page==2", pageSize=5).json()
    assert report["meta"]["pagination"]["page"] == 2 and len(report["data"]["patientReports"]) == 5
    other_location = api(sandbox, "/v1/agingbalances/report", hdrs, filter="location.id==2").json()
    assert other_location["data"]["patientReports"] == []
    unknown = api(sandbox, "/v1/patients", hdrs, filter="ssn==999-12-3456")
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["code"] == "INVALID_FILTER"
    assert "ssn" in unknown.text and "999-12-3456" not in unknown.text


# ------------------------------------------------------------------ resource shapes vs the practice
def test_patient_and_appointment_fields_match_the_practice(sandbox: str, db: sqlite3.Connection) -> None:
    hdrs = headers(sandbox)
    db.row_factory = sqlite3.Row
    try:
        p = db.execute("SELECT * FROM v_patient WHERE primdentalinsuredid IS NOT NULL ORDER BY patient_id "
                       "LIMIT 1").fetchone()
        got = api(sandbox, f"/v1/patients/{p['patient_id']}", hdrs).json()["data"]
        assert (got["firstName"], got["lastName"], got["birthDate"]) == \
            (p["first_name"], p["last_name"], p["birth_date"])
        assert got["guarantor"] == {"id": p["guar_id"], "type": "PatientV1",
                                    "url": f"{api_base(sandbox)}/v1/patients/{p['guar_id']}"}
        assert got["primaryProvider"]["id"] == p["pri_provider_id"]
        assert got["address"]["postalCode"] == p["zipcode"] and got["emailAddress"] == p["email"]
        assert got["status"] == {1: "ACTIVE", 3: "INACTIVE"}[p["status"]]
        assert got["lastModified"] == p["modified_time_stamp"].replace(" ", "T") + "Z"
        for status in (C.STATUS_BROKEN, C.STATUS_CANCELLED):
            a = db.execute("SELECT * FROM v_appt WHERE status_id = ? LIMIT 1", (status,)).fetchone()
            got = api(sandbox, f"/v1/appointments/{a['appointment_id']}", hdrs).json()["data"]
            assert got["statusCode"] == status and got["status"] in ("NO_SHOW", "CANCELLED")
            assert got["start"] == f"{a['appointment_date']}T{a['start_hour']:02d}:{a['start_minute']:02d}:00"
            assert got["duration"] == a["length"] and got["operatory"]["id"] == a["operatory_id"]
            assert got["bookingType"] in ("RECARE", "TREATMENT") and got["broken"] is (status == C.STATUS_BROKEN)
    finally:
        db.row_factory = None
    missing = api(sandbox, "/v1/patients/999999", hdrs)
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "NOT_FOUND"
    assert api(sandbox, "/v1/nothing-here", hdrs).status_code == 404


def test_treatment_plans_nest_their_items(sandbox: str, db: sqlite3.Connection) -> None:
    hdrs = headers(sandbox)
    plans = api(sandbox, "/v1/treatmentplans", hdrs, pageSize=500).json()["data"]
    items = [i for p in plans for i in p["items"]]
    assert len(items) == scalar(db, "SELECT COUNT(*) FROM v_treatment_plan")
    row = db.execute("SELECT plan_item_id, adacode, tooth, surfaces, fee, status FROM v_treatment_plan "
                     "WHERE surfaces IS NOT NULL LIMIT 1").fetchone()
    item = next(i for i in items if i["id"] == row[0])
    assert (item["procedureCode"], item["tooth"], item["surfaces"], item["fee"], item["status"]) == \
        (row[1], row[2], row[3], row[4], row[5].upper())
    for plan in plans:
        statuses = {i["status"] for i in plan["items"]}
        expected = "COMPLETED" if statuses == {"COMPLETED"} else "ACCEPTED" if statuses & {"ACCEPTED", "COMPLETED"} \
            else "PROPOSED"
        assert plan["status"] == expected
        assert plan["totalFee"] == pytest.approx(sum(i["fee"] for i in plan["items"]))


def test_claims_derivation(sandbox: str, db: sqlite3.Connection) -> None:
    hdrs = headers(sandbox)
    claims = api(sandbox, "/v1/claims", hdrs, pageSize=500).json()["data"]
    amounts = dict(db.execute(f"SELECT appointment_id, amount FROM v_appt WHERE status_id IN {FINISHED}").fetchall())
    ins_paid = -scalar(db, f"SELECT SUM(amt) FROM fullproclog WHERE proclogclass = {C.CLASS_INSURANCE_PAYMENT}")
    for claim in claims:
        assert claim["billedAmount"] == pytest.approx(amounts[claim["id"]])
        assert 0 <= claim["paidAmount"] <= claim["billedAmount"] + 1e-9
        assert claim["status"] == ("PAID" if claim["paidAmount"] > 0 else "SUBMITTED")
        assert claim["appointment"]["id"] == claim["id"]
    assert sum(c["paidAmount"] for c in claims) <= ins_paid + 0.01
    assert any(c["status"] == "PAID" for c in claims)


def test_aging_balances_per_patient_need_patient_id(sandbox: str, db: sqlite3.Connection) -> None:
    hdrs = headers(sandbox)
    assert api(sandbox, "/v1/agingbalances", hdrs).status_code == 400
    pid, guar = db.execute("SELECT patient_id, guar_id FROM v_patient WHERE patient_id <> guar_id LIMIT 1").fetchone()
    row = db.execute("SELECT balance_0_30_days, balance_31_60_days, balance_61_90_days, balance_91_plus_days "
                     "FROM v_guarantor_balance WHERE guar_id = ?", (guar,)).fetchone()
    got = api(sandbox, "/v1/agingbalances", hdrs, patientId=pid).json()["data"]
    assert got["patient"]["id"] == pid and got["guarantor"]["id"] == guar
    assert [got["balance0To30Days"], got["balance31To60Days"], got["balance61To90Days"],
            got["balanceOver90Days"]] == pytest.approx(list(row))
    assert got["totalBalance"] == pytest.approx(sum(row))
    assert api(sandbox, "/v1/agingbalances", hdrs, patientId=999999).status_code == 404


def test_document_metadata_and_download(sandbox: str, db: sqlite3.Connection) -> None:
    hdrs = headers(sandbox)
    doc_id, name, ftype, size = db.execute(
        "SELECT document_id, file_name, file_type, file_size FROM v_document WHERE file_type = 'pdf' "
        "LIMIT 1").fetchone()
    meta = api(sandbox, f"/v1/documents/{doc_id}", hdrs).json()["data"]
    assert (meta["fileName"], meta["fileType"], meta["fileSize"], meta["mimeType"]) == (name, ftype, size,
                                                                                          "application/pdf")
    content = requests.get(meta["downloadUrl"], headers=hdrs, timeout=30)
    assert content.status_code == 200 and content.headers["content-type"] == "application/pdf"
    assert len(content.content) == size and content.content.startswith(b"%PDF")
    assert name in content.headers["content-disposition"]
    again = requests.get(meta["downloadUrl"], headers=hdrs, timeout=30)
    assert again.content == content.content  # deterministic
    assert requests.get(meta["downloadUrl"], timeout=30).status_code == 401
    assert api(sandbox, "/v1/documents/999999/content", hdrs).status_code == 404


# ------------------------------------------------------------------ limits, faults, stats, logs
def test_rate_limit_answers_429_with_retry_after(practice: Path) -> None:
    clock = ManualClock()  # the window passes on this clock, not by sleeping
    with running_sandbox(practice, rate_per_second=3, clock=clock.monotonic) as url:
        tok = requests.post(token_url(url), params={"grant_type": "client_credentials"},
                            data={"client_id": "sandbox-client", "client_secret": "sandbox-secret"}, timeout=10)
        hdrs = {"Authorization": f"Bearer {tok.json()['access_token']}", "Organization-ID": "sandbox-org"}
        responses = [api(url, "/v1/providers", hdrs) for _ in range(6)]
        limited = [r for r in responses if r.status_code == 429]
        assert limited and sum(r.status_code == 200 for r in responses) == 3
        assert int(limited[0].headers["Retry-After"]) >= 1
        assert limited[0].json()["fault"]["detail"]["errorcode"] == "policies.ratelimit.SpikeArrestViolation"
        clock.advance(int(limited[0].headers["Retry-After"]))
        assert api(url, "/v1/providers", hdrs).status_code == 200
        stats = requests.get(f"{url}/__sandbox/stats", headers=hdrs, timeout=10).json()["data"]
        assert stats["rate_limited_429"] == len(limited)


def test_daily_quota(practice: Path) -> None:
    with running_sandbox(practice, daily_limit=2) as url:
        tok = requests.post(token_url(url), params={"grant_type": "client_credentials"},
                            data={"client_id": "sandbox-client", "client_secret": "sandbox-secret"}, timeout=10)
        hdrs = {"Authorization": f"Bearer {tok.json()['access_token']}", "Organization-ID": "sandbox-org"}
        codes = [api(url, "/v1/providers", hdrs).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        body = api(url, "/v1/providers", hdrs).json()
        assert body["fault"]["detail"]["errorcode"] == "policies.ratelimit.QuotaViolation"


def test_faults_and_stats(sandbox: str) -> None:
    hdrs = headers(sandbox)
    admin = headers(sandbox, None)
    rule = requests.post(f"{sandbox}/__sandbox/faults", headers=admin, timeout=10,
                         json={"status": 503, "count": 1, "path_prefix": "/v1/providers"})
    assert rule.status_code == 200
    requests.post(f"{sandbox}/__sandbox/faults", headers=admin, timeout=10,
                  json={"status": 429, "count": 1, "path_prefix": "/v1/operatories"})
    before = requests.get(f"{sandbox}/__sandbox/stats", headers=admin, timeout=10).json()["data"]
    assert api(sandbox, "/v1/patients", hdrs).status_code == 200  # other paths untouched
    failed = api(sandbox, "/v1/providers", hdrs)
    assert failed.status_code == 503 and "fault" in failed.json()
    limited = api(sandbox, "/v1/operatories", hdrs)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert api(sandbox, "/v1/providers", hdrs).status_code == 200
    after = requests.get(f"{sandbox}/__sandbox/stats", headers=admin, timeout=10).json()["data"]
    assert after["faults_injected"] - before["faults_injected"] == 2
    assert after["resources"]["/v1/patients"] == PATIENTS
    assert requests.get(f"{sandbox}/__sandbox/stats", timeout=10).status_code == 401
    token_fault = requests.post(f"{sandbox}/__sandbox/faults", headers=admin, timeout=10,
                                json={"status": 500, "count": 1, "path_prefix": "/oauth/"})
    assert token_fault.status_code == 200
    assert get_token(sandbox).status_code == 500
    assert get_token(sandbox).status_code == 200


def test_request_log_has_no_token_secret_or_query(sandbox: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flit_sandboxes.ascend")
    hdrs = headers(sandbox)
    token = hdrs["Authorization"].split()[1]
    api(sandbox, "/v1/appointments", hdrs, filter="patient.id==17")
    api(sandbox, "/v1/patients/3", hdrs)
    time.sleep(0.2)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "flit_sandboxes.ascend")
    assert "GET /ascend-gateway/api/v1/appointments 200" in text
    assert "/v1/patients/{id:int} 200" in text
    assert token not in text and CLIENT_SECRET not in text and "patient.id" not in text


def test_bad_practice_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        create_app(tmp_path / "absent.db", client_id="a", client_secret="b", organization_id="c")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(ValueError, match="not a demo practice database"):
        create_app(other, client_id="a", client_secret="b", organization_id="c")


def test_large_practice_pages_fast(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    build_practice(path, patients=2000, seed=5)
    with running_sandbox(path, rate_per_second=10_000) as url:
        hdrs = {"Authorization": "Bearer " + requests.post(
            token_url(url), params={"grant_type": "client_credentials"},
            data={"client_id": "sandbox-client", "client_secret": "sandbox-secret"}, timeout=10).json()["access_token"],
            "Organization-ID": "sandbox-org"}
        started = time.perf_counter()
        total, page, rows = None, 1, 0
        while True:
            body = api(url, "/v1/transactions", hdrs, page=page, pageSize=500).json()
            total = body["meta"]["pagination"]["totalPages"]
            rows += len(body["data"])
            if page >= total:
                break
            page += 1
        elapsed = time.perf_counter() - started
        assert rows == body["meta"]["pagination"]["totalCount"] > 40_000
        assert elapsed < 30, f"{rows} transactions took {elapsed:.1f} s"
