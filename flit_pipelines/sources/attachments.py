"""Stage attachments that an API serves behind its own auth (``SourceObject.download``) as local files.

During extract, each kept row's URL is fetched once with the source's credentials and written to
``<files root>/<path template>``; files already there are not fetched again (reruns and resumed
extracts cost nothing). Loads then read local files exactly as they read an export's. A download
that fails is counted, and its file stays absent: the file target flags that row ("file missing")
instead of dropping it. Errors name the object and the count, never a URL or a file name (PHI).
Paths are resolved through ``flit_pipelines.files`` (the same rules the loads read them by: inside the
root after following links), and files are written without following a planted link.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from flit_pipelines.files import DocumentFiles, FileRejected, write_staged
from flit_pipelines.spec.model import SourceObject
from flit_pipelines.transform.values import render_template

log = logging.getLogger(__name__)


class Downloader(Protocol):
    """A source that can fetch an attachment's bytes (``AscendApiSource.download``)."""

    def download(self, url: str) -> bytes: ...


@dataclass
class DownloadStats:
    """Files fetched now, already present, and failed (left absent) for one object; ``no_url``: rows
    without an attachment URL (nothing to fetch, e.g. a FHIR DocumentReference holding inline text)."""
    fetched: int = 0
    present: int = 0
    failed: int = 0
    no_url: int = 0


def stage_downloads(source: Downloader, obj: SourceObject, frame: pd.DataFrame, root: Path) -> DownloadStats:
    """Fetch every row's ``obj.download.url_column`` into ``root / <path template>`` unless present.

    ``frame`` holds the object's extracted rows. Paths that would leave ``root`` are refused (counted
    failed). Writes are atomic (temp file + rename), so a crash never leaves half a file.
    """
    spec = obj.download
    assert spec is not None
    stats = DownloadStats()
    if frame.empty:
        return stats
    rels = render_template(frame, spec.path)
    files = DocumentFiles(root)
    for url, rel in zip(frame[spec.url_column], rels, strict=True):
        if pd.isna(url):
            stats.no_url += 1
            continue
        if pd.isna(rel):
            stats.failed += 1
            continue
        try:
            dest = files.resolve(rel)
        except FileRejected:
            stats.failed += 1
            continue
        if files.check(rel).ok:
            stats.present += 1
            continue
        try:
            data = source.download(str(url))
        except Exception as exc:  # one failed file must not stop the others; the load flags it
            log.warning("attachment download failed (%s)", type(exc).__name__)
            stats.failed += 1
            continue
        try:
            write_staged(files, dest, data)
        except (FileRejected, OSError) as exc:
            log.warning("attachment could not be staged (%s)", type(exc).__name__)
            stats.failed += 1
            continue
        stats.fetched += 1
    return stats
