"""HighLevel file targets (upload mode: the contact's FILE_UPLOAD field) against the real HTTP
HighLevel sandbox (issue 9 items 5 and 11): hostile paths flagged, never uploaded; lost crosswalk
rows adopted by the key in the part name; the duplicate check lists files and fails on a planted copy."""

from __future__ import annotations

import pandas as pd
import pytest

from flit_pipelines.assets.checks import duplicate_check
from flit_pipelines.files import key_token
from flit_pipelines_tests.destinations.helpers import HOSTILE_REASONS, hostile_documents
from flit_pipelines_tests.destinations.test_highlevel_destination import env  # noqa: F401 (fixture)


def documents(paths: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"doc_id": f"doc-{name}", "patient_id": "1", "path": path, "name": f"{name}.pdf",
                          "url": None} for name, path in paths.items()]).astype("string")


def uploaded(env, dest) -> list[tuple[str, str, bytes]]:
    """(contact id, file name, bytes) of every file in the migrated contacts' Documents fields."""
    ref = dest.fields["contact"]["Documents"]
    out = []
    for contact_id in env.xw("patients").values():
        contact = env.api("GET", f"/contacts/{contact_id}")["contact"]
        value = next((c["value"] for c in contact["customFields"] if c["id"] == ref.id), None) or {}
        for entry in value.values():
            out.append((contact_id, entry["meta"]["originalname"],
                        env.api_raw("GET", entry["url"].split(env.url, 1)[1]).content))
    return out


@pytest.fixture
def hl(env):  # noqa: F811
    import requests

    root = env.tmp / "files"
    paths = hostile_documents(root)
    env.frames["documents"] = documents(paths)
    spec = env.spec.model_copy(deep=True)
    spec.destination.settings["file_size_limit_bytes"] = 2048
    env.spec = spec
    env.sandbox()

    def api_raw(method: str, path: str, **kw):
        return requests.request(method, env.url + path, headers={"Authorization": "Bearer test-token",
                                                                 "Version": "2021-07-28"}, timeout=10, **kw)

    env.api_raw = api_raw
    dest = env.destination()
    dest.ensure_schema()
    env.load(dest, "users")
    env.load(dest, "patients")
    return env


@pytest.mark.timeout(120, method="thread")  # before the fix the FIFO row blocked the load forever
def test_hostile_document_paths_are_flagged_and_never_uploaded(hl):
    dest = hl.destination()
    summary = hl.load(dest, "uploads")
    assert (summary.created, summary.flagged, summary.failed) == (1, len(HOSTILE_REASONS), 0)
    q = hl.ledger.quarantine_frame(hl.spec.migration, "w1", "load", "uploads")
    assert dict(zip(q["source_id"], q["reason"], strict=True)) == {
        f"doc-{k}": f"{v}: manual re-upload" for k, v in HOSTILE_REASONS.items()}
    dest.prepare("uploads", hl.spec.targets["uploads"])
    assert [(name, data) for _, name, data in uploaded(hl, dest)] == [("good.pdf", b"%PDF-1.4 good document\n")]


def test_lost_crosswalk_rows_are_adopted_and_planted_copies_fail_the_check(hl):
    hl.frames["documents"] = hl.frames["documents"].iloc[[0]]  # the good document only
    first = hl.destination()
    assert hl.load(first, "uploads").created == 1
    good = hl.xw("uploads")
    hl.ledger.forget(hl.spec.migration, "uploads", list(good))  # a crash before the ledger write
    again = hl.load(hl.destination(), "uploads", run="r2")
    assert (again.adopted, again.created) == (1, 0)
    assert hl.xw("uploads") == good
    dest = hl.destination()
    dest.prepare("uploads", hl.spec.targets["uploads"])
    assert len(uploaded(hl, dest)) == 1
    check = duplicate_check(hl.spec, "uploads", dest)
    assert check.passed and check.metadata["source_ids_in_destination"].value == 1

    # a copy of the same source record's file under another migrated contact, planted through the API
    ref = dest.fields["contact"]["Documents"]
    other = hl.xw("patients")["3"]
    resp = hl.api_raw("POST", "/forms/upload-custom-files", params={"contactId": other, "locationId": "loc_sandbox"},
                      files=[(f"{ref.id}_{key_token('uploads:doc-good')}", ("good.pdf", b"copy", "application/pdf"))])
    assert resp.status_code == 200, resp.text
    check = duplicate_check(hl.spec, "uploads", hl.destination())
    assert not check.passed and check.metadata["duplicate_source_ids_sample"].value == ["doc-good"]
