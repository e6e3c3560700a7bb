"""``flit_pipelines.files`` on a real filesystem: containment, file types, size caps, read deadline; and
its users that read files outside a load: the PHI detector and attachment staging (issue 9 item 5)."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from flit_pipelines.files import (
    CHANGED, NOT_REGULAR, OUTSIDE, TIMED_OUT, DocumentFiles, FileRejected, key_in_name, name_with_key, too_large)
from flit_pipelines.sources.attachments import stage_downloads
from flit_pipelines.spec.model import ColumnSpec, DownloadSpec, PhiReview, SourceObject
from flit_pipelines.transform.phi import detect
from flit_pipelines_tests.destinations.helpers import HOSTILE_REASONS, SECRET, hostile_documents


@pytest.mark.timeout(30)  # a FIFO opened for reading would block forever
def test_every_hostile_path_is_refused_with_its_reason_and_never_opened(tmp_path):
    root = tmp_path / "export"
    paths = hostile_documents(root)
    files = DocumentFiles(root, size_limit=2048)
    reasons = {name: files.check(path).reason for name, path in paths.items()}
    assert reasons == {"good": None, **HOSTILE_REASONS}
    assert files.read(paths["good"]) == b"%PDF-1.4 good document\n"
    for name, path in paths.items():
        if name != "good":
            with pytest.raises(FileRejected) as err:
                files.read(path)
            assert err.value.reason == HOSTILE_REASONS[name]
            assert path not in str(err.value) and "secret" not in str(err.value)
    # a device file inside the root is refused by type, not only by place
    assert DocumentFiles("/dev").check("zero").reason == NOT_REGULAR
    # Windows separators and a dot-dot path that stays inside are fine
    assert files.check("docs\\good.pdf").ok and files.check("docs/../docs/good.pdf").ok
    assert files.check(str(root / "docs" / "good.pdf")).ok  # absolute, but inside the root
    assert DocumentFiles(root).check(".").reason == OUTSIDE  # the root itself is no document


def test_reads_stop_at_the_cap_and_at_the_deadline(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"x" * 10_000)
    files = DocumentFiles(tmp_path, size_limit=20_000, chunk_bytes=1000)
    assert len(files.read("a.txt")) == 10_000
    with pytest.raises(FileRejected) as err:
        files.read("a.txt", limit=4000)
    assert err.value.reason == too_large(4001, 4000)
    assert files.read("a.txt", limit=4000, truncate=True) == b"x" * 4000
    assert files.read_prefix("a.txt", 3) == b"xxx"
    ticks = iter(range(0, 1000, 50))  # a slow share: every chunk takes 50 "seconds" of the injected clock
    slow = DocumentFiles(tmp_path, size_limit=20_000, read_timeout=120, clock=lambda: next(ticks), chunk_bytes=1000)
    with pytest.raises(FileRejected) as err:
        slow.read("a.txt")
    assert err.value.reason == TIMED_OUT


def test_a_file_swapped_for_a_link_after_the_check_is_refused(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "a.pdf").write_bytes(b"checked")
    (tmp_path / "secret.pdf").write_bytes(SECRET)
    files = DocumentFiles(tmp_path / "root")
    doc = files.check("a.pdf")
    assert doc.ok and doc.size == 7
    os.replace(tmp_path / "root" / "a.pdf", tmp_path / "root" / "old.pdf")
    (tmp_path / "root" / "a.pdf").symlink_to(tmp_path / "secret.pdf")
    with pytest.raises(FileRejected) as err:
        files.read(doc)
    assert err.value.reason == CHANGED


def test_source_keys_survive_in_file_names():
    name = name_with_key("Lab report.pdf", "documents:de00/1 x")
    assert name.startswith("Lab report__flit_") and name.endswith(".pdf") and "/" not in name
    assert key_in_name(name) == "documents:de00/1 x"
    assert key_in_name("Lab report.pdf") is None and key_in_name("x__flit_zz.pdf") is None


@pytest.mark.timeout(30)
def test_phi_review_reads_only_regular_files_inside_the_export(tmp_path):
    root = tmp_path / "export"
    paths = hostile_documents(root)
    (root.parent / "outside" / "ssn.txt").write_text("SSN 123-45-6789\n")
    (root / "docs" / "inside.txt").write_text("Patient DOB: 01/02/1990\n")
    os.mkfifo(root / "docs" / "pipe.txt")
    payload = pd.DataFrame({"source_id": ["1", "2", "3", "4"],
                            "file_path": ["docs/inside.txt", str(root.parent / "outside" / "ssn.txt"),
                                          "../outside/ssn.txt", "docs/pipe.txt"]})
    review = PhiReview(text_file_column="file_path", patterns=["ssn", "dob"])
    found = detect(payload, review, files_root=root)
    assert found.tolist() == ["dob", pd.NA, pd.NA, pd.NA]  # outside files and the FIFO are never read
    assert paths["good"]


class _Served:
    def __init__(self, blobs: dict[str, bytes]):
        self.blobs, self.calls = blobs, 0

    def download(self, url: str) -> bytes:
        self.calls += 1
        return self.blobs[url]


def test_attachment_staging_never_writes_outside_the_root(tmp_path):
    root = tmp_path / "files"
    (root / "2").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"untouched")
    (root / "2" / "b.pdf.part").symlink_to(victim)  # a planted link where the temp file goes
    obj = SourceObject(endpoint="/v1/docs", columns={"id": ColumnSpec(), "name": ColumnSpec(), "url": ColumnSpec()},
                       download=DownloadSpec(url_column="url", path="{id}/{name}"))
    frame = pd.DataFrame({"id": ["1", "2", "3"], "name": ["a.pdf", "b.pdf", "../../victim.txt"],
                          "url": ["u1", "u2", "u3"]}).astype("string")
    served = _Served({"u1": b"one", "u2": b"two", "u3": b"evil"})
    stats = stage_downloads(served, obj, frame, root)
    assert (stats.fetched, stats.failed, served.calls) == (2, 1, 2)
    assert (root / "1" / "a.pdf").read_bytes() == b"one" and (root / "2" / "b.pdf").read_bytes() == b"two"
    assert victim.read_bytes() == b"untouched"
    again = stage_downloads(served, obj, frame, root)
    assert (again.present, again.fetched, served.calls) == (2, 0, 2)
