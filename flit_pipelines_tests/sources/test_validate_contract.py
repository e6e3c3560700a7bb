"""``contract_failures`` (vectorised) finds exactly the rows Pandera's schema of the spec rejects."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pandera.errors import SchemaErrors

from flit_pipelines.sources.validate import _may_have_edge_space, contract_failures, pandera_schema
from flit_pipelines.spec.model import SourceObject


def _obj(pk_type: str) -> SourceObject:
    return SourceObject.model_validate({
        "file": "x.csv", "primary_key": "Id",
        "columns": {"Id": {"type": pk_type}, "NAME": {"type": "string", "nullable": False},
                    "WHEN": {"type": "datetime", "nullable": False}, "AMOUNT": {"type": "money"},
                    "N": {"type": "int", "nullable": False}},
    })


def _pandera(obj: SourceObject, typed: pd.DataFrame) -> list[tuple[str, str, list[int]]]:
    try:
        pandera_schema(obj, "x").validate(typed, lazy=True)
    except SchemaErrors as exc:
        fc = exc.failure_cases
        fc = fc[fc["index"].notna()]
        out = []
        for (column, check), grp in fc.groupby(["column", "check"], dropna=False):
            label = "duplicate primary key" if "uniqueness" in str(check) else str(check)
            out.append((column, label, sorted(pd.to_numeric(grp["index"]).astype(int).unique().tolist())))
        return out
    return []


@pytest.mark.parametrize("pk_type", ["string", "int"])
def test_contract_failures_match_pandera(pk_type):
    obj = _obj(pk_type)
    ids = ["a1", "b2", "a1", None, None, "A1", " a1", "", "", "ü", "ü", "b2"]
    if pk_type == "int":
        ids = [1, 2, 1, None, None, 10, 11, 0, 0, 7, 7, 2]
    n = len(ids)
    typed = pd.DataFrame({
        "Id": pd.Series(ids, dtype="string" if pk_type == "string" else "Int64"),
        "NAME": pd.Series(["x", None, "", " ", "y", None, "z", "q", "w", "e", "r", "t"], dtype="string"),
        "WHEN": pd.to_datetime(pd.Series(["2020-01-01", None] + ["2021-05-05"] * (n - 2)), utc=True),
        "AMOUNT": pd.Series([1.0, np.nan, np.inf, -0.0] + [2.0] * (n - 4)),
        "N": pd.Series([1, None, 3, 4, 5, 6, 7, 8, 9, None, 11, 12], dtype="Int64"),
    })
    ours = [(c, label, np.flatnonzero(m).tolist()) for c, label, m in contract_failures(obj, typed)]
    assert ours == _pandera(obj, typed)
    assert ("Id", "duplicate primary key", [2, 8, 10, 11]) in ours  # nulls are never duplicates
    assert ("NAME", "not_nullable", [1, 5]) in ours  # an empty text is not null here


def test_a_clean_chunk_has_no_contract_failures():
    obj = _obj("int")
    typed = pd.DataFrame({"Id": pd.Series([1, 2], dtype="Int64"), "NAME": pd.Series(["a", "b"], dtype="string"),
                          "WHEN": pd.to_datetime(pd.Series(["2020-01-01", "2020-01-02"]), utc=True),
                          "AMOUNT": [np.nan, 1.0], "N": pd.Series([1, 2], dtype="Int64")})
    assert contract_failures(obj, typed) == [] == _pandera(obj, typed)


def test_the_edge_byte_check_never_hides_a_key_that_trimming_changes():
    """``_trim_keys`` skips Arrow's trim when ``_may_have_edge_space`` is False: on random keys (ASCII,
    spaces, tabs, no-break and ideographic spaces, accents), sliced or not, trimming must then change
    nothing, and a key with a leading or trailing space is always flagged."""
    rng = random.Random(9)
    alphabet = ["a", "Z", "7", "-", " ", "\t", "\u00a0", "\u3000", "é", "\x1f", "\x7f"]
    for _ in range(200):
        values = ["".join(rng.choice(alphabet) if rng.random() < 0.1 else rng.choice("abc123")
                          for _ in range(rng.randint(0, 6))) if rng.random() > 0.05 else None for _ in range(30)]
        for arr in (pa.array(values, pa.string()), pa.array(values, pa.string()).slice(3, 20)):
            changed = pc.fill_null(pc.not_equal(arr, pc.utf8_trim_whitespace(arr)), False)
            if pc.any(changed).as_py():
                assert _may_have_edge_space(arr)
    assert _may_have_edge_space(pa.array(["a1", " a2"])) and not _may_have_edge_space(pa.array(["a1", "a 2", None]))
