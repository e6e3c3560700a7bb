"""What every source reader offers (ARCHITECTURE.md "Interfaces").

A reader turns one spec ``SourceObject`` into Arrow record batches whose columns are the object's
declared columns under their canonical names, **all as text** (``pa.string()``), nulls as nulls, in
bounded batches. Typing and validation happen downstream (``sources.validate``), so every reader
produces the same text forms: dates ``YYYY-MM-DD``, timestamps ``YYYY-MM-DD HH:MM:SS[.ffffff]``
(ISO 8601, ``T`` or space), numbers in plain decimal notation (``1234.5``, never ``1.2345e3``),
booleans ``true``/``false``.

A reader may add one more column, ``REJECT_COLUMN``: a non-null value there means the row could not
be read (a FHIR resource failing its model, an unreadable line) and is that row's quarantine reason
(names elements and checks, never values); ``run_extract`` quarantines such rows before typing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

import pyarrow as pa

from flit_pipelines.sources.csv_export import HeaderReport
from flit_pipelines.spec.model import SourceObject

REJECT_COLUMN = "__flit_reject_reason__"


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
