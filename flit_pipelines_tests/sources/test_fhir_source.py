"""``FhirSource`` against the FHIR sandbox over real HTTP: the Bulk Data lifecycle, search paging,
SMART Backend Services, validation quarantine and attachments.

Expected values come from the NDJSON files the sandbox serves (the bundled Synthea export, or the
hand-checkable ``fixtures/fhir_extras``); the objects are the committed spec's. The client's waits
run on an injected clock (``ScaledClock``): the server's ``Retry-After`` is asserted, not slept.
"""

from __future__ import annotations

import json
import logging
import shutil

import jwt
import pandas as pd
import pytest
import requests

from flit_pipelines.sources.attachments import stage_downloads
from flit_pipelines.sources.base import REJECT_COLUMN
from flit_pipelines.sources.extract import run_extract
from flit_pipelines.sources.fhir import BulkExportErrors, BulkExportFailed
from flit_pipelines.sources.fhir.auth import ASSERTION_TYPE
from flit_pipelines.spec.load import SPEC_DIR, load_spec
from flit_pipelines_tests.sources.fhir_helpers import (
    CLIENT_ID,
    EXTRAS,
    SAMPLE,
    TOKEN,
    ScaledClock,
    admin,
    smart_client,
    source,
)
from flit_sandboxes.fhir import running_sandbox
from flit_sandboxes.fhir.keys import new_client_key

SPEC = load_spec(SPEC_DIR / "fhir_clinic_to_pipedrive.yaml")
OBJ = SPEC.objects


def ndjson(folder, rtype: str) -> list[dict]:
    return [json.loads(line) for line in (folder / f"{rtype}.000.ndjson").read_text().splitlines() if line.strip()]


def frame(batches) -> pd.DataFrame:
    parts = [b.to_pandas() for b in batches]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def extract(src, name: str):
    kept, quarantined = [], []
    stats = run_extract(src, OBJ[name], name, write=kept.append, quarantine=quarantined.append)
    good = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame()
    bad = pd.concat(quarantined, ignore_index=True) if quarantined else pd.DataFrame(columns=["source_id", "reason"])
    return stats, good, bad


def test_bulk_export_kick_off_polling_manifest_files_and_job_deletion(tmp_path):
    patients = ndjson(SAMPLE, "Patient")
    with running_sandbox(tmp_path / "fhir.db", data_dir=SAMPLE, token=TOKEN, export_delay_seconds=0.6,
                         retry_after_seconds=3) as url:
        clock = ScaledClock()
        src = source(url, tmp_path / "state", {"patients": OBJ["patients"], "encounters": OBJ["encounters"]},
                     clock=clock)
        rows = frame(src.read(OBJ["patients"]))
        stats = admin(url, "GET", "stats")
    assert sorted(rows["Id"]) == sorted(p["id"] for p in patients)
    first = patients[0]
    official = next(n for n in first["name"] if n.get("use") == "official")
    got = rows.set_index("Id").loc[first["id"]]
    assert (got["LAST"], got["FIRST"], got["BIRTHDATE"]) == (official["family"], official["given"][0],
                                                               first["birthDate"])
    assert rows[REJECT_COLUMN].isna().all()
    # 202 -> polled, each wait the server's Retry-After (3 s, on the client's clock), then the manifest
    assert src.stats["bulk_kickoffs"] == 1 and src.stats["bulk_polls"] >= 2
    assert clock.slept and set(clock.slept) == {3.0} and len(clock.slept) == src.stats["bulk_polls"] - 1
    export = src._exports[None]
    assert export.last_progress is not None and 0 <= export.last_progress < 100  # X-Progress read
    # the files: one per exported type, stored gzip-compressed as served, the job deleted on the server
    assert src.stats["bulk_files_downloaded"] == len(export.types) == 2
    assert all(p.name.endswith(".ndjson.gz") for p in export.files("output"))
    assert stats["exports"] == {"kicked_off": 1, "completed": 1, "failed": 0, "deleted": 1, "files_served": 2,
                                "active": 0}


def test_restarted_extract_reuses_the_finished_export_and_its_stored_files(tmp_path):
    objects = {"patients": OBJ["patients"], "encounters": OBJ["encounters"]}
    with running_sandbox(tmp_path / "fhir.db", data_dir=SAMPLE, token=TOKEN, export_delay_seconds=0.2) as url:
        first = source(url, tmp_path / "state", objects, run_id="run-1", clock=ScaledClock())
        assert len(frame(first.read(OBJ["patients"]))) == 13
        reading = first.read(OBJ["encounters"])
        next(reading)  # the extract is killed after its first batch of encounters
        reading.close()
        again = source(url, tmp_path / "state", objects, run_id="run-2", clock=ScaledClock())
        encounters = frame(again.read(OBJ["encounters"]))
        stats = admin(url, "GET", "stats")
        directory = again._exports[None].directory
    assert len(encounters) == len(ndjson(SAMPLE, "Encounter"))
    assert stats["exports"]["kicked_off"] == 1 and stats["exports"]["files_served"] == 2
    assert again.stats["bulk_kickoffs"] == again.stats["bulk_polls"] == again.stats["bulk_files_downloaded"] == 0
    assert again.stats["bulk_files_reused"] == 2 and again.stats["requests"] == 1  # the CapabilityStatement only
    assert not directory.exists()  # both objects read to their end: the local export is removed


