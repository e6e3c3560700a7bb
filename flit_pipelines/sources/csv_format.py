"""How one export file is written: its encoding, delimiter and header row (issue 9, item 3).

Clinic exports arrive as UTF-8 (with or without a BOM), as Windows code pages (Excel "CSV", cp1252),
as UTF-16 (Excel "Unicode text"), comma-, semicolon-, tab- or pipe-delimited, with headers whose case
and spacing differ from the vendor layout (notes/sources.md 4.2 describes the Synthea layout itself).
This module decides, per file and before any row is read:

* **encoding** (``detect_encoding``): a BOM decides; otherwise the whole file is checked for UTF-8
  validity in blocks (C speed). Valid -> UTF-8. Invalid bytes *and* valid multi-byte UTF-8 -> mixed:
  read as UTF-8, rows whose read columns hold invalid bytes are quarantined. Invalid bytes and no valid
  multi-byte sequence -> a single-byte code page, chosen by charset-normalizer from the lines holding
  non-ASCII bytes; ties (their decodings are equally plausible) go to cp1252, the Windows default of
  Western exports (set ``source.encoding`` in the spec for another code page);
* **UTF-8 blocks** (``Utf8Blocks``): the file as UTF-8 bytes, transcoded block by block when it is not
  UTF-8 (``surrogateescape``: a byte the code page cannot decode stays an invalid byte, so its row is
  quarantined rather than the file failing);
* **header and delimiter** (``read_header``): the first non-blank record (quote-aware, see
  ``csv_records``), split with Python's ``csv`` module by each candidate delimiter; the one whose names
  match most of the spec's columns wins (ties: ``csv.Sniffer``, then the most fields).

Nothing here keeps or reports a value: results are codec names, delimiters, counts and header names.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from flit_pipelines.errors import SourceFormatError
from flit_pipelines.sources.csv_records import scan_records

CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
# tie-break among equally plausible single-byte code pages (charset-normalizer's chaos within 1 %)
_CODE_PAGE_PREFERENCE = ("cp1252", "latin_1", "iso8859_15", "cp1250", "cp1257", "cp850", "mac_roman")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_NON_ASCII_VALID = re.compile("[\u0080-\udc7f\ue000-\U0010ffff]")
_ESCAPED = re.compile("[\udc80-\udcff]")
_DETECT_BLOCK = 8 << 20
_SAMPLE_LINES = 200


@dataclass(frozen=True)
class EncodingGuess:
    """``encoding``: the Python codec used to read the file; ``how``: ``declared``, ``bom``,
    ``utf-8``, ``utf-8 (mixed: undecodable rows quarantined)``, ``charset-normalizer`` or
    ``default``; ``bom_bytes``: bytes of a UTF-8 BOM to skip (other BOMs are consumed by the codec);
    ``invalid_sequences``: bytes that are not UTF-8 (0 unless the file was checked and is not)."""

    encoding: str
    how: str
    bom_bytes: int = 0
    invalid_sequences: int = 0


def normalise_header(name: str) -> str:
    """The form headers are matched in: case-folded, all whitespace (and a stray BOM) removed."""
    return "".join(name.replace("\ufeff", "").split()).casefold()


def detect_encoding(path: Path, declared: str | None = None) -> EncodingGuess:
    """Decide how to decode ``path`` (see the module docstring). Reads the whole file once, in 8 MiB
    blocks, when no BOM decides. Raises ``LookupError`` for an unknown declared codec."""
    if declared:
        codecs.lookup(declared)
        return EncodingGuess(declared, "declared")
    with path.open("rb") as fh:
        head = fh.read(4)
        for bom, name in _BOMS:
            if head.startswith(bom):
                return EncodingGuess(name, "bom", bom_bytes=len(bom) if name == "utf-8" else 0)
        fh.seek(0)
        if _valid_utf8(fh):  # the usual file: checked by Arrow, no Python text made
            return EncodingGuess("utf-8", "utf-8")
        fh.seek(0)
        invalid, multibyte = 0, False
        samples: list[str] = []
        tail = b""
        while True:
            block = fh.read(_DETECT_BLOCK)
            final = not block
            data = tail + block
            try:
                text, used = codecs.utf_8_decode(data, "strict", final)
                multibyte = multibyte or not text.isascii()
            except UnicodeDecodeError:
                text, used = codecs.utf_8_decode(data, "surrogateescape", final)
                invalid += len(_ESCAPED.findall(text))
                multibyte = multibyte or bool(_NON_ASCII_VALID.search(text))
                if len(samples) < _SAMPLE_LINES:  # lines holding undecodable bytes, for the code page guess
                    samples += [ln for ln in text.splitlines() if _ESCAPED.search(ln)][:_SAMPLE_LINES - len(samples)]
            tail = data[used:]
            if final:
                break
    if not invalid:
        return EncodingGuess("utf-8", "utf-8")
    if multibyte:
        return EncodingGuess("utf-8", "utf-8 (mixed: undecodable rows quarantined)", invalid_sequences=invalid)
    sample = "\n".join(samples).encode("utf-8", "surrogateescape")
    return EncodingGuess(_code_page(sample), "charset-normalizer", invalid_sequences=invalid)


def _valid_utf8(fh) -> bool:
    """True when the rest of the open binary file is valid UTF-8, checked block by block by Arrow's
    validator (SIMD, no Python string); False at the first invalid block (the caller then counts)."""
    tail = b""
    while True:
        block = fh.read(_DETECT_BLOCK)
        data = tail + block
        cut = len(data)
        if block:  # a character cut by the block's end waits for the next block
            for back in range(1, min(4, len(data)) + 1):
                byte = data[-back]
                if byte >= 0xC0:  # a lead byte: its sequence needs 2, 3 or 4 bytes
                    if back < (2 if byte < 0xE0 else 3 if byte < 0xF0 else 4):
                        cut = len(data) - back
                    break
                if byte < 0x80:
                    break
        offsets = pa.py_buffer(np.array([0, cut], dtype=np.int32))
        try:
            pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(data)]).cast(pa.string())
        except pa.ArrowInvalid:
            return False
        if not block:
            return True
        tail = data[cut:]


def _code_page(sample: bytes) -> str:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(sample))
    if not matches:
        return "cp1252"
    best = min(m.percent_chaos for m in matches)
    plausible = {c for m in matches if m.percent_chaos <= best + 1.0 for c in [m.encoding, *m.could_be_from_charset]}
    for name in _CODE_PAGE_PREFERENCE:
        if name in plausible:
            return name
    return min(matches, key=lambda m: m.percent_chaos).encoding


class Utf8Blocks:
    """A file read as UTF-8 bytes in blocks: raw when it is UTF-8 (a BOM skipped), else transcoded
    with an incremental decoder (``surrogateescape``: undecodable bytes stay invalid UTF-8 bytes).
    Read-only; a context manager."""

    def __init__(self, path: Path, guess: EncodingGuess):
        self._fh = path.open("rb")
        self._fh.seek(guess.bom_bytes)
        utf8 = codecs.lookup(guess.encoding).name == "utf-8"
        self._decoder = None if utf8 else codecs.getincrementaldecoder(guess.encoding)(errors="surrogateescape")
        self.eof = False

    def read(self, size: int) -> bytes:
        """Up to about ``size`` bytes (transcoding may change the length); sets ``eof`` at the end."""
        raw = self._fh.read(size)
        self.eof = len(raw) < size
        if self._decoder is None:
            return raw
        return self._decoder.decode(raw, final=self.eof).encode("utf-8", "surrogateescape")

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

    def __enter__(self) -> Utf8Blocks:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class HeaderRow:
    """The header record of a file: ``names`` as written (surrounding whitespace and BOM removed; a
    trailing empty name from a trailing delimiter dropped), its ``delimiter`` and how it was chosen
    (``declared``, ``header``: matched the spec best, ``sniffed``, ``default``), and ``line`` (1-based)."""

    names: list[str]
    delimiter: str
    delimiter_how: str
    line: int
    trailing_delimiter: bool


def read_header(path: Path, guess: EncodingGuess, expected: Iterable[str], *, declared_delimiter: str | None,
                block_bytes: int, max_record_bytes: int) -> HeaderRow:
    """The first non-blank record of ``path``, split by the best delimiter for ``expected`` (the
    spec's header names of the object).

    Raises:
        SourceFormatError: empty file (no header row), a header with NUL bytes (not a text file), or a
            header record longer than ``max_record_bytes`` (names the file and the line).
    """
    with Utf8Blocks(path, guess) as blocks:
        data, size = b"", block_bytes
        while True:
            data += blocks.read(size)
            recs = scan_records(np.frombuffer(data, dtype=np.uint8), ord(","), final=blocks.eof,
                                max_record=max_record_bytes)
            content = np.flatnonzero(~recs.blank)
            if len(content):
                i = int(content[0])
                break
            if blocks.eof:
                raise SourceFormatError(f"{path.name}: the file is empty (no header row)")
            if len(data) > max_record_bytes:
                raise SourceFormatError(f"{path.name}, line {recs.lines + 1}: no header row within "
                                        f"{max_record_bytes} bytes")
            size *= 2
    line = int(recs.line[i]) + 1
    raw = data[int(recs.start[i]):int(recs.end[i])]
    if b"\x00" in raw:
        raise SourceFormatError(f"{path.name}, line {line}: the header row holds NUL bytes; this is not a text "
                                "CSV file (check the export format)")
    text = raw.decode("utf-8", "replace").lstrip("\ufeff")
    want = {normalise_header(e) for e in expected}
    if declared_delimiter:
        delimiter, how = declared_delimiter, "declared"
    else:
        delimiter, how = _choose_delimiter(text, want)
    names = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    names = [n.replace("\ufeff", "").strip() for n in names]
    trailing = len(names) > 1 and names[-1] == ""
    return HeaderRow(names[:-1] if trailing else names, delimiter, how, line, trailing)


def _choose_delimiter(text: str, want: set[str]) -> tuple[str, str]:
    scored = []
    for d in CANDIDATE_DELIMITERS:
        names = next(csv.reader(io.StringIO(text), delimiter=d), [])
        scored.append((sum(normalise_header(n) in want for n in names), len(names), d))
    top = max(s[0] for s in scored)
    if top > 0:
        best = [s for s in scored if s[0] == top]
        return max(best, key=lambda s: s[1])[2], "header"
    try:
        return csv.Sniffer().sniff(text, delimiters="".join(CANDIDATE_DELIMITERS)).delimiter, "sniffed"
    except csv.Error:
        return ",", "default"
