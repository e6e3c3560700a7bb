"""Salesforce file targets (ContentVersion) against the real HTTP Salesforce sandbox (issue 9 items 5
and 11): hostile paths flagged, never uploaded; lost crosswalk rows adopted by the external ID; the
duplicate check lists files, and the org itself refuses a second file with the same external ID."""

from __future__ import annotations

import base64

import pandas as pd
import pytest
import requests

from flit_pipelines.assets.checks import duplicate_check
from flit_pipelines_tests.destinations.helpers import HOSTILE_REASONS, SECRET, hostile_documents
from flit_pipelines_tests.destinations.test_salesforce_destination import env  # noqa: F401 (fixture)


@pytest.fixture
def sf(env):  # noqa: F811
    root = env.tmp / "hostile"
    paths = hostile_documents(root)
    env.frames["documents"] = pd.DataFrame([
        {"document_id": f"doc-{name}", "patient_id": "1", "path": path, "name": f"{name}.pdf",
         "created_at": "2021-02-02 10:00:00"} for name, path in paths.items()]).astype("string")
    env.spec = env.spec_with(file_size_limit_bytes=2048)
    env.sandbox()
    env.root = root

    def destination():
        from flit_pipelines.destinations.salesforce.destination import SalesforceDestination
        from flit_pipelines_tests.destinations.test_salesforce_destination import CLIENT_ID, CLIENT_SECRET

        return SalesforceDestination.connect(env.spec, instance_url=env.url, client_id=CLIENT_ID,
                                             client_secret=CLIENT_SECRET, files_root=root)

    env.dest = destination
    dest = destination()
    dest.ensure_schema()
    for t in ("users", "patients"):
        env.load(dest, t)
    return env


@pytest.mark.timeout(120, method="thread")  # before the fix the FIFO row blocked the load forever
def test_hostile_document_paths_are_flagged_and_never_uploaded(sf):
    summary = sf.load(sf.dest(), "documents")
    assert (summary.created, summary.flagged, summary.failed) == (1, len(HOSTILE_REASONS), 0)
    q = sf.ledger.quarantine_frame(sf.spec.migration, "w1", "load", "documents")
    assert dict(zip(q["source_id"], q["reason"], strict=True)) == {f"doc-{k}": v for k, v in HOSTILE_REASONS.items()}
    versions = sf.query("SELECT Id, Source_System_ID__c FROM ContentVersion")
    assert [v["Source_System_ID__c"] for v in versions] == ["doc-good"]
    data = sf.get(f"sobjects/ContentVersion/{versions[0]['Id']}/VersionData").content
    assert data == b"%PDF-1.4 good document\n" and data != SECRET


def test_lost_crosswalk_rows_are_adopted_and_a_second_copy_is_refused(sf):
    sf.frames["documents"] = sf.frames["documents"].iloc[[0]]  # the good document only
    assert sf.load(sf.dest(), "documents").created == 1
    good = sf.xw("documents")
    sf.ledger.forget(sf.spec.migration, "documents", list(good))  # a crash before the ledger write
    again = sf.load(sf.dest(), "documents", run="r2")
    assert (again.adopted, again.created) == (1, 0)
    assert sf.xw("documents") == good
    assert len(sf.query("SELECT Id FROM ContentVersion")) == 1
    check = duplicate_check(sf.spec, "documents", sf.dest())
    assert check.passed and check.metadata["source_ids_in_destination"].value == 1
    # a copy with the same external ID, planted through the REST API: the unique external ID refuses it
    resp = requests.post(f"{sf.url}/services/data/v62.0/sobjects/ContentVersion", timeout=10,
                         headers={"Authorization": f"Bearer {sf.token()}"},
                         json={"Title": "copy", "PathOnClient": "copy.pdf", "Source_System_ID__c": "doc-good",
                               "VersionData": base64.b64encode(b"copy").decode()})
    assert resp.status_code == 400 and resp.json()[0]["errorCode"] == "DUPLICATE_VALUE"
    assert duplicate_check(sf.spec, "documents", sf.dest()).metadata["duplicates"].value == 0
