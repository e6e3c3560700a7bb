"""Clinic Management Software structured CSV export reader (Synthea CSV layout).

One file per source object with a header row (notes/sources.md section 4.2). The reader streams each
file in bounded blocks and yields Arrow record batches with every declared column as text: typing and
validation happen in ``flit_pipelines.sources.validate`` so that a bad value becomes a quarantine row,
not a crash. It only ever opens files for reading.

Bad input never stops the file and never reaches a message (issue 9). Per file, ``csv_format``
detects the encoding and the delimiter and matches the header to the spec (case- and
whitespace-insensitively; a repeated header is reported, and rows where the repeated columns differ
are quarantined). Per block, ``csv_records`` finds each record's line and field count: blank lines
are skipped and counted; rows with the wrong number of fields, an unterminated quote or malformed
quoting become *reject rows* (all columns null, the reason in ``REJECT_COLUMN``); a record longer
than the block grows the block for the rest of the file. Arrow then parses only the well-formed
records (as binary, so invalid UTF-8 in a read column rejects that row instead of the file). Every
batch carries each row's data-row number and line (``ROW_COLUMN``, ``LINE_COLUMN``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from flit_pipelines.errors import FlitError, SourceFormatError
from flit_pipelines.sources.csv_format import (EncodingGuess, HeaderRow, Utf8Blocks, detect_encoding,
                                               normalise_header, read_header)
from flit_pipelines.sources.csv_records import MALFORMED, UNTERMINATED, Records, count_fields, scan_records
from flit_pipelines.spec.model import SourceObject

# reserved columns of a reader's batches (absent: rows are numbered in batch order, none rejected)
ROW_COLUMN, LINE_COLUMN, REJECT_COLUMN = "__flit_row__", "__flit_line__", "__flit_reject__"
# a header name is listed in metadata only when it looks like a name: a headerless file's first row
# would otherwise put patient values in "extra_columns"
_NAME_LIKE = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .()/#-]{0,79}$")
# the file as a whole is unusable when more than this share of its rows (and at least _MIN_BAD) are malformed
_MAX_BAD_SHARE, _MIN_BAD = 0.5, 10
_MALFORMED = "malformed quoting (a quote inside a quoted value is not doubled)"
_UNTERMINATED = "unterminated quote (the quoted value never closes)"


class MissingColumnError(FlitError, ValueError):
    """A required column is absent from an export file (names the file and the column)."""


class MissingFileError(FlitError, FileNotFoundError):
    """A non-optional object's file is absent from the export directory."""


@dataclass(frozen=True)
class HeaderReport:
    """What the header of one export file holds compared with the spec.

    ``rename``: export header -> canonical column name for every declared column present;
    ``missing_optional``: declared optional columns absent (filled with nulls);
    ``extra``: headers in the file that the spec does not declare (listed in metadata, never read;
    a header that does not look like a name is listed as ``<column N>``).
    CSV files also report: ``positions`` (canonical name -> 0-based file columns holding it: more than
    one for a repeated header), ``duplicate_headers``, ``loose_matches`` (canonical names matched only
    case- or whitespace-insensitively), ``encoding`` (+ ``encoding_how``), ``delimiter``
    (+ ``delimiter_how``), ``fields`` (header fields) and ``header_line``.
    """

    file: str
    present: bool
    rename: dict[str, str] = field(default_factory=dict)
    missing_optional: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    positions: dict[str, list[int]] = field(default_factory=dict)
    duplicate_headers: list[str] = field(default_factory=list)
    loose_matches: list[str] = field(default_factory=list)
    encoding: str | None = None
    encoding_how: str | None = None
    delimiter: str | None = None
    delimiter_how: str | None = None
    fields: int = 0
    header_line: int = 0
    trailing_delimiter: bool = False


@dataclass
class ReadNotes:
    """What one read of a file met, for the extract's metadata (counts only, never values):
    ``blank_lines`` skipped, ``rows_rejected`` (malformed rows turned into reject rows),
    ``block_bytes`` (the largest block read: above the configured one when a record was longer)."""

    blank_lines: int = 0
    rows_rejected: int = 0
    block_bytes: int = 0


def resolve_directory(value: str) -> Path:
    """``package:<path>`` points into the installed package (bundled sample input); else a path."""
    if value.startswith("package:"):
        return Path(str(resources.files("flit_pipelines").joinpath(value.removeprefix("package:"))))
    return Path(value).expanduser()


