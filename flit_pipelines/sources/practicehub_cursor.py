"""The PracticeHub reader's cursor on disk: one directory per object, ``meta.json`` and one Arrow IPC
file per committed page (``sources.practicehub_api``'s module docstring, "Resumable extraction")."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from flit_pipelines.sources.json_api import text_batch
from flit_pipelines.sources.state_files import write_atomic

__all__ = ["STATE_FORMAT", "PageCursor", "StoredPage"]

log = logging.getLogger(__name__)

STATE_FORMAT = 1



@dataclass(frozen=True)
class StoredPage:
    """One committed page: its rows (text columns), the URL it was read from and its ``links.next``."""

    number: int
    batch: pa.RecordBatch
    url: str
    next_url: str | None
    total_entries: int | None


class PageCursor:
    """The stored extraction state of one object (module docstring, "Resumable extraction").

    Args:
        directory: ``state_dir/<object key>``.
        fingerprint: what must match for stored pages to be reused (JSON-serialisable).
        names: the object's column names (the schema of every page file).
    """

    def __init__(self, directory: Path, fingerprint: dict[str, Any], names: list[str]):
        self.directory = directory
        self.fingerprint = {"format": STATE_FORMAT, **fingerprint}
        self.names = names
        self.schema = pa.schema([(n, pa.string()) for n in names])

    def open(self) -> list[StoredPage]:
        """The pages stored by an unfinished extraction with the same fingerprint (in order), or []
        after discarding a mismatching or inconsistent state."""
        meta_path = self.directory / "meta.json"
        try:
            stored = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            stored = None
        pages: list[StoredPage] = []
        if stored == self.fingerprint:
            try:
                pages = self._load_pages()
            except (OSError, ValueError, pa.ArrowException):
                log.warning("%s: stored cursor unreadable; starting over", self.directory.name)
                pages = []
            if pages:
                return pages
        elif stored is not None:
            log.info("%s: stored cursor is for another window, page size or API base; starting over",
                     self.directory.name)
        self.clear()
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(meta_path, json.dumps(self.fingerprint, sort_keys=True).encode())
        return []

    def _load_pages(self) -> list[StoredPage]:
        files = sorted(self.directory.glob("page-*.arrow"))
        pages = []
        for expected, path in enumerate(files, start=1):
            number = int(path.stem.split("-")[1])
            if number != expected:
                raise ValueError("gap in stored pages")
            with pa.ipc.open_file(path) as reader:
                table = reader.read_all()
            meta = {k.decode(): v.decode() for k, v in (reader.schema.metadata or {}).items()}
            if table.schema.names != self.names:
                raise ValueError("stored columns differ")
            batch = table.combine_chunks().to_batches()[0] if table.num_rows else \
                pa.RecordBatch.from_pylist([], schema=self.schema)
            total = meta.get("total_entries")
            pages.append(StoredPage(number, batch.replace_schema_metadata(None), meta["url"],
                                    meta.get("next") or None, int(total) if total else None))
        return pages

    def append(self, number: int, columns: dict[str, list[str | None]], url: str, next_url: str | None,
               total_entries: int | None) -> pa.RecordBatch:
        """Commit page ``number`` (atomically); returns its rows as a batch without metadata."""
        metadata = {"url": url, "next": next_url or "", "total_entries": "" if total_entries is None else
                    str(total_entries)}
        batch = text_batch(columns, self.names, metadata)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, batch.schema) as writer:
            writer.write_batch(batch)
        write_atomic(self.directory / f"page-{number:08d}.arrow", sink.getvalue().to_pybytes())
        return batch.replace_schema_metadata(None)

    def clear(self) -> None:
        """Forget the stored state (the collection was read to its end, or it is stale)."""
        shutil.rmtree(self.directory, ignore_errors=True)
