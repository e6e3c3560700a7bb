"""The FHIR sandbox held against a third-party client and the specifications' error shapes.

* ``fhirclient`` (SMART on FHIR's Python client, not ours) reads the CapabilityStatement, pages a
  search through ``Bundle.link`` next and reads resources by id, parsing them with its own models;
* protocol answers: OperationOutcome bodies with FHIR IssueType codes for a missing ``Prefer:
  respond-async``, an unsupported type, a bad ``_lastUpdated``, a missing token (401 with
  ``WWW-Authenticate``), a deleted resource (410), an unknown job (404), the rate limit (429 with
  ``Retry-After``); ``Binary`` served raw; an export with ``_since`` listing a deletion in ``deleted``.
"""

from __future__ import annotations

import gzip
import json
import time

import requests
from fhirclient import client as fhir_client
from fhirclient.models import capabilitystatement, patient

from flit_pipelines_tests.fixtures.make_fhir_extras import PDF
from flit_pipelines_tests.sources.fhir_helpers import EXTRAS, SAMPLE, TOKEN, admin
from flit_sandboxes.fhir import fhir_base, running_sandbox

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_fhirclient_reads_the_capability_statement_pages_a_search_and_reads_by_id(tmp_path):
    ids = [json.loads(line)["id"] for line in (SAMPLE / "Patient.000.ndjson").read_text().splitlines()]
    with running_sandbox(tmp_path / "fhir.db", data_dir=SAMPLE, token=TOKEN) as url:
        smart = fhir_client.FHIRClient(settings={"app_id": "flit-conformance", "api_base": fhir_base(url) + "/"})
        smart.server.session.headers.update(AUTH)
        caps = capabilitystatement.CapabilityStatement.read_from("metadata", smart.server)
        found = list(patient.Patient.where(struct={"_count": "4"}).perform_resources_iter(smart.server))
        one = patient.Patient.read(ids[3], smart.server)
    assert caps.fhirVersion == "4.0.1" and "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" in \
        caps.instantiates
    assert {r.type for r in caps.rest[0].resource} >= {"Patient", "Encounter", "DocumentReference"}
    assert [p.id for p in found] == ids  # 4 + 4 + 4 + 1 over next links, in the server's order
    assert one.id == ids[3] and one.name[0].use == "official" and one.meta.versionId == "1"


def test_protocol_errors_are_operation_outcomes(tmp_path):
    with running_sandbox(tmp_path / "fhir.db", data_dir=EXTRAS, token=TOKEN, rate_per_second=1000) as url:
        base = fhir_base(url)

        def outcome(resp: requests.Response) -> tuple[int, str]:
            body = resp.json()
            assert body["resourceType"] == "OperationOutcome" and "fhir+json" in resp.headers["content-type"]
            return resp.status_code, body["issue"][0]["code"]

        assert outcome(requests.get(f"{base}/Patient/$export", headers=AUTH, timeout=10)) == (400, "invalid")
        assert outcome(requests.get(f"{base}/Goal", headers=AUTH, timeout=10)) == (404, "not-supported")
        assert outcome(requests.get(f"{base}/Patient", params={"_lastUpdated": "gtnot-a-date"}, headers=AUTH,
                                    timeout=10)) == (400, "invalid")
        anonymous = requests.get(f"{base}/Patient", timeout=10)
        assert outcome(anonymous) == (401, "login") and anonymous.headers["www-authenticate"].startswith("Bearer")
        admin(url, "DELETE", "resources/Patient/fx-patient-3")
        assert outcome(requests.get(f"{base}/Patient/fx-patient-3", headers=AUTH, timeout=10)) == (410, "deleted")
        assert outcome(requests.get(f"{base}/$export-status/nosuchjob", headers=AUTH, timeout=10)) == (404, "not-found")
        raw = requests.get(f"{base}/Binary/fx-bin-1", headers={**AUTH, "Accept": "*/*"}, timeout=10)
        assert raw.content == PDF and raw.headers["content-type"] == "application/pdf"
        as_json = requests.get(f"{base}/Binary/fx-bin-1", headers={**AUTH, "Accept": "application/fhir+json"},
                               timeout=10).json()
        assert as_json["resourceType"] == "Binary" and as_json["contentType"] == "application/pdf"
    with running_sandbox(tmp_path / "slow.db", data_dir=EXTRAS, token=TOKEN, rate_per_second=2) as url:
        answers = [requests.get(f"{fhir_base(url)}/Patient", headers=AUTH, timeout=10) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["issue"][0]["code"] == "throttled" and int(answers[2].headers["retry-after"]) >= 1


def test_an_export_since_an_instant_lists_what_changed_and_what_was_deleted(tmp_path):
    with running_sandbox(tmp_path / "fhir.db", data_dir=EXTRAS, token=TOKEN, export_delay_seconds=0.05) as url:
        base = fhir_base(url)
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
        admin(url, "PATCH", "resources/Patient/fx-patient-1", {"birthDate": "1985-03-15"})
        admin(url, "DELETE", "resources/Patient/fx-patient-3")
        kick = requests.get(f"{base}/Patient/$export", params={"_type": "Patient", "_since": since},
                            headers={**AUTH, "Prefer": "respond-async"}, timeout=10)
        assert kick.status_code == 202
        status = kick.headers["content-location"]
        while (answer := requests.get(status, headers=AUTH, timeout=10)).status_code == 202:
            assert answer.headers["x-progress"].startswith("in progress: ") and "retry-after" in answer.headers
            time.sleep(0.05)
        manifest = answer.json()

        def lines(entry: dict) -> list[dict]:
            body = requests.get(entry["url"], headers={**AUTH, "Accept-Encoding": "identity"}, timeout=10)
            return [json.loads(x) for x in body.text.splitlines()]

        output = lines(manifest["output"][0])
        deleted = lines(manifest["deleted"][0])
        gz = requests.get(manifest["output"][0]["url"], headers={**AUTH, "Accept-Encoding": "gzip"}, stream=True,
                          timeout=10)
        assert gz.headers["content-encoding"] == "gzip" and json.loads(gzip.decompress(gz.raw.read()))["id"] == \
            "fx-patient-1"
        assert requests.get(manifest["output"][0]["url"], timeout=10).status_code == 401  # requiresAccessToken
        assert requests.delete(status, headers=AUTH, timeout=10).status_code == 202
        assert requests.get(manifest["output"][0]["url"], headers=AUTH, timeout=10).status_code == 404
    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    assert [(r["id"], r["birthDate"], r["meta"]["versionId"]) for r in output] == [("fx-patient-1", "1985-03-15", "2")]
    assert deleted == [{"resourceType": "Bundle", "type": "transaction",
                        "entry": [{"request": {"method": "DELETE", "url": "Patient/fx-patient-3"}}]}]
