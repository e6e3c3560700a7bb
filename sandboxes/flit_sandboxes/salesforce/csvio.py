"""Bulk API 2.0 CSV: strict parsing of uploads and writing of result files (notes §1.2, §1.1 item 5).

Parsing (job's ``columnDelimiter`` and ``lineEnding``):

- RFC-4180 quoting: a quoted value may hold the delimiter, newlines and doubled quotes; values are
  **not trimmed**. Text after a closing quote (e.g. a space) or a quote inside an unquoted value makes
  that **row** fail (notes §1.2); a row with a different number of cells than the header fails too.
  Row error text ``INVALID_FIELD:Failed to parse CSV row: ...`` is UNCONFIRMED.
- A CRLF in an ``LF`` job (or a bare LF in a ``CRLF`` job) fails the whole job with
  ``ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF`` (a real
  Salesforce message; UNCONFIRMED here); an unterminated quote fails the job too. Blank lines are skipped;
  a UTF-8 BOM is ignored.

Writing: every cell quoted (``"sf__Id","sf__Created",...``), quotes doubled, the job's delimiter and line
ending (UNCONFIRMED: results always use the job's settings).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}


class CsvJobError(ValueError):
    """The upload cannot be parsed at all: the job fails with this ``errorMessage``."""


@dataclass
class CsvRow:
    """One data row: its cells (as uploaded) or the reason it could not be parsed."""

    cells: list[str]
    error: str | None = None


def parse(text: str, delimiter: str = ",", line_ending: str = "LF") -> tuple[list[str], list[CsvRow]]:
    """``(header, rows)`` of an upload; raises ``CsvJobError``."""
    if text.startswith("\ufeff"):
        text = text[1:]
    records = list(_records(text, delimiter, line_ending))
    records = [r for r in records if not (len(r.cells) == 1 and r.cells[0] == "" and r.error is None)]
    if not records:
        raise CsvJobError("InvalidBatch : Failed to parse CSV header: the upload is empty")
    header = records[0]
    if header.error:
        raise CsvJobError(f"InvalidBatch : Failed to parse CSV header: {header.error}")
    rows = []
    for record in records[1:]:
        if record.error is not None:
            record = CsvRow(record.cells, f"Failed to parse CSV row: {record.error}")
        elif len(record.cells) != len(header.cells):
            record = CsvRow(record.cells, f"Failed to parse CSV row: found {len(record.cells)} values, the header has "
                                          f"{len(header.cells)}")
        rows.append(record)
    return header.cells, rows


def _records(text: str, delimiter: str, line_ending: str) -> Iterable[CsvRow]:
    length, index = len(text), 0
    while index < length:
        cells: list[str] = []
        error: str | None = None
        while True:  # one cell per pass
            if index < length and text[index] == '"':
                index += 1
                value = []
                while True:
                    if index >= length:
                        raise CsvJobError("InvalidBatch : Failed to parse CSV. Found unescaped quote. A value with a "
                                          "quote should be within a quote")
                    char = text[index]
                    if char == '"':
                        if text.startswith('""', index):
                            value.append('"')
                            index += 2
                            continue
                        index += 1
                        break
                    value.append(char)
                    index += 1
                if index < length and text[index] != delimiter and not _at_end(text, index):
                    error = error or "text found after a closing quote"
                    while index < length and text[index] != delimiter and not _at_end(text, index):
                        index += 1
                cells.append("".join(value))
            else:
                start = index
                while index < length and text[index] != delimiter and not _at_end(text, index):
                    index += 1
                value_text = text[start:index]
                if '"' in value_text:
                    error = error or "a quote inside an unquoted value"
                cells.append(value_text)
            if index < length and text[index] == delimiter:
                index += 1
                continue
            break
        if index < length:
            if line_ending == "LF" and text.startswith("\r\n", index):
                raise CsvJobError("ClientInputError : LineEnding is invalid on user data. Current LineEnding setting "
                                  "is LF")
            if line_ending == "CRLF" and not text.startswith("\r\n", index):
                raise CsvJobError("ClientInputError : LineEnding is invalid on user data. Current LineEnding setting "
                                  "is CRLF")
            index += 2 if line_ending == "CRLF" else 1
        yield CsvRow(cells, error)


def _at_end(text: str, index: int) -> bool:
    """A record terminator (or the other kind, which the caller reports) starts at ``index``."""
    return text[index] == "\n" or text.startswith("\r\n", index)


def write(header: list[str], rows: Iterable[list[str]], delimiter: str = ",", line_ending: str = "LF") -> str:
    """A result file: every cell quoted, quotes doubled."""
    newline = LINE_ENDINGS.get(line_ending, "\n")

    def line(cells: list[str]) -> str:
        return delimiter.join('"' + cell.replace('"', '""') + '"' for cell in cells)

    return "".join(line(cells) + newline for cells in [header, *rows])