def test_error_file_entries_are_quarantined_with_their_reason(tmp_path):
    victim = ndjson(SAMPLE, "Patient")[4]["id"]
    with running_sandbox(tmp_path / "fhir.db", data_dir=SAMPLE, token=TOKEN, export_delay_seconds=0.1) as url:
        admin(url, "POST", "export-errors", {"resources": [f"Patient/{victim}"]})
        stats, good, bad = extract(source(url, tmp_path / "state", OBJ, clock=ScaledClock()), "patients")
    assert (stats.rows_read, stats.rows_kept, stats.quarantined) == (13, 12, 1)
    assert victim not in set(good["Id"])
    assert bad[["source_id", "reason"]].to_dict("records") == [
        {"source_id": victim, "reason": "bulk export error: error processing"}]


def test_export_errors_naming_no_resource_stop_the_read(tmp_path):
    with running_sandbox(tmp_path / "fhir.db", data_dir=SAMPLE, token=TOKEN, export_delay_seconds=0.1) as url:
        admin(url, "POST", "export-errors", {"resources": [], "unattributed": 2})
        src = source(url, tmp_path / "state", OBJ, clock=ScaledClock())
        with pytest.raises(BulkExportErrors, match="2 errors that name no resource .issue codes: processing"):
            frame(src.read(OBJ["patients"]))
    assert not list((tmp_path / "state" / "bulk").iterdir())  # discarded: a re-run starts a new export


def test_a_failed_export_job_is_reported_and_the_next_read_starts_anew(tmp_path):
    with running_sandbox(tmp_path / "fhir.db", data_dir=SAMPLE, token=TOKEN, export_delay_seconds=0.1) as url:
        admin(url, "POST", "fail-exports", {"count": 1})
        src = source(url, tmp_path / "state", OBJ, clock=ScaledClock())
        with pytest.raises(BulkExportFailed) as failed:
            frame(src.read(OBJ["patients"]))
        assert failed.value.status == 500 and failed.value.codes == ("exception",)
        assert "the export job failed" in str(failed.value)
        assert len(frame(src.read(OBJ["patients"]))) == 13
        stats = admin(url, "GET", "stats")
    assert stats["exports"]["kicked_off"] == 2 and stats["exports"]["failed"] == 1


def test_transient_errors_while_polling_are_retried(tmp_path):
    with running_sandbox(tmp_path / "fhir.db", data_dir=SAMPLE, token=TOKEN, export_delay_seconds=0.1) as url:
        admin(url, "POST", "faults", {"status": 503, "count": 2, "path_prefix": "/fhir/$export-status"})
        src = source(url, tmp_path / "state", OBJ, clock=ScaledClock())
        assert len(frame(src.read(OBJ["patients"]))) == 13
    assert src.stats["responses_5xx"] == 2 and src.stats["retries"] >= 2


def test_token_expiry_mid_export_signs_a_new_assertion_and_goes_on(tmp_path, caplog):
    key, clients = smart_client(tmp_path / "keys")
    caplog.set_level(logging.DEBUG)
    with running_sandbox(tmp_path / "fhir.db", data_dir=SAMPLE, clients=clients, export_delay_seconds=0.3) as url:
        admin(url, "POST", "tokens/expire", {"after_requests": 2})  # kick-off and one poll, then expired
        src = source(url, tmp_path / "state", OBJ, key=key, clock=ScaledClock())
        rows = frame(src.read(OBJ["encounters"]))
        stats = admin(url, "GET", "stats")
    assert len(rows) == len(ndjson(SAMPLE, "Encounter"))
    assert src.stats["token_requests"] == 2 and src.stats["token_refreshes_on_401"] == 1
    assert src.client.auth.assertions_signed == 2
    assert stats["tokens_issued"] == 2 and stats["assertions_refused"] == 0
    logged = caplog.text
    assert key.read_text().splitlines()[1] not in logged and "Bearer" not in logged


