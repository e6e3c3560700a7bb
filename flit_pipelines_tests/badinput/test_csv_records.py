"""The record scan (``sources.csv_records``) and the reader's block handling: lines, fields and
quoting as Arrow and Python's ``csv`` read them, whatever the block size."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pytest

from flit_pipelines.sources import CsvExportSource
from flit_pipelines.sources.csv_records import MALFORMED, OK, UNTERMINATED, scan_records
from flit_pipelines_tests.conftest import FIXTURE_EXPORT


def scan(data: bytes, final: bool = True, max_record: int = 1 << 20):
    return scan_records(np.frombuffer(data, dtype=np.uint8), ord(","), final=final, max_record=max_record)


def test_lines_fields_and_line_breaks_of_each_record():
    recs = scan(b'A,B,C\r\n1,"x\ny",3\r\n\r\n4,5\r6,7,8,9\n  \n10,"q""r",12')
    assert recs.fields.tolist() == [3, 3, 1, 2, 4, 1, 3]
    assert recs.line.tolist() == [0, 1, 3, 4, 5, 6, 7]  # 0-based line of each record's start
    assert recs.inner_breaks.tolist() == [0, 1, 0, 0, 0, 0, 0]
    assert recs.blank.tolist() == [False, False, True, False, False, True, False]
    assert recs.quote.tolist() == [OK] * 7
    assert recs.consumed == len(b'A,B,C\r\n1,"x\ny",3\r\n\r\n4,5\r6,7,8,9\n  \n10,"q""r",12')


def test_an_incomplete_record_is_left_for_the_next_block():
    data = b'A,B\n1,"open\nstill open'
    recs = scan(data, final=False)
    assert len(recs) == 1 and recs.consumed == 4
    assert len(scan(b"no line break yet", final=False)) == 0
    crlf = scan(b"A,B\r", final=False)  # the CR may be half of a CRLF
    assert len(crlf) == 0


def test_quotes_inside_unquoted_values_are_literal():
    recs = scan(b'A,B,C\n1,5\'11" tall,3\n4,"ok",6\n')
    assert recs.fields.tolist() == [3, 3, 3] and recs.quote.tolist() == [OK, OK, OK]


def test_a_closing_quote_followed_by_text_is_malformed_on_its_own_line():
    recs = scan(b'A,B,C\n1,"He said "hi" ok",3\n4,5,6\n')
    assert recs.fields.tolist() == [3, 3, 3]
    assert recs.quote.tolist() == [OK, MALFORMED, OK]


def test_an_unterminated_quote_is_literal_and_the_next_lines_are_records():
    recs = scan(b'A,B,C\n1,"never closed,3\n4,"fine, really",6\n7,8,9\n')
    assert recs.quote.tolist() == [OK, UNTERMINATED, OK, OK]
    assert recs.fields.tolist() == [3, 3, 3, 3] and recs.line.tolist() == [0, 1, 2, 3]
    eof = scan(b'A,B\n1,"truncated at the end')
    assert eof.quote.tolist() == [OK, UNTERMINATED] and eof.line.tolist() == [0, 1]


def test_a_quote_open_longer_than_the_record_limit_is_unterminated():
    data = b'A,B\n1,"x\n' + b"2,y\n" * 100
    assert len(scan(data, final=False, max_record=10_000)) == 1  # may still close: wait for more
    recs = scan(data, final=False, max_record=64)
    assert recs.quote[1] == UNTERMINATED and len(recs) == 102


def _rows(export, spec, name, chunk):
    src = CsvExportSource(export, chunk_bytes=chunk)
    return pa.Table.from_batches(list(src.read_rows(spec.objects[name])))


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_block_size_changes_nothing(spec, tmp_path, newline):
    export = tmp_path / "export"
    shutil.copytree(FIXTURE_EXPORT, export)
    for path in export.glob("*.csv"):
        path.write_bytes(path.read_bytes().replace(b"\n", newline))
    for name in ("patients", "notes", "claims_transactions", "encounters"):
        whole = _rows(export, spec, name, 4 << 20)
        assert whole.column("__flit_reject__").null_count == whole.num_rows
        for chunk in (37, 64, 101, 512):  # records straddle blocks; CRLF splits across them
            assert _rows(export, spec, name, chunk).equals(whole), (name, chunk)