class CsvExportSource:
    """Reads source objects from one export directory.

    Args:
        directory: the export directory (``CLINIC_EXPORT_DIR``).
        chunk_bytes: bytes read per block; bounds memory per batch (default 4 MiB: roughly 10k-40k
            rows of a Synthea file). A record longer than a block doubles the block for that file.
        encoding: a Python codec for every file; ``None`` detects it per file (``csv_format``).
        delimiter: ``,`` ``;`` tab or ``|``; ``None`` detects it per file from the header row.
        max_record_bytes: a quoted value still open after this many bytes is unterminated; an unquoted
            line longer than this stops the extract with a ``SourceFormatError`` naming file and line.
    """

    def __init__(self, directory: str | Path, *, chunk_bytes: int = 4 << 20, encoding: str | None = None,
                 delimiter: str | None = None, max_record_bytes: int = 64 << 20):
        self.directory = Path(directory)
        self.chunk_bytes = chunk_bytes
        self.encoding = encoding
        self.delimiter = delimiter
        self.max_record_bytes = max(max_record_bytes, chunk_bytes)
        self._encodings: dict[tuple, EncodingGuess] = {}
        self._notes: dict[str, ReadNotes] = {}
        if not self.directory.is_dir():
            raise FileNotFoundError(f"export directory does not exist: {self.directory}")

    def path_of(self, obj: SourceObject) -> Path:
        """The file of an object in the export directory."""
        # a database object's file-export twin drops the schema: admin.v_patient -> v_patient.csv
        return self.directory / (obj.file or f"{str(obj.table).rsplit('.', 1)[-1]}.csv")

    def _encoding(self, path: Path) -> EncodingGuess:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in self._encodings:
            self._encodings[key] = detect_encoding(path, self.encoding)
        return self._encodings[key]

    def _header_row(self, obj: SourceObject, path: Path, guess: EncodingGuess) -> HeaderRow:
        return read_header(path, guess, [c.source or n for n, c in obj.columns.items()],
                           declared_delimiter=self.delimiter, block_bytes=min(self.chunk_bytes, 1 << 20),
                           max_record_bytes=self.max_record_bytes)

    def file_header(self, file: str) -> HeaderRow:
        """The header record of ``file`` in the export directory as written, read with the detected
        encoding and delimiter (for profiling a file no spec describes yet, e.g. ``flit propose``).

        Raises SourceFormatError as ``read_header`` does (empty, binary, header record too long).
        """
        path = self.directory / file
        return read_header(path, self._encoding(path), [], declared_delimiter=self.delimiter,
                           block_bytes=min(self.chunk_bytes, 1 << 20), max_record_bytes=self.max_record_bytes)

    def header(self, obj: SourceObject) -> HeaderReport:
        """Compare the file's header with the spec.

        Raises:
            MissingFileError: the file is absent and the object is not optional.
            MissingColumnError: a required column is absent (message names file and column).
            SourceFormatError: the file as a whole is unusable (empty, binary; names file and line).
        """
        path = self.path_of(obj)
        if not path.exists():
            if obj.optional:
                return HeaderReport(file=path.name, present=False,
                                    missing_optional=[c for c in obj.columns])
            raise MissingFileError(f"{path.name}: file not found in the export directory {self.directory}")
        guess = self._encoding(path)
        row = self._header_row(obj, path, guess)
        headers = row.names
        loose: dict[str, list[int]] = {}
        for i, h in enumerate(headers):
            loose.setdefault(normalise_header(h), []).append(i)
        rename: dict[str, str] = {}
        positions: dict[str, list[int]] = {}
        missing_optional, loose_matches = [], []
        for name, col in obj.columns.items():
            src = col.source or name
            exact = [i for i, h in enumerate(headers) if h == src]
            found = exact + [i for i in loose.get(normalise_header(src), []) if i not in exact]
            if found:
                positions[name] = found
                rename[headers[found[0]]] = name
                if not exact:
                    loose_matches.append(name)
            elif col.required:
                raise MissingColumnError(f"{path.name}: required column {src!r} is missing")
            else:
                missing_optional.append(name)
        used = {i for ps in positions.values() for i in ps}
        extra = [h if _NAME_LIKE.match(h) else f"<column {i + 1}>" for i, h in enumerate(headers) if i not in used]
        dupes = sorted({headers[ps[0]] if _NAME_LIKE.match(headers[ps[0]]) else f"<column {ps[0] + 1}>"
                        for ps in loose.values() if len(ps) > 1})
        return HeaderReport(file=path.name, present=True, rename=rename, missing_optional=missing_optional,
                            extra=extra, positions=positions, duplicate_headers=dupes, loose_matches=loose_matches,
                            encoding=guess.encoding, encoding_how=guess.how, delimiter=row.delimiter,
                            delimiter_how=row.delimiter_how, fields=len(headers), header_line=row.line,
                            trailing_delimiter=row.trailing_delimiter)

    def read_notes(self, obj: SourceObject) -> ReadNotes | None:
        """The notes of the latest ``read`` of ``obj``'s file (``None`` before any)."""
        return self._notes.get(self.path_of(obj).name)

    def read(self, obj: SourceObject, since: datetime | None = None) -> Iterator[pa.RecordBatch]:
        """Yield record batches holding the declared columns (canonical names), all as text: the
        rows ``read_rows`` yields without its reserved columns and without the rows it rejects (key
        scans, probes and samples read this; the extract reads ``read_rows`` and quarantines them).

        Optional columns missing from the file come back as all-null columns, so downstream code
        sees one shape. ``since`` is accepted for the Source protocol; CSV exports carry no
        modification time, so deltas come from a newer export (issue: delta pickup).
        """
        names = list(obj.columns)
        for batch in self.read_rows(obj, since):
            reject = batch.column(REJECT_COLUMN)
            if reject.null_count != len(reject):
                batch = batch.filter(pc.is_null(reject))
            if batch.num_rows:
                yield batch.select(names)

    def read_rows(self, obj: SourceObject, since: datetime | None = None) -> Iterator[pa.RecordBatch]:
        """Like ``read``, every row of the file: the declared columns plus ``ROW_COLUMN`` /
        ``LINE_COLUMN`` (int64) and ``REJECT_COLUMN`` (why the row cannot be read, else null; a
        rejected row's other columns are null unless only a repeated header's copies differ).

        Raises:
            SourceFormatError: a line longer than ``max_record_bytes`` outside quotes, or most rows
                malformed (the file as a whole is unusable; names file and first bad line).
        """
        report = self.header(obj)
        if not report.present:
            return
        path = self.path_of(obj)
        notes = self._notes[path.name] = ReadNotes(block_bytes=self.chunk_bytes)
        plan = _BlockParser(obj, report)
        line_base, row_base, header_seen, size = 0, 0, False, self.chunk_bytes
        carry = b""
        first_bad: int | None = None
        with Utf8Blocks(path, self._encoding(path)) as blocks:
            while not blocks.eof:
                data = carry + blocks.read(size)
                buf = np.frombuffer(data, dtype=np.uint8)
                recs = scan_records(buf, plan.delim, final=blocks.eof, max_record=self.max_record_bytes, count=False)
                if not len(recs):
                    if len(data) > self.max_record_bytes:
                        raise SourceFormatError(
                            f"{path.name}, line {line_base + 1}: a row longer than {self.max_record_bytes} bytes "
                            "(no line break); check that this is the export file")
                    size = min(size * 2, self.max_record_bytes)  # a record longer than the block
                    notes.block_bytes = max(notes.block_bytes, size)
                    carry = data
                    continue
                keep = np.ones(len(recs), dtype=bool)
                if not header_seen:  # blank lines before the header, then the header itself
                    first = np.flatnonzero(~recs.blank)
                    upto = int(first[0]) + 1 if len(first) else len(recs)
                    keep[:upto] = False
                    header_seen = bool(len(first))
                try:
                    out = plan.split(buf, recs, keep, line_base, row_base)
                except _FieldsNeeded:  # Arrow met a row that does not fit the header: count every record's fields
                    out = plan.split(buf, count_fields(buf, recs, plan.delim), keep, line_base, row_base)
                notes.blank_lines += out.blank
                notes.rows_rejected += out.rejected
                if out.rejected and first_bad is None:
                    first_bad = out.first_bad_line
                line_base += recs.lines
                row_base = out.next_row
                carry = data[recs.consumed:]
                yield from out.batches
        rows = row_base
        if notes.rows_rejected >= _MIN_BAD and notes.rows_rejected > _MAX_BAD_SHARE * rows:
            raise SourceFormatError(
                f"{path.name}: {notes.rows_rejected} of {rows} rows are malformed (first at line {first_bad}; "
                f"the header has {report.fields} fields, delimiter {report.delimiter!r}); the file as a whole "
                "does not match its header: check the export's layout and delimiter")


