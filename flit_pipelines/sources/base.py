"""What every source reader offers (ARCHITECTURE.md "Interfaces").

A reader turns one spec ``SourceObject`` into Arrow record batches whose columns are the object's
declared columns under their canonical names, **all as text** (``pa.string()``), nulls as nulls, in
bounded batches. Typing and validation happen downstream (``sources.validate``), so every reader
produces the same text forms: dates ``YYYY-MM-DD``, timestamps ``YYYY-MM-DD HH:MM:SS[.ffffff]``
(ISO 8601, ``T`` or space), numbers in plain decimal notation (``1234.5``, never ``1.2345e3``),
booleans ``true``/``false``.

A reader may also offer ``read_rows(obj, since)`` (the CSV export reader does): the same batches
plus three reserved columns, ``ROW_COLUMN`` (the row's 1-based data-row number), ``LINE_COLUMN`` (the
physical line it starts on) and ``REJECT_COLUMN`` (why the reader could not read the row, e.g.
``row has 18 fields, the header 17`` or a FHIR resource failing its model; names elements and checks,
never values; null for readable rows), and the rejected rows themselves,
which ``read`` leaves out. ``run_extract`` reads ``read_rows`` where offered and quarantines a
rejected row with its reason; other readers' rows are numbered in batch order. ``read_notes(obj)``
(``csv_export.ReadNotes``: blank lines, block size) feeds the extract's metadata.

A reader may instead offer ``read_typed(obj, since)`` (the database reader does): the same batches,
but a column keeps its source's Arrow type where it maps onto the spec type (``sources.arrow_typed``:
numbers, dates, timestamps, booleans); every other column is canonical text as above. ``run_extract``
prefers it, so typed values reach the extract without a text round trip.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

import pyarrow as pa

from flit_pipelines.sources.csv_export import LINE_COLUMN, REJECT_COLUMN, ROW_COLUMN, HeaderReport
from flit_pipelines.spec.model import SourceObject

__all__ = ["LINE_COLUMN", "REJECT_COLUMN", "ROW_COLUMN", "HeaderReport", "Source"]


class Source(Protocol):
    """A source system reader. Read-only: no reader ever writes to the source."""

    def header(self, obj: SourceObject) -> HeaderReport:
        """Compare what the source offers for ``obj`` with the spec (renames, missing optional, extra).

        Raises MissingFileError (absent non-optional object) or MissingColumnError (required column
        absent; the message names object and column, never a value).
        """
        ...

    def read(self, obj: SourceObject, since: datetime | None = None) -> Iterator[pa.RecordBatch]:
        """Text batches of the declared columns; ``since`` keeps rows modified after it (delta pickup)."""
        ...
