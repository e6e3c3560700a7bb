"""The Arrow fast paths of text typing give exactly what the per-value parser gives (issue 12, CSV).

``coerce_text`` parses plain shapes with Arrow casts and hands the rest to ``parse_text`` (the parser
every value went through before); on tricky inputs both must agree value for value, null for null.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from flit_pipelines.sources.text_typed import (
    _DATE_BYTES,
    _DATE_OR_ZULU,
    _FLOAT,
    _FLOAT_BYTES,
    _INT,
    _NEIGHBOUR_DEPENDENT,
    _fast,
    _plain_dates,
    _plain_numbers,
    coerce_text,
    parse_text,
)

TRICKY_NUMBERS = [
    None, "", " ", "0", "-0", "+0", "00", "007", "-007", "0.0", "-0.0", "00.50", "1", "-1", "+1", " 12", "12 ",
    "1.", ".5", "-.5", "1e3", "1E-3", "1_000", "1,5", "0x1f", "inf", "-inf", "Infinity", "NaN", "nan",
    "123456789012345", "1234567890123456", "9007199254740993", "12345678901234567890", "-123456789012345",
    "85.55", "136.80", "42.45665398957005", "-72.42201422779573", "0.1", "0.30000000000000004",
    "1.7976931348623157", "4.9406564584124654", "99999999999999.9", "12.3.4", "abc", "١٢٣", "１２", "1 2",
    "-", ".", "--1", "2.5e", "3.0", "4.00000", "-999999999999999", "999999999999999",
]
TRICKY_DATES = [
    None, "", " ", "2014-12-06", "2014-12-06T09:45:00Z", " 2014-12-06", "2014-12-06 ", "2021-02-30",
    "2019-02-29", "2020-02-29", "2021-04-31", "2021-13-01", "2021-00-10", "2021-01-00", "1994-06-26",
    "1600-01-01", "1677-09-21", "1678-01-01", "1679-01-01", "2261-12-31", "2262-04-11", "2262-04-12",
    "9999-12-31", "0001-01-01", "2014-12-06T24:00:00Z", "2014-12-06T23:59:60Z", "2014-12-06T09:45:00",
    "2014-12-06T09:45:00+01:00", "2014-12-06T09:45:00.5Z", "2014-12-06T09:45:00.123456789Z",
    "2014-12-06T09:45Z", "2014-12-06 09:45:00", "20141206", "06/12/2014", "2014-1-6", "２０１４-12-06",
    "2014-12-06T09:45:00z", "yesterday", "2014-12-06TZ",
]
TRICKY_BOOLS = [None, "", " ", "true", "True", " yes ", "Y", "n", "0", "1", "2", "tru", "FALSE", "ja"]


def _same(a: pd.Series, b: pd.Series) -> None:
    assert a.dtype == b.dtype
    assert a.isna().tolist() == b.isna().tolist()
    ok = a.notna().to_numpy(bool)
    left, right = a[ok].to_numpy(), b[ok].to_numpy()
    assert left.tolist() == right.tolist()
    if a.dtype == "float64":  # -0.0 == 0.0: compare the sign too
        assert np.signbit(left.astype(float)).tolist() == np.signbit(right.astype(float)).tolist()


def _both(values: list, ctype: str) -> tuple[pd.Series, pd.Series]:
    arr = pa.array(values, pa.string())
    return coerce_text(arr, ctype), parse_text(pd.Series(values, dtype="string"), ctype)


@pytest.mark.parametrize("ctype", ["int", "float", "money"])
def test_numbers_match_the_per_value_parser(ctype):
    fast, slow = _both(TRICKY_NUMBERS, ctype)
    _same(fast, slow)
    plain, _ = _fast(pa.array(TRICKY_NUMBERS, pa.string()), ctype)
    assert plain.sum() >= 5  # the fast path itself was exercised


@pytest.mark.parametrize("ctype", ["date", "datetime"])
def test_dates_match_the_per_value_parser(ctype):
    fast, slow = _both(TRICKY_DATES, ctype)
    _same(fast, slow)
    assert str(fast.dtype) == "datetime64[ns, UTC]"
    assert fast.iloc[4] == pd.Timestamp("2014-12-06T09:45:00Z")
    assert fast.iloc[7] is pd.NaT  # 30 February is not rolled over into March


def test_a_day_the_month_lacks_among_plain_dates_leaves_every_value_to_the_old_parser():
    values = ["2020-01-31", "2021-02-30", "2014-12-06T09:45:00Z", None]
    fast, slow = _both(values, "date")
    _same(fast, slow)
    assert fast.isna().tolist() == [False, True, False, True]


@pytest.mark.parametrize("ctype", ["string", "bool"])
def test_text_and_bools_are_the_old_path(ctype):
    values = [*TRICKY_BOOLS, "  Zoë ", "\u00a0", "日本"]
    _same(*_both(values, ctype))


def test_minus_zero_keeps_the_per_value_parsers_column_dependent_sign():
    # pandas reads "-0" as 0.0 alone and as -0.0 next to a decimal: the old path decides it
    for values in (["-0"], ["-0", "2.5"]):
        _same(*_both(values, "float"))


def test_random_numbers_and_dates_match():
    rng = random.Random(12)
    nums, dates = [], []
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 18)))
        cut = rng.randint(0, len(digits))
        nums.append(rng.choice(["", "-"]) + (digits[:cut] + "." + digits[cut:] if rng.random() < 0.6 else digits))
        y, m, d = rng.randint(1600, 2300), rng.randint(0, 13), rng.randint(0, 32)
        day = f"{y:04d}-{m:02d}-{d:02d}"
        dates.append(day if rng.random() < 0.5 else
                     f"{day}T{rng.randint(0, 24):02d}:{rng.randint(0, 60):02d}:{rng.randint(0, 60):02d}Z")
    for ctype in ("int", "float", "money"):
        _same(*_both(nums, ctype))
    _same(*_both(dates, "datetime"))


def test_index_is_kept_and_chunked_input_is_read():
    arr = pa.chunked_array([pa.array(["1", " 2"]), pa.array([None, "x"])])
    out = coerce_text(arr, "int", pd.RangeIndex(10, 14))
    assert out.index.tolist() == [10, 11, 12, 13]
    assert out.tolist()[:2] == [1, 2] and out.isna().tolist() == [False, False, True, True]


def test_random_short_numbers_mixed_with_left_overs_match():
    # at most 15 digits: no neighbour-dependent value, so plain values and left-overs are parsed apart
    rng = random.Random(5)
    values = []
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 15)))
        cut = rng.randint(0, len(digits))
        text = digits[:cut] + "." + digits[cut:] if rng.random() < 0.6 else digits
        sign = rng.choice(["", "-", " ", "+"])
        if not (sign == "-" and not text.strip("0")):  # "-0" would send the whole column to the old path
            values.append(sign + text + rng.choice(["", "", " ", "e2"]))
    assert not pc.any(pc.match_substring_regex(pa.array(values), _NEIGHBOUR_DEPENDENT)).as_py()
    for ctype in ("int", "float", "money"):
        plain, _ = _fast(pa.array(values, pa.string()), ctype)
        assert 0 < plain.sum() < len(values)
        _same(*_both(values, ctype))


def _regex(arr: pa.Array, pattern: str, max_bytes: int | None = None) -> np.ndarray:
    hit = pc.match_substring_regex(arr, pattern)
    if max_bytes is not None:
        hit = pc.and_(hit, pc.less_equal(pc.binary_length(arr), max_bytes))
    return np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)


def test_byte_wise_shape_checks_are_the_documented_patterns():
    """``_plain_numbers`` / ``_plain_dates`` (NumPy over the values' bytes) accept exactly what the RE2
    patterns ``_INT``, ``_FLOAT`` (within ``_FLOAT_BYTES``) and ``_DATE_OR_ZULU`` match: tricky and
    random values, nulls, sliced arrays (non-zero offsets) and columns of one length (the view path)."""
    rng = random.Random(3)

    def number() -> str:
        return "".join(rng.choice("0123456789-.+ eE" if rng.random() < 0.3 else "0123456789")
                       for _ in range(rng.randint(0, 19)))

    def date() -> str:
        text = f"{rng.randint(1500, 2400):04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}"
        if rng.random() < 0.6:
            text += f"T{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}:{rng.randint(0, 61):02d}"
            if rng.random() < 0.4:
                text += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 11)))
            text += rng.choice(["Z", "Z", "Z", "z", "+", ""])
        chars = list(text)
        if rng.random() < 0.3:
            chars[rng.randrange(len(chars))] = rng.choice("0123456789-.:TZ x")
        return "".join(chars)

    numbers = [number() for _ in range(4000)] + [v for v in TRICKY_NUMBERS] + ["-.", "-00.5", "1.2.3"]
    dates = [date() for _ in range(4000)] + list(TRICKY_DATES) + ["2014-12-06T09:45:00.Z"]
    uniform = [f"20{rng.randint(10, 29)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T1{rng.randint(0, 9)}:3"
               f"{rng.randint(0, 9)}:5{rng.randint(0, 9)}Z" for _ in range(500)]
    for arr in (pa.array(numbers, pa.string()), pa.array(numbers, pa.string()).slice(5, 3000)):
        assert (_plain_numbers(arr, "int") == _regex(arr, _INT)).all()
        assert (_plain_numbers(arr, "float") == _regex(arr, _FLOAT, _FLOAT_BYTES)).all()
    for values in (dates, uniform, uniform[:50] + ["2020-01-02"] * 50):
        for arr in (pa.array(values, pa.string()), pa.array(values, pa.string()).slice(3, len(values) - 5)):
            plain, long = _plain_dates(arr)
            expected = _regex(arr, _DATE_OR_ZULU)
            assert (plain == expected).all()
            assert (long == (expected & _regex(arr, "^.{%d}" % (_DATE_BYTES + 1)))).all()
    assert _plain_dates(pa.array(uniform, pa.string()))[0].all()