class _FieldsNeeded(Exception):
    """A block parsed with uncounted fields held a row Arrow could not fit to the header."""


@dataclass
class _BlockOut:
    batches: list[pa.RecordBatch]
    blank: int
    rejected: int
    next_row: int
    first_bad_line: int | None


class _BlockParser:
    """Turns the records of one block into batches: Arrow parses the well-formed ones; the others
    become reject rows. Column plan from the header report (positions of each declared column)."""

    def __init__(self, obj: SourceObject, report: HeaderReport):
        self.names = list(obj.columns)
        self.delim = ord(report.delimiter or ",")
        self.fields = report.fields
        self.positions = report.positions
        self.encoding = report.encoding or "utf-8"
        self.read_cols = sorted({i for ps in report.positions.values() for i in ps})
        self.all_names = [f"c{i}" for i in range(report.fields)]

    def split(self, buf: np.ndarray, recs: Records, keep: np.ndarray, line_base: int, row_base: int) -> _BlockOut:
        data_rec = keep & ~recs.blank
        blank = int(recs.blank.sum())  # before the header too
        row = row_base + np.cumsum(data_rec)  # 1-based data-row number of each record
        line = line_base + recs.line + 1
        if recs.fields is None and (data_rec & recs.trailing_delimiter).any():
            recs = count_fields(buf, recs, self.delim)  # "a,b,c," needs its count to be told from "a,b,"
        assumed = recs.fields is None  # every record taken to fit the header: Arrow's parser checks it
        fields = np.full(len(recs), self.fields, dtype=np.int64) if recs.fields is None else recs.fields.copy()
        strip = data_rec & recs.trailing_delimiter & (fields == self.fields + 1)  # "a,b,c," under "A,B,C"
        fields[strip] -= 1
        reason = np.full(len(recs), None, dtype=object)
        ragged = data_rec & (fields != self.fields)
        if ragged.any():
            reason[ragged] = [f"row has {k} fields, the header {self.fields}" for k in fields[ragged]]
        reason[data_rec & (recs.quote == MALFORMED)] = _MALFORMED
        reason[data_rec & (recs.quote == UNTERMINATED)] = _UNTERMINATED
        bad = data_rec & (reason != None)  # noqa: E711 - element-wise
        good = data_rec & ~bad
        batches = []
        if good.any():
            batches.append(self._parse(buf, recs, good, strip, row[good], line[good], assumed))
        if bad.any():
            n = int(bad.sum())
            cols = [pa.nulls(n, pa.string()) for _ in self.names]
            batches.append(pa.RecordBatch.from_arrays(
                [*cols, pa.array(row[bad], pa.int64()), pa.array(line[bad], pa.int64()),
                 pa.array(reason[bad].tolist(), pa.string())],
                names=[*self.names, ROW_COLUMN, LINE_COLUMN, REJECT_COLUMN]))
        first_bad = int(line[bad][0]) if bad.any() else None
        return _BlockOut(batches, blank, int(bad.sum()), int(row[-1]) if len(row) else row_base, first_bad)

    def _parse(self, buf: np.ndarray, recs: Records, good: np.ndarray, strip: np.ndarray, rows: np.ndarray,
               lines: np.ndarray, assumed: bool = False) -> pa.RecordBatch:
        """Arrow's parse of the good records. ``assumed``: their field counts were not counted; a row
        Arrow cannot fit to the header then raises ``_FieldsNeeded`` (the caller counts and splits again)."""
        drop = ~good
        lead = int(np.argmax(good))  # records before the first good one (the header, blank lines)
        if drop[lead:].any() or strip.any():  # cut blank/bad records and trailing delimiters out of the block
            delta = np.zeros(recs.consumed + 1, dtype=np.int32)
            delta[recs.start[drop]] += 1
            delta[recs.stop[drop]] -= 1
            mask = np.cumsum(delta[:-1]) == 0
            mask[recs.end[strip] - 1] = False
            body = buf[:recs.consumed][mask]
        else:
            body = buf[int(recs.start[lead]):recs.consumed]
        n = int(good.sum())
        longest = int((recs.end - recs.start)[good].max())
        invalid = [0]

        def skip(_row) -> str:  # only for a row that does not fit the header; never keeps the row's text
            invalid[0] += 1
            return "skip"

        wanted = [self.all_names[i] for i in self.read_cols]

        def parse(as_type: pa.DataType) -> pa.Table:
            invalid[0] = 0
            return pacsv.read_csv(
                pa.BufferReader(pa.py_buffer(body)),
                read_options=pacsv.ReadOptions(column_names=self.all_names, block_size=max(1 << 20, 2 * longest + 64)),
                parse_options=pacsv.ParseOptions(delimiter=chr(self.delim), quote_char='"', double_quote=True,
                                                  escape_char=False, ignore_empty_lines=False,
                                                  newlines_in_values=bool((recs.inner_breaks[good] > 0).any()),
                                                  invalid_row_handler=skip),
                convert_options=pacsv.ConvertOptions(include_columns=wanted, column_types={c: as_type for c in wanted},
                                                     strings_can_be_null=True, null_values=[""],
                                                     quoted_strings_can_be_null=True))

        try:  # text straight away: Arrow checks UTF-8 while it converts (one pass less than binary + cast)
            table = parse(pa.string())
        except pa.ArrowInvalid:  # some value is not UTF-8 (or the block does not parse): per column below
            try:
                table = parse(pa.binary())
            except pa.ArrowInvalid:
                if assumed:  # decide with counted fields, as every block was before
                    raise _FieldsNeeded from None
                raise
        if (table.num_rows != n or invalid[0]) and assumed:
            raise _FieldsNeeded
        if table.num_rows != n or invalid[0]:
            raise SourceFormatError(f"lines {int(lines[0])}-{int(lines[-1])}: the CSV parser read {table.num_rows} "
                                    f"rows where the record scan found {n}; the file's quoting is not readable")
        cols, problems = [], []
        for name in self.names:
            ps = self.positions.get(name)
            if not ps:
                cols.append(pa.nulls(n, pa.string()))
                continue
            raw = table.column(self.all_names[ps[0]]).combine_chunks()
            try:
                text = raw.cast(pa.string())  # binary: validates UTF-8; string (the usual block): no-op
            except pa.ArrowInvalid:
                undecodable = invalid_utf8_rows(raw)
                problems.append((undecodable, f"{name}: not valid {self.encoding} text"))
                text = pc.if_else(pa.array(undecodable), pa.scalar(None, pa.binary()), raw).cast(pa.string())
            for p in ps[1:]:  # a repeated header: the row is fine only if the copies agree
                other = table.column(self.all_names[p]).combine_chunks()
                same = pc.or_(pc.fill_null(pc.equal(raw, other), False), pc.and_(pc.is_null(raw), pc.is_null(other)))
                if not pc.all(same).as_py():
                    differ = ~same.to_numpy(zero_copy_only=False)
                    problems.append((differ, f"{name}: repeated header, the copies differ"))
            cols.append(text)
        reject = _join_reasons(problems, n)
        return pa.RecordBatch.from_arrays(
            [*cols, pa.array(rows, pa.int64()), pa.array(lines, pa.int64()), reject],
            names=[*self.names, ROW_COLUMN, LINE_COLUMN, REJECT_COLUMN])