def test_smart_assertion_claims_and_the_server_refusing_replays(tmp_path):
    key, clients = smart_client(tmp_path / "keys")
    ec_key, ec_jwks = new_client_key(tmp_path / "ec", kind="ec")
    clients["ec-client"] = ec_jwks
    with running_sandbox(tmp_path / "fhir.db", data_dir=EXTRAS, clients=clients) as url:
        src = source(url, tmp_path / "state", OBJ, key=key)
        auth = src.client.auth
        one, two = auth.client_assertion(), auth.client_assertion()
        public = jwt.PyJWKSet.from_dict(clients[CLIENT_ID]).keys[0].key
        claims = jwt.decode(one, public, algorithms=["RS384"], audience=f"{url}/auth/token")
        assert jwt.get_unverified_header(one)["alg"] == "RS384"
        assert (claims["iss"], claims["sub"], claims["exp"] - claims["iat"]) == (CLIENT_ID, CLIENT_ID, 300)
        assert claims["jti"] != jwt.decode(two, options={"verify_signature": False})["jti"]
        form = {"grant_type": "client_credentials", "scope": "system/*.rs", "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": one}
        assert requests.post(f"{url}/auth/token", data=form, timeout=10).status_code == 200
        replay = requests.post(f"{url}/auth/token", data=form, timeout=10)
        assert (replay.status_code, replay.json()) == (401, {"error": "invalid_client"})
        unsigned = jwt.encode({**claims, "jti": "x1"}, None, algorithm="none")
        assert requests.post(f"{url}/auth/token", data={**form, "client_assertion": unsigned},
                             timeout=10).status_code == 401
        es = source(url, tmp_path / "state-ec", OBJ, key=ec_key)
        es.client.auth.client_id = "ec-client"
        assert jwt.get_unverified_header(es.client.auth.client_assertion())["alg"] == "ES384"
        assert len(frame(es.read(OBJ["organizations"]))) == 1  # an ES384 client reads too


def test_a_resource_failing_its_fhir_model_is_quarantined_with_the_reason(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(EXTRAS, data)
    bad = {"resourceType": "Patient", "id": "fx-bad-1", "active": "robot-secret-value", "birthDate": "1990-13-45",
           "name": [{"use": "official", "family": "Bad", "given": ["Record"]}]}
    with (data / "Patient.000.ndjson").open("a") as fh:
        fh.write(json.dumps(bad) + "\n")
    with running_sandbox(tmp_path / "fhir.db", data_dir=data, token=TOKEN, export_delay_seconds=0.1) as url:
        stats, good, rejected = extract(source(url, tmp_path / "state", OBJ, clock=ScaledClock()), "patients")
    assert (stats.rows_read, stats.rows_kept, stats.quarantined) == (4, 3, 1)
    (row,) = rejected.to_dict("records")
    assert row["source_id"] == "fx-bad-1"
    assert row["reason"].startswith("FHIR R4B Patient: ")
    assert "active: " in row["reason"] and "birthDate: " in row["reason"]
    assert "robot" not in row["reason"] and "1990-13-45" not in row["reason"]


def test_search_pages_follow_next_links_and_last_updated(tmp_path):
    with running_sandbox(tmp_path / "fhir.db", data_dir=SAMPLE, token=TOKEN, bulk=False) as url:
        src = source(url, tmp_path / "state", OBJ, page_size=5)
        assert not src.uses_bulk()  # auto mode: the CapabilityStatement declares no export
        rows = frame(src.read(OBJ["patients"]))
        pages = src.stats["search_pages"]
        edited = rows["Id"].iloc[7]
        before = pd.Timestamp.now(tz="UTC").tz_localize(None).to_pydatetime()
        admin(url, "PATCH", f"resources/Patient/{edited}", {"maritalStatus": {"text": "Widowed"}})
        changed = frame(src.read(OBJ["patients"], since=before))
    assert sorted(rows["Id"]) == sorted(p["id"] for p in ndjson(SAMPLE, "Patient"))
    assert pages == 3  # 5 + 5 + 3, over Bundle.link next
    assert changed[["Id", "MARITAL"]].to_dict("records") == [{"Id": edited, "MARITAL": "Widowed"}]


def test_revinclude_spool_serves_related_persons_without_a_request(tmp_path):
    including = OBJ["patients"].model_copy(update={"endpoint": "Patient?_revinclude=RelatedPerson:patient"})
    with running_sandbox(tmp_path / "fhir.db", data_dir=EXTRAS, token=TOKEN, bulk=False) as url:
        src = source(url, tmp_path / "state", {"patients": including, "related_persons": OBJ["related_persons"]})
        assert len(frame(src.read(including))) == 3
        before = src.stats["requests"]
        related = frame(src.read(OBJ["related_persons"]))
    assert src.stats["requests"] == before and src.stats["include_spool_reads"] == 1
    assert related[["PATIENT", "NAME", "RELATIONSHIP"]].to_dict("records") == [
        {"PATIENT": "fx-patient-1", "NAME": "Bob102 Example201", "RELATIONSHIP": "spouse"}]


def test_attachments_are_downloaded_from_binary(tmp_path):
    from flit_pipelines_tests.fixtures.make_fhir_extras import PDF

    with running_sandbox(tmp_path / "fhir.db", data_dir=EXTRAS, token=TOKEN, export_delay_seconds=0.1) as url:
        src = source(url, tmp_path / "state", OBJ, clock=ScaledClock())
        _, docs, _ = extract(src, "documents")
        stats = stage_downloads(src, OBJ["documents"], docs, tmp_path / "files")
    assert (stats.fetched, stats.failed, stats.no_url) == (1, 0, 1)
    assert (tmp_path / "files" / "fx-doc-2" / "referral-letter.pdf").read_bytes() == PDF
