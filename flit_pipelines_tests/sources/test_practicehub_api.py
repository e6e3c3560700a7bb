"""``PracticeHubSource`` against the PracticeHub sandbox over real HTTP (notes/sources.md §3).

The sandbox serves a 40-patient demo practice seeded into ``tmp_path``; expected values come
straight from that SQLite file, the spec objects from ``flit_sandboxes/practicehub/SPEC_OBJECTS.yaml``
(the block the PracticeHub -> Salesforce spec uses). Resumable extraction is proven with the
sandbox's ``pages_served`` counter: every page URL of an extraction is served exactly once, even
when the extraction is stopped midway and resumed by a new reader.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
import requests

import flit_sandboxes
from flit_sandboxes.practicehub import api_base, build_practicehub, running_sandbox
from flit_sandboxes.practicehub.routes import attachment_bytes
from flit_pipelines.sources.attachments import stage_downloads
from flit_pipelines.sources.csv_export import MissingColumnError, MissingFileError
from flit_pipelines.sources.extract import run_extract
from flit_pipelines.sources.practicehub_api import (
    PracticeHubApiError,
    PracticeHubAuthError,
    PracticeHubSource,
    account_api_base,
)
from flit_pipelines.sources.practicehub_inventory import format_inventory
from flit_pipelines.sources.validate import split_chunk
from flit_pipelines.spec.model import ColumnSpec, SourceObject
from flit_pipelines_tests.sources.helpers import load_spec_objects, practicehub_fixtures, text_frame

SPEC_OBJECTS = Path(flit_sandboxes.__file__).parent / "practicehub" / "SPEC_OBJECTS.yaml"
KEY = "reader-key-never-logged"
APP = "flit-reader=ops-contact@example.com"
SEED = 5
PATIENTS = 40
EXPECTED_SQL = {
    "patients": "SELECT COUNT(*) FROM patients",
    "practitioners": "SELECT COUNT(*) FROM practitioners",
    "patient_practitioners": "SELECT COUNT(*) FROM patient_practitioners",
    "appointments": "SELECT COUNT(*) FROM appointments",
    "treatment_notes": "SELECT COUNT(*) FROM treatment_notes",
    "treatment_procedures": "SELECT SUM(json_array_length(procedures)) FROM treatment_notes",
    "insurances": "SELECT COUNT(*) FROM insurances",
    "invoices": "SELECT COUNT(*) FROM invoices",
    "policy_documents": "SELECT COUNT(*) FROM policy_documents",
    "attachments": "SELECT COUNT(*) FROM attachments",
}


state, db, sandbox = practicehub_fixtures(api_key=KEY, patients=PATIENTS, seed=SEED, directory="practicehub_reader")


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[str]:
    """A sandbox of its own (own request counters), not rate limited."""
    path = tmp_path / "fresh.db"
    build_practicehub(path, patients=PATIENTS, seed=SEED)
    with running_sandbox(path, api_key=KEY, rate_per_second=10_000) as url:
        yield url


@pytest.fixture(scope="module")
def objects() -> dict[str, SourceObject]:
    return load_spec_objects(SPEC_OBJECTS)


def make_source(url: str, state_dir: Path, **kwargs) -> PracticeHubSource:
    options = {"requests_per_second": 500.0, **kwargs}
    key = options.pop("api_key", KEY)
    app = options.pop("app_details", APP)
    return PracticeHubSource(api_base(url), key, app, state_dir=state_dir, **options)


def admin(url: str, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{url}/__sandbox/{path}", headers={"x-practicehub-key": KEY}, timeout=10,
                            **kwargs)


def stats(url: str) -> dict:
    return admin(url, "GET", "stats").json()["data"]


def served(url: str, path: str) -> dict[str, int]:
    return {k: v for k, v in stats(url)["pages_served"].items() if k.startswith(path + "?")}


# ------------------------------------------------------------------ every spec object, whole
def test_every_spec_object_reads_whole_and_validates(sandbox: str, db: sqlite3.Connection,
                                                     objects: dict[str, SourceObject], tmp_path: Path) -> None:
    assert set(objects) == set(EXPECTED_SQL)
    with make_source(sandbox, tmp_path / "cursors") as src:
        for name, obj in objects.items():
            report = src.header(obj)
            assert report.present and not report.missing_optional, name
            df = text_frame(list(src.read(obj)), obj)
            expected = db.execute(EXPECTED_SQL[name]).fetchone()[0]
            assert len(df) == expected > 0, name
            assert df[obj.primary_key].is_unique, name
            result = split_chunk(obj, name, df.astype("string"), first_row=1)
            assert len(result.quarantine) == 0, (name, result.quarantine.head().to_dict())
        assert not any((tmp_path / "cursors").iterdir())  # finished extractions leave no cursor behind
        assert src.stats["pages_replayed"] == 0 and src.stats["responses_429"] == 0


def test_values_follow_the_json_paths(sandbox: str, db: sqlite3.Connection, objects: dict[str, SourceObject],
                                      tmp_path: Path) -> None:
    with make_source(sandbox, tmp_path) as src:
        patients = text_frame(list(src.read(objects["patients"])), objects["patients"]).set_index("patient_id")
        notes = text_frame(list(src.read(objects["treatment_notes"])), objects["treatment_notes"]).set_index(
            "treatment_note_id")
        lines = text_frame(list(src.read(objects["treatment_procedures"])), objects["treatment_procedures"])
    row = db.execute("SELECT id, last_name, address_city, archived, updated_at FROM patients WHERE id = 7").fetchone()
    got = patients.loc["7"]
    assert (got["last_name"], got["city"]) == (row[1], row[2])
    assert got["archived"] == ("true" if row[3] else "false")
    assert got["updated_at"] == row[4].replace("T", " ").rstrip("Z")  # zone-aware -> UTC text
    note_id, diagnoses = db.execute("SELECT id, json_extract(diagnoses, '$[0].code') FROM treatment_notes "
                                    "ORDER BY id LIMIT 1").fetchone()
    assert notes.loc[str(note_id), "primary_icd10_code"] == diagnoses
    cpt = db.execute("SELECT json_extract(value, '$.code'), json_extract(value, '$.units') FROM treatment_notes, "
                     "json_each(procedures) WHERE treatment_notes.id = ?", (note_id,)).fetchall()
    mine = lines[lines["treatment_note_id"] == str(note_id)]
    assert list(zip(mine["cpt_code"], mine["units"].astype(int), strict=True)) == cpt


def test_run_extract_and_attachment_downloads(sandbox: str, db: sqlite3.Connection,
                                              objects: dict[str, SourceObject], tmp_path: Path) -> None:
    obj = objects["attachments"]
    chunks: list[pd.DataFrame] = []
    with make_source(sandbox, tmp_path / "cursors") as src:
        extract = run_extract(src, obj, "attachments", write=chunks.append, quarantine=lambda q: None)
        assert extract.rows_kept == db.execute("SELECT COUNT(*) FROM attachments").fetchone()[0]
        good = pd.concat(chunks).head(4)
        root = tmp_path / "files"
        first = stage_downloads(src, obj, good, root)
        assert (first.fetched, first.present, first.failed) == (4, 0, 0)
        again = stage_downloads(src, obj, good, root)
        assert (again.fetched, again.present) == (0, 4)
        assert src.stats["downloads"] == 4
    for row in good.itertuples():
        content = (root / str(row.attachment_id) / row.file_name).read_bytes()
        assert content == attachment_bytes(SEED, int(row.attachment_id), row.content_type, int(row.size_bytes))


# ------------------------------------------------------------------ notes §3 "Incremental sync"
def test_since_becomes_the_updated_filter(fresh: str, objects: dict[str, SourceObject], tmp_path: Path) -> None:
    touched = admin(fresh, "POST", "touch", json={"resource": "appointments", "ids": [3, 9, 27]}).json()["data"]
    since = datetime.fromisoformat(touched["updated_at"].replace("Z", "+00:00"))
    with make_source(fresh, tmp_path) as src:
        delta = text_frame(list(src.read(objects["appointments"], since)), objects["appointments"])
        assert sorted(delta["appointment_id"].astype(int)) == [3, 9, 27]
        naive = since.astimezone(timezone.utc).replace(tzinfo=None)
        assert len(text_frame(list(src.read(objects["appointments"], naive)), objects["appointments"])) == 3
        # an object without modified_at cannot be filtered: read whole
        whole = objects["practitioners"].model_copy(update={"modified_at": None})
        assert len(text_frame(list(src.read(whole, since)), whole)) == stats(fresh)["resources"]["/api/practitioners"]
    assert any("updated=" in key for key in served(fresh, "/api/appointments"))


# ------------------------------------------------------------------ auth, absent endpoints and fields
def test_auth_failures_are_final_and_name_no_secret(sandbox: str, objects: dict[str, SourceObject],
                                                    tmp_path: Path) -> None:
    obj = objects["patients"]
    with make_source(sandbox, tmp_path, api_key="wrong-key") as src:
        with pytest.raises(PracticeHubAuthError) as error:
            list(src.read(obj))
        assert error.value.status == 401 and "wrong-key" not in str(error.value)
        assert src.stats["requests"] == 1 and src.stats["retries"] == 0
    with make_source(sandbox, tmp_path, app_details="not details") as src:
        with pytest.raises(PracticeHubApiError) as error:
            src.header(obj)
        assert error.value.status == 400 and str(error.value) == "GET /patients: HTTP 400"
    with pytest.raises(ValueError):
        make_source(sandbox, tmp_path, page_size=101)
    with pytest.raises(ValueError):
        make_source(sandbox, tmp_path, api_key="")


def test_absent_endpoints_and_fields(sandbox: str, tmp_path: Path) -> None:
    cols = {"id": ColumnSpec(type="int", source="id")}
    missing = SourceObject(endpoint="/clinical_letters", primary_key="id", columns=cols)
    optional = missing.model_copy(update={"optional": True})
    with make_source(sandbox, tmp_path) as src:
        with pytest.raises(MissingFileError, match="/clinical_letters"):
            src.header(missing)
        with pytest.raises(MissingFileError):
            list(src.read(missing))
        assert src.header(optional).present is False and list(src.read(optional)) == []
        needs = SourceObject(endpoint="/patients", columns={**cols, "nhs": ColumnSpec(source="nhs_number")})
        with pytest.raises(MissingColumnError, match="/patients: required field 'nhs_number'"):
            src.header(needs)
        maybe = SourceObject(endpoint="/api/patients",  # a leading /api is accepted
                             columns={**cols, "nhs": ColumnSpec(source="nhs_number", required=False)})
        report = src.header(maybe)
        assert report.missing_optional == ["nhs"] and "first_name" in report.extra
        assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------ resumable extraction (issue)
def test_stopped_extraction_resumes_without_rereading_a_page(fresh: str, objects: dict[str, SourceObject],
                                                             tmp_path: Path) -> None:
    obj = objects["appointments"]
    total = stats(fresh)["resources"]["/api/appointments"]
    pages = math.ceil(total / 10)
    assert pages > 8
    state_dir = tmp_path / "cursors"

    class Stop(Exception):
        pass

    first_rows: list[str] = []
    with make_source(fresh, state_dir, page_size=10) as src:
        with pytest.raises(Stop):
            for n, batch in enumerate(src.read(obj), start=1):
                first_rows += batch.column("appointment_id").to_pylist()
                if n == 5:
                    raise Stop  # the consumer fails while handling page 5
    (stored,) = list(state_dir.iterdir())
    assert sorted(p.name for p in stored.glob("page-*.arrow")) == [f"page-{i:08d}.arrow" for i in range(1, 6)]
    assert KEY not in stored.name and "appointments" in stored.name

    with make_source(fresh, state_dir, page_size=10) as resumed:  # a new reader, e.g. after a restart
        rows = text_frame(list(resumed.read(obj)), obj)
        assert resumed.stats["pages_replayed"] == 5 and resumed.stats["pages_fetched"] == pages - 5
        assert resumed.stats["requests"] == pages - 5
    ids = rows["appointment_id"].astype(int).tolist()
    assert ids == list(range(1, total + 1))  # every row exactly once, in order
    assert first_rows == [str(i) for i in range(1, 51)]
    counts = served(fresh, "/api/appointments")
    assert len(counts) == pages and set(counts.values()) == {1}  # no page requested twice
    assert not state_dir.exists() or not any(state_dir.iterdir())  # exhausted: the next run starts fresh

    with make_source(fresh, state_dir, page_size=10) as again:
        assert len(text_frame(list(again.read(obj)), obj)) == total
        assert again.stats["pages_replayed"] == 0 and again.stats["pages_fetched"] == pages


def test_extraction_killed_by_server_errors_resumes_from_its_last_page(fresh: str, objects: dict[str, SourceObject],
                                                                       tmp_path: Path) -> None:
    obj = objects["invoices"]
    total = stats(fresh)["resources"]["/api/invoices"]
    pages = math.ceil(total / 20)
    rule = {"status": 500, "path_prefix": "/api/invoices", "after": 3, "count": 50}
    assert admin(fresh, "POST", "faults", json=rule).status_code == 200
    got: list[str] = []
    with make_source(fresh, tmp_path, page_size=20, max_attempts=2, backoff_initial=0.01, backoff_max=0.02) as src:
        with pytest.raises(PracticeHubApiError) as error:
            for batch in src.read(obj):
                got += batch.column("invoice_id").to_pylist()
        assert error.value.status == 500 and src.stats["responses_5xx"] == 2
    assert len(got) == 60  # three pages made it before the outage
    admin(fresh, "DELETE", "faults")
    with make_source(fresh, tmp_path, page_size=20) as resumed:
        rows = text_frame(list(resumed.read(obj)), obj)
        assert resumed.stats["pages_replayed"] == 3 and resumed.stats["pages_fetched"] == pages - 3
    assert rows["invoice_id"].astype(int).tolist() == list(range(1, total + 1))
    counts = served(fresh, "/api/invoices")
    assert len(counts) == pages and set(counts.values()) == {1}


def test_a_different_window_starts_over(fresh: str, objects: dict[str, SourceObject], tmp_path: Path) -> None:
    obj = objects["policy_documents"]
    cursors = tmp_path / "cursors"
    with make_source(fresh, cursors, page_size=10) as src:
        reader = src.read(obj)
        next(reader), next(reader)
        reader.close()  # stopped after two pages (the generator was dropped)
        assert len(list(next(cursors.iterdir()).glob("page-*"))) == 2
        since = datetime(2024, 1, 1, tzinfo=timezone.utc)
        delta = text_frame(list(src.read(obj, since)), obj)
        assert src.stats["pages_replayed"] == 0  # the stored full-read pages were discarded
    assert (pd.to_datetime(delta["updated_at"]) >= pd.Timestamp("2024-01-01")).all()
    assert not any(cursors.iterdir())


# ------------------------------------------------------------------ limits (issue: 1 request/s, UNCONFIRMED)
def test_default_rate_never_gets_429_from_a_one_per_second_account(state: Path, objects: dict[str, SourceObject],
                                                                   tmp_path: Path) -> None:
    obj = objects["practitioners"].model_copy(update={"endpoint": "/patients", "primary_key": None,
                                                      "columns": {"id": ColumnSpec(source="id")}})
    with running_sandbox(state, api_key=KEY) as url:  # 1 request/s per account
        src = PracticeHubSource(api_base(url), KEY, APP, page_size=10, state_dir=tmp_path)  # defaults: 0.9/s
        with src:
            src.header(obj)
            rows = text_frame(list(src.read(obj)), obj)
        assert len(rows) == PATIENTS
        assert src.stats["responses_429"] == 0 and src.stats["requests"] == 1 + math.ceil(PATIENTS / 10)
        assert stats(url)["rate_limited_429"] == 0


def test_429s_are_retried_and_lose_nothing(state: Path, fresh: str, objects: dict[str, SourceObject],
                                           tmp_path: Path) -> None:
    obj = objects["insurances"]
    total = stats(fresh)["resources"]["/api/insurances"]
    admin(fresh, "POST", "faults", json={"status": 429, "path_prefix": "/api/insurances", "after": 1, "count": 2})
    with make_source(fresh, tmp_path / "a", page_size=20) as src:
        rows = text_frame(list(src.read(obj)), obj)
        assert src.stats["responses_429"] == 2 and src.stats["retries"] == 2
    assert rows["insurance_id"].astype(int).tolist() == list(range(1, total + 1))
    # a reader configured too fast for a 1 request/s account is refused, waits Retry-After, loses nothing
    with running_sandbox(state, api_key=KEY) as url:
        with make_source(url, tmp_path / "b", page_size=100, requests_per_second=20) as fast:
            patients = text_frame(list(fast.read(objects["patients"])), objects["patients"])
            patients2 = text_frame(list(fast.read(objects["practitioners"])), objects["practitioners"])
        assert fast.stats["responses_429"] >= 1 and stats(url)["rate_limited_429"] == fast.stats["responses_429"]
    assert len(patients) == PATIENTS and len(patients2) == 3


def test_readers_of_one_account_share_the_limiter(sandbox: str, tmp_path: Path) -> None:
    with make_source(sandbox, tmp_path) as one, make_source(sandbox, tmp_path) as two:
        assert one._limiter is two._limiter
        with make_source(sandbox, tmp_path, requests_per_second=0.5) as slow:
            assert slow._limiter is not one._limiter


# ------------------------------------------------------------------ inventory (issue)
def test_inventory_counts_equal_the_seeded_practice(sandbox: str, db: sqlite3.Connection,
                                                    objects: dict[str, SourceObject], tmp_path: Path) -> None:
    seeded = stats(sandbox)["practice"]["counts"]
    with make_source(sandbox, tmp_path) as src:
        rows = src.inventory(objects, rate=0.9)  # priced at the default reader rate
        requests_sent = src.stats["requests"]
        assert src.inventory({"patients": objects["patients"]})[0]["requests_per_second"] == 500
    by_name = {r["object"]: r for r in rows}
    assert list(by_name) == list(objects)
    assert requests_sent == len(objects) - 1  # treatment_procedures shares the treatment_notes request
    for name, row in by_name.items():
        resource = objects[name].endpoint.strip("/")
        assert row["present"] and row["total_entries"] == seeded[resource], name
        assert row["pages"] == max(1, math.ceil(seeded[resource] / 100))
        assert row["downloads"] == (seeded[resource] if name == "attachments" else 0)
        assert row["estimated_seconds"] == round(row["requests"] / 0.9, 1)
    text = format_inventory(rows)
    assert "attachments" in text and f"{sum(r['total_entries'] for r in rows):,}" in text and "0.9 request/s" in text
    with make_source(sandbox, tmp_path) as src:
        since = datetime(2025, 1, 1, tzinfo=timezone.utc)
        delta = {r["object"]: r for r in src.inventory({"appointments": objects["appointments"]}, since)}
    assert delta["appointments"]["total_entries"] == db.execute(
        "SELECT COUNT(*) FROM appointments WHERE updated_at >= '2025-01-01T00:00:00Z'").fetchone()[0]


# ------------------------------------------------------------------ links, hosts and secrets
class FakeSession(requests.Session):
    """Answers GETs from a dict of ``url -> JSON body`` and records the URLs and headers sent."""

    def __init__(self, pages: dict[str, dict]):
        super().__init__()
        self.pages = pages
        self.sent: list[tuple[str, dict]] = []

    def get(self, url, headers=None, timeout=None, **kwargs):  # noqa: D102
        self.sent.append((url, dict(headers or {})))
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(self.pages[url]).encode()
        return response


def test_next_links_stay_on_the_api_host_and_loops_are_refused(tmp_path: Path) -> None:
    base = "https://clinic.neptune.practicehub.io/api"
    assert account_api_base("clinic") == base
    with pytest.raises(ValueError):
        account_api_base("bad host")
    obj = SourceObject(endpoint="/patients", primary_key="id", columns={"id": ColumnSpec(source="id")})
    first = f"{base}/patients?page_size=100"
    session = FakeSession({
        first: {"total_entries": 3, "data": [{"id": 1}],
                "links": {"next": "https://evil.example.com/api/patients?page=2"}},
        f"{base}/patients?page=2": {"total_entries": 3, "data": [{"id": 2}], "links": {"next": "/api/patients?page=3"}},
        f"{base}/patients?page=3": {"total_entries": 3, "data": [{"id": 3}], "links": {"next": "?page=2"}},
    })
    src = PracticeHubSource(base, KEY, APP, requests_per_second=500, state_dir=tmp_path, session=session)
    got: list[str] = []
    with pytest.raises(PracticeHubApiError, match="repeats a page"):
        for batch in src.read(obj):
            got += batch.column("id").to_pylist()
    assert got == ["1", "2", "3"]
    assert all(url.startswith(base) for url, _ in session.sent)
    assert session.sent[0][1]["x-practicehub-key"] == KEY and session.sent[0][1]["x-app-details"] == APP
    assert KEY not in repr(src)
    src.close()


def test_download_sends_the_key_only_to_the_api_host(tmp_path: Path) -> None:
    base = "https://clinic.neptune.practicehub.io/api"
    session = FakeSession({f"{base}/attachments/1/download": {}, "https://files.example.com/a.pdf?sig=1": {}})
    with PracticeHubSource(base, KEY, APP, requests_per_second=500, state_dir=tmp_path, session=session) as src:
        src.download("/attachments/1/download")
        src.download("https://files.example.com/a.pdf?sig=1")
    assert session.sent[0][1]["x-practicehub-key"] == KEY
    assert "x-practicehub-key" not in session.sent[1][1]


def test_logs_never_hold_the_key_app_details_or_patient_values(fresh: str, objects: dict[str, SourceObject],
                                                               tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                               db: sqlite3.Connection) -> None:
    admin(fresh, "POST", "faults", json={"status": 503, "path_prefix": "/api/patients", "after": 1, "count": 1})
    caplog.set_level(logging.DEBUG)
    with make_source(fresh, tmp_path, page_size=10, backoff_initial=0.01, backoff_max=0.02) as src:
        reader = src.read(objects["patients"])
        next(reader), next(reader)
        reader.close()
        list(src.read(objects["patients"]))  # resumes (logs it) and finishes
        assert src.stats["responses_5xx"] == 1
    text = caplog.text
    assert "/patients: 503, retry 1" in text and "resuming" in text
    last_names = [r[0] for r in db.execute("SELECT last_name FROM patients")]
    for secret in (KEY, "ops-contact@example.com", *last_names):
        assert secret not in text


# ------------------------------------------------------------------ wiring through the spec's source block
def test_registry_opens_the_reader_with_cursors_under_the_data_dir(sandbox: str, objects: dict[str, SourceObject],
                                                                   tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from flit_pipelines.sources.practicehub_inventory import inventory_for_spec
    from flit_pipelines.sources.registry import open_source
    from flit_pipelines.spec.model import MigrationSpec

    spec = MigrationSpec.model_validate({
        "migration": "practicehub_test", "title": "test",
        "source": {"kind": "practicehub_api", "api_base_env": "PH_API_BASE", "api_key_env": "PH_API_KEY",
                   "app_details": APP, "page_size": 25},
        "destination": {"kind": "pipedrive", "api_base_env": "SF_BASE", "api_token_env": "SF_TOKEN"},
        "environment": {"PH_API_BASE": {"description": "base"}, "PH_API_KEY": {"description": "key", "secret": True},
                        "SF_BASE": {"description": "crm"}, "SF_TOKEN": {"description": "crm"}},
        "waves": {"root": "patients"},
        "objects": {name: objects[name].model_dump(exclude_none=True) for name in ("patients", "attachments")},
        "targets": {}, "seed_objects": [],
    })
    monkeypatch.setenv("PH_API_BASE", api_base(sandbox))
    monkeypatch.setenv("PH_API_KEY", KEY)
    monkeypatch.setenv("FLIT_DATA_DIR", str(tmp_path / "data"))
    rows = inventory_for_spec(spec, rate=1.0)  # the spec's reader runs at 0.9 request/s: keep this short
    assert [(r["object"], r["pages"]) for r in rows][0] == ("patients", math.ceil(PATIENTS / 25))
    assert rows[1]["downloads"] == rows[1]["total_entries"] > 0
    source = open_source(spec)
    assert isinstance(source, PracticeHubSource) and source.page_size == 25
    reader = source.read(spec.objects["patients"])
    next(reader)
    reader.close()
    assert list((tmp_path / "data" / "cursors" / "practicehub_test").glob("patients-*/page-00000001.arrow"))
    source.close()