def invalid_utf8_rows(arr: pa.Array) -> np.ndarray:
    """Bool per value of a binary array: it is not valid UTF-8. Vectorised: the values' bytes are
    decoded together (``surrogateescape``), each undecodable byte is located through the code points'
    UTF-8 lengths and mapped to its value by the offsets. A value starting with a continuation byte
    is invalid, and so (conservatively) is the value before it when that one ends in a non-ASCII byte
    (a sequence cut across the two would otherwise decode as one character)."""
    n = len(arr)
    bad = np.zeros(n, dtype=bool)
    if n == 0:
        return bad
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + n + 1].astype(np.int64)
    lo, hi = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[lo:hi] if hi > lo else np.zeros(0, np.uint8)
    text = data.tobytes().decode("utf-8", "surrogateescape")
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    escaped = (cp >= 0xDC80) & (cp <= 0xDCFF)
    width = np.where(cp < 0x80, 1, np.where(cp < 0x800, 2, np.where(cp < 0x10000, 3, 4)))
    width[escaped] = 1
    at = np.concatenate(([0], np.cumsum(width)[:-1])) + lo
    bad[np.searchsorted(offsets, at[escaped], side="right") - 1] = True
    first = offsets[:-1]
    nonempty = offsets[1:] > first
    cont = np.zeros(n, dtype=bool)
    cont[nonempty] = (data[first[nonempty] - lo] & 0xC0) == 0x80
    bad |= cont
    before = np.flatnonzero(cont[1:])
    ends_high = nonempty[before] & (data[np.maximum(offsets[1:][before] - 1 - lo, 0)] >= 0x80)
    bad[before[ends_high]] = True
    return bad & arr.is_valid().to_numpy(zero_copy_only=False)


def _join_reasons(problems: list[tuple[np.ndarray, str]], n: int) -> pa.Array:
    if not problems:
        return pa.nulls(n, pa.string())
    acc = np.full(n, "", dtype=object)
    for mask, text in problems:
        idx = np.flatnonzero(mask)
        acc[idx] = [a + "; " + text if a else text for a in acc[idx]]  # rows with a problem only
    return pa.array(np.where(acc == "", None, acc).tolist(), pa.string())
