"""Pipedrive file targets against the real HTTP Pipedrive sandbox (issue 9 items 5 and 11).

Hostile document paths are flagged with their reason and never uploaded; a file whose crosswalk row
was lost (a crash between the upload and the ledger write) or whose rename was cut off is found by
its source key and adopted, never uploaded twice; the duplicate check lists files and fails on a
duplicate planted through the sandbox.
"""

from __future__ import annotations

import pandas as pd
import pytest

from flit_pipelines.assets.checks import duplicate_check
from flit_pipelines.destinations.base import load_target
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines.destinations.pipedrive.destination import PipedriveDestination
from flit_pipelines.files import name_with_key
from flit_pipelines.ledger import Ledger
from flit_pipelines.transform.payload import build_payload
from flit_pipelines_tests.conftest import TOKEN, sandbox_stats
from flit_pipelines_tests.destinations.helpers import HOSTILE_REASONS, SECRET, hostile_documents

M = "clinic_to_pipedrive"
PARENTS = ["organizations", "providers", "persons"]


@pytest.fixture
def env(sandbox, spec, fixture_frames, tmp_path):
    root = tmp_path / "export"
    paths = hostile_documents(root)
    frames = dict(fixture_frames)
    template = fixture_frames["documents"].iloc[[1]]  # Cara's referral letter: a real person
    rows = []
    for i, (name, path) in enumerate(paths.items()):
        row = template.copy()
        row["Id"], row["FILE_PATH"], row["TITLE"] = f"doc-{name}", path, f"Document {i}"
        rows.append(row)
    frames["documents"] = pd.concat(rows, ignore_index=True)
    spec = spec.model_copy(deep=True)
    spec.destination.settings["file_size_limit_bytes"] = 2048
    client = PipedriveClient(sandbox, TOKEN)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")

    def destination() -> PipedriveDestination:
        return PipedriveDestination(client, spec, files_root=root)

    def load(dest, name: str, run: str = "r1"):
        return load_target(spec=spec, target_name=name, payload=build_payload(spec, name, frames), destination=dest,
                           ledger=ledger, run_id=run, wave="full", max_workers=2)

    dest = destination()
    dest.ensure_schema()
    for name in PARENTS:
        assert load(dest, name).failed == 0
    yield {"client": client, "ledger": ledger, "spec": spec, "url": sandbox, "frames": frames, "load": load,
           "destination": destination}
    client.close()


def live_files(client: PipedriveClient) -> list[dict]:
    return [f for f in client.list("file") if f.get("active_flag") is not False]


@pytest.mark.timeout(120, method="thread")  # before the fix the FIFO row blocked the load forever
def test_hostile_document_paths_are_flagged_and_never_uploaded(env):
    summary = env["load"](env["destination"](), "documents")
    assert (summary.created, summary.flagged, summary.failed) == (1, len(HOSTILE_REASONS), 0)
    q = env["ledger"].quarantine_frame(M, "full", "load", "documents")
    assert dict(zip(q["source_id"], q["reason"], strict=True)) == {f"doc-{k}": v for k, v in HOSTILE_REASONS.items()}
    files = live_files(env["client"])
    assert [f["name"] for f in files] == ["good.pdf"]
    assert env["client"].download_file(files[0]["id"]) == b"%PDF-1.4 good document\n"
    with open("/etc/passwd", "rb") as fh:
        passwd = fh.read()
    assert all(env["client"].download_file(f["id"]) not in (passwd, SECRET) for f in files)


def test_lost_crosswalk_rows_and_cut_off_renames_are_adopted_not_duplicated(env):
    client, ledger, spec = env["client"], env["ledger"], env["spec"]
    env["frames"]["documents"] = env["frames"]["documents"].iloc[[0]]  # the good document only
    first = env["load"](env["destination"](), "documents")
    assert first.created == 1
    xw = ledger.crosswalk_frame(M, "documents")
    good = dict(zip(xw["source_id"], xw["dest_id"], strict=True))
    assert list(good) == ["doc-good"]
    file = client.get("file", int(good["doc-good"]))
    assert file["name"] == "good.pdf" and file["description"] == "Source record: documents:doc-good"

    # a crash between the upload and the ledger write: the crosswalk row is gone
    ledger.forget(M, "documents", ["doc-good"])
    before = sandbox_stats(env["url"])["requests_by_operation"].get("POST /api/v1/files", 0)
    again = env["load"](env["destination"](), "documents", run="r2")
    assert (again.adopted, again.created) == (1, 0)
    assert sandbox_stats(env["url"])["requests_by_operation"].get("POST /api/v1/files", 0) == before  # no upload
    assert [f["id"] for f in live_files(client)] == [int(good["doc-good"])]
    assert dict(zip(*[ledger.crosswalk_frame(M, "documents")[c] for c in ("source_id", "dest_id")], strict=True)) == good

    # an upload whose answer was lost before the rename: only the file name carries the key
    ledger.forget(M, "documents", ["doc-good"])
    client.delete("file", int(good["doc-good"]))
    person = file["person_id"]
    raw = client.upload_file(file_name=name_with_key("good.pdf", "documents:doc-good"),
                             content=b"%PDF-1.4 good document\n", person_id=person, content_type="application/pdf")
    third = env["load"](env["destination"](), "documents", run="r3")
    assert (third.adopted, third.created) == (1, 0)
    files = live_files(client)
    assert [(f["id"], f["name"], f["description"]) for f in files] == [
        (raw["id"], "good.pdf", "Source record: documents:doc-good")]

    check = duplicate_check(spec, "documents", env["destination"]())
    assert check.passed and check.metadata["source_ids_in_destination"].value == 1
    # a duplicate planted through the sandbox: the check lists files and fails
    client.upload_file(file_name=name_with_key("copy.pdf", "documents:doc-good"), content=b"copy",
                       person_id=person, content_type="application/pdf")
    check = duplicate_check(spec, "documents", env["destination"]())
    assert not check.passed and check.metadata["duplicates"].value == 1
    assert check.metadata["duplicate_source_ids_sample"].value == ["doc-good"]
    # an update of the record removes the copy: one file per source record again
    ledger.forget(M, "documents", ["doc-good"])
    env["load"](env["destination"](), "documents", run="r4")
    assert [f["id"] for f in live_files(client)] == [raw["id"]]
    assert duplicate_check(spec, "documents", env["destination"]()).passed
