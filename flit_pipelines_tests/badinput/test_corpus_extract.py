"""The bad-input corpus at the extract level: ``run_extract`` over ``CsvExportSource`` (issue 9).

Per case (``corpus.CASES``): the extract completes with the good rows kept and the bad rows
quarantined with their reason and line, ``rows_read = rows_kept + quarantined`` (blank lines are
counted apart), warnings counted by rule; or it stops with a ``FlitError`` naming the file (and line)
when the file as a whole is unusable. In every case no marker value reaches stdout/stderr, a log
record, an exception (with its cause/context chain), the stats or the extract metadata document.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from dataclasses import asdict
from datetime import UTC, datetime

import pandas as pd
import pytest

from flit_pipelines.errors import FlitError
from flit_pipelines.sources import CsvExportSource
from flit_pipelines.sources.extract import extract_input_doc, run_extract
from flit_pipelines.spec.model import ColumnSpec
from flit_pipelines_tests.badinput.corpus import CASES, FIXTURE, MARKERS, Case, build_export

NOW = datetime(2026, 12, 1, tzinfo=UTC)  # the injected clock of not_in_future rules


def _object(spec, c: Case):
    obj = spec.objects[c.obj]
    if c.int_key:  # a Dentrix-like integer primary key
        cols = {**obj.columns, obj.primary_key: ColumnSpec(type="int", nullable=False)}
        obj = obj.model_copy(update={"columns": cols})
    return obj


def _no_markers(text: str, where: str) -> None:
    found = [m for m in MARKERS if m in text]
    assert not found, f"{where} holds source values {found}"


def test_the_corpus_has_at_least_fifty_kinds():
    assert len(CASES) >= 50 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_bad_input(c: Case, spec, tmp_path, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    export = build_export(c, tmp_path)
    source = CsvExportSource(export, chunk_bytes=c.chunk_bytes, max_record_bytes=c.max_record_bytes)
    good, quarantined = [], []
    try:
        stats = run_extract(source, _object(spec, c), c.obj, write=good.append, quarantine=quarantined.append,
                            now=NOW)
    except FlitError as exc:
        assert c.error is not None, f"unexpected file-level error: {exc}"
        assert re.search(c.error, str(exc)), str(exc)
        _no_markers("".join(traceback.format_exception(exc)), "the exception")
        out, err = capfd.readouterr()
        _no_markers(out + err + caplog.text, "stdout/stderr/logs")
        return
    assert c.error is None, f"expected a file-level error matching {c.error!r}"
    g = pd.concat(good, ignore_index=True) if good else pd.DataFrame()
    q = (pd.concat(quarantined, ignore_index=True) if quarantined
         else pd.DataFrame(columns=["row_number", "source_id", "reason", "line"]))

    assert stats.rows_kept == len(g) == c.kept
    assert stats.quarantined == len(q) == c.quarantined
    assert stats.rows_read == stats.rows_kept + stats.quarantined + stats.rows_filtered_by_wave
    assert stats.blank_lines == c.blank_lines
    reasons = " | ".join(q["reason"])
    for expected in c.reasons:
        assert expected in reasons, reasons
    if c.lines:
        assert sorted(q["line"].astype(int).tolist()) == list(c.lines)
    assert sorted(stats.warnings) == sorted(c.warnings)
    key = spec.objects[c.obj].primary_key
    fixture_ids = set(pd.read_csv(FIXTURE / f"{c.obj}.csv", dtype=str)[key]) if key else set()
    if key and c.kept == len(fixture_ids) and not c.int_key:  # exactly the good rows, whatever was added
        assert set(g[key]) == fixture_ids
    if c.check is not None:
        c.check(stats, g, q)

    # nothing of the source's values outside the data: reasons, stats, metadata document, stderr, logs
    _no_markers(reasons, "quarantine reasons")
    _no_markers(json.dumps(asdict(stats), default=str), "the extract stats")
    _no_markers(json.dumps(extract_input_doc(stats), default=str), "the extract metadata")
    out, err = capfd.readouterr()
    _no_markers(out + err + caplog.text, "stdout/stderr/logs")
