"""Clinic Management Software structured CSV export reader (Synthea CSV layout).

One file per source object, UTF-8, header row (notes/sources.md section 4.2). The reader streams each
file in bounded Arrow record batches with every column read as text: typing and validation happen in
``flit_pipelines.sources.validate`` so that a bad value becomes a quarantine row, not a crash. The
reader only ever opens files for reading.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from flit_pipelines.spec.model import SourceObject


class MissingColumnError(ValueError):
    """A required column is absent from an export file (names the file and the column)."""


class MissingFileError(FileNotFoundError):
    """A non-optional object's file is absent from the export directory."""


@dataclass(frozen=True)
class HeaderReport:
    """What the header of one export file holds compared with the spec.

    ``rename``: export header -> canonical column name for every declared column present;
    ``missing_optional``: declared optional columns absent (filled with nulls);
    ``extra``: headers in the file that the spec does not declare (listed in metadata, never read).
    """

    file: str
    present: bool
    rename: dict[str, str] = field(default_factory=dict)
    missing_optional: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def resolve_directory(value: str) -> Path:
    """``package:<path>`` points into the installed package (bundled sample input); else a path."""
    if value.startswith("package:"):
        return Path(str(resources.files("flit_pipelines").joinpath(value.removeprefix("package:"))))
    return Path(value).expanduser()


class CsvExportSource:
    """Reads source objects from one export directory.

    Args:
        directory: the export directory (``CLINIC_EXPORT_DIR``).
        chunk_bytes: Arrow CSV block size; bounds memory per batch (default 4 MiB: roughly 10k-40k
            rows of a Synthea file; the reader's read-ahead holds a few blocks more).
    """

    def __init__(self, directory: str | Path, *, chunk_bytes: int = 4 << 20):
        self.directory = Path(directory)
        self.chunk_bytes = chunk_bytes
        if not self.directory.is_dir():
            raise FileNotFoundError(f"export directory does not exist: {self.directory}")

    def path_of(self, obj: SourceObject) -> Path:
        """The file of an object in the export directory."""
        # a database object's file-export twin drops the schema: admin.v_patient -> v_patient.csv
        return self.directory / (obj.file or f"{str(obj.table).rsplit('.', 1)[-1]}.csv")

    def header(self, obj: SourceObject) -> HeaderReport:
        """Compare the file's header with the spec.

        Raises:
            MissingFileError: the file is absent and the object is not optional.
            MissingColumnError: a required column is absent (message names file and column).
        """
        path = self.path_of(obj)
        if not path.exists():
            if obj.optional:
                return HeaderReport(file=path.name, present=False,
                                    missing_optional=[c for c in obj.columns])
            raise MissingFileError(f"{path.name}: file not found in the export directory {self.directory}")
        with path.open(newline="", encoding="utf-8-sig") as fh:
            headers = next(csv.reader(fh), [])
        rename: dict[str, str] = {}
        missing_optional: list[str] = []
        for name, col in obj.columns.items():
            src = col.source or name
            if src in headers:
                rename[src] = name
            elif col.required:
                raise MissingColumnError(f"{path.name}: required column {src!r} is missing")
            else:
                missing_optional.append(name)
        extra = [h for h in headers if h not in rename]
        return HeaderReport(file=path.name, present=True, rename=rename,
                            missing_optional=missing_optional, extra=extra)

    def read(self, obj: SourceObject, since: datetime | None = None) -> Iterator[pa.RecordBatch]:
        """Yield record batches holding the declared columns (canonical names), all as text.

        Optional columns missing from the file come back as all-null columns, so downstream code
        sees one shape. ``since`` is accepted for the Source protocol; CSV exports carry no
        modification time, so deltas come from a newer export (issue: delta pickup).
        """
        report = self.header(obj)
        names = list(obj.columns)
        if not report.present:
            return
        read_opts = pacsv.ReadOptions(block_size=self.chunk_bytes, encoding="utf8")
        convert = pacsv.ConvertOptions(
            include_columns=list(report.rename),
            column_types={src: pa.string() for src in report.rename},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        )
        parse = pacsv.ParseOptions(newlines_in_values=True)
        with pacsv.open_csv(self.path_of(obj), read_options=read_opts, parse_options=parse,
                            convert_options=convert) as reader:
            for batch in reader:
                cols = {report.rename[src]: batch.column(i) for i, src in enumerate(batch.schema.names)}
                arrays = [cols[n] if n in cols else pa.nulls(batch.num_rows, pa.string()) for n in names]
                yield pa.RecordBatch.from_arrays(arrays, names=names)
