"""Text columns to the spec's types on Arrow arrays (issue 12, item 2 for CSV).

Parsing every value through Python (``pd.to_numeric``, ``pd.to_datetime``) cost most of the CSV
extract. Here a value in a *plain shape* is parsed by one Arrow cast over the whole column; only the
rest (whitespace, exponents, ``+`` signs, leading zeros, 16+ digits, other date layouts, years
outside 1678..2261, ...) goes through the per-value parser ``parse_text`` that was the only path
before, so results and failures stay what they were:

* ``int``: ``-?[1-9][0-9]{0,14}`` or ``0``: at most 15 digits, exact in int64 and in a float, as the
  old float round trip needed; the cast gives the same integer.
* ``float`` / ``money``: ``0``, ``-?[1-9][0-9]*`` or ``-?[0-9]+.[0-9]+``, at most 15 digits in all.
  Both parsers then round correctly (pandas' ``precise_xstrtod`` divides an exact integer below 2**53
  by an exact power of ten; Arrow uses fast_float), so they give the same double. ``-0`` is left to
  the old path.
  A left-over value whose reading depends on its neighbours (``-0``, 16+ digits in a row: pandas
  reads an int-shaped text as an integer when the whole column is integers, else through its float
  parser) makes the whole column go through the old path, so the neighbours are the same.
* ``date`` / ``datetime``: ``YYYY-MM-DD`` and ``YYYY-MM-DDTHH:MM:SS[.fff...]Z`` with a year in
  1678..2261 (inside pandas' nanosecond range): Arrow's ISO 8601 cast checks the day of the month
  (``2021-02-30`` fails, it is not rolled over). A value of the shape that the cast still rejects is
  handed to the old parser, never failed here.
* ``string`` and ``bool``: the old path (strings are only converted to pandas' ``string`` dtype;
  booleans are a handful of vectorised ``.str`` calls).

Results carry ``validate.PANDAS_DTYPES``; a value that does not parse is null (the caller turns it into
"not a <type>"). No value is logged or put into an error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["FALSE_WORDS", "TRUE_WORDS", "coerce_text", "parse_text"]

TRUE_WORDS = frozenset({"true", "t", "1", "yes", "y"})
FALSE_WORDS = frozenset({"false", "f", "0", "no", "n"})
_EXACT_INT = float(2 ** 53)  # beyond this a parsed float no longer holds the integer exactly

_INT = r"^(0|-?[1-9][0-9]{0,14})$"
# with at most 16 bytes, a value with a point has at most 15 digits (sign and point one byte each)
_FLOAT = r"^(0|-?[1-9][0-9]{0,14}|-?[0-9]+\.[0-9]+)$"
_FLOAT_BYTES = 16
_YEAR = r"(1679|16[89][0-9]|1[7-9][0-9]{2}|20[0-9]{2}|21[0-9]{2}|22[0-5][0-9]|226[01])"  # 1679..2261
_DAY = _YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_DATE_BYTES = 10  # YYYY-MM-DD; longer plain values carry the time and the Z
_DATE_OR_ZULU = "^" + _DAY + r"(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?Z)?$"
_NS_UTC = pa.timestamp("ns", tz="UTC")
_NEIGHBOUR_DEPENDENT = r"-\s*0+\s*$|[0-9]{16}"  # see the module docstring


def _text_series(arr: pa.Array) -> pd.Series:
    """pandas ``string`` (Python storage) from Arrow text, as ``astype("string")`` gives it."""
    return pd.Series(arr.to_pandas(types_mapper={pa.string(): pd.StringDtype(),
                                                 pa.large_string(): pd.StringDtype()}.get), dtype="string")


def parse_text(raw: pd.Series, ctype: str) -> pd.Series:
    """The per-value parser (pandas over Python strings): the reference the fast paths must match,
    and the path of every value they leave out. ``raw``: text (``string`` dtype or Arrow-backed).

    Raises ValueError for an unknown ``ctype``."""
    raw = raw.astype("string")
    if ctype == "string":
        return raw
    if ctype in ("float", "money"):
        return pd.to_numeric(raw, errors="coerce").astype("float64")
    if ctype == "int":
        num = pd.to_numeric(raw, errors="coerce").astype("float64")
        whole = num.where(np.isfinite(num) & (num == np.floor(num)) & (num.abs() <= _EXACT_INT))
        return whole.astype("Int64")
    if ctype in ("date", "datetime"):
        out = pd.to_datetime(raw, errors="coerce", utc=True, format="ISO8601")
        retry = raw.notna() & out.isna()
        if retry.any():  # surrounding whitespace: strip only the values that did not parse
            out[retry] = pd.to_datetime(raw[retry].str.strip(), errors="coerce", utc=True, format="ISO8601")
        return out
    if ctype == "bool":
        low = raw.str.strip().str.lower()
        out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        out[low.isin(TRUE_WORDS)] = True
        out[low.isin(FALSE_WORDS)] = False
        return out
    raise ValueError(f"unknown column type {ctype!r}")


def _mask(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


class _Bytes:
    """The bytes of a ``string`` array's values, for shape checks over all values at once (NumPy on
    Arrow's buffers, no Python string): ``start``/``length`` per value (int64, into ``data``), ``valid``."""

    def __init__(self, arr: pa.Array):
        n = len(arr)
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + n + 1].astype(np.int64)
        lo, hi = (int(offsets[0]), int(offsets[-1])) if n else (0, 0)
        buf = arr.buffers()[2]
        self.data = np.frombuffer(buf, dtype=np.uint8)[lo:hi] if buf is not None and hi > lo else np.zeros(0, np.uint8)
        self.start = offsets[:-1] - lo
        self.length = offsets[1:] - offsets[:-1]
        self.valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)

    def at(self, pos: np.ndarray) -> np.ndarray:
        """The byte at ``pos`` (clipped into the data; callers mask positions past a value's end)."""
        if not len(self.data):
            return np.zeros(pos.shape, np.uint8)
        return self.data.take(pos, mode="clip")

    def matrix(self, rows: np.ndarray, width: int) -> np.ndarray:
        """The first ``width`` bytes of the values ``rows`` (each at least ``width`` long), one row
        each: a view of the data when every value has that length, else gathered."""
        n = len(self.length)
        if len(rows) == n and n and int(self.length.min()) == width == int(self.length.max()):
            return self.data[:n * width].reshape(n, width)
        return self.at(self.start[rows][:, None] + np.arange(width))

    def count(self, hits: np.ndarray, first: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """Per value, how many bytes in ``[first, stop)`` are set in ``hits`` (bool, one per byte)."""
        cum = np.zeros(len(hits) + 1, dtype=np.int32)
        np.cumsum(hits, out=cum[1:])
        return cum.take(stop, mode="clip") - cum.take(first, mode="clip")


def _digit(b: np.ndarray) -> np.ndarray:
    return (b >= 0x30) & (b <= 0x39)


def _two(m: np.ndarray, i: int) -> np.ndarray:
    """The two-digit number at column ``i`` of a byte matrix (meaningful where both are digits)."""
    return (m[:, i].astype(np.int16) - 0x30) * 10 + (m[:, i + 1].astype(np.int16) - 0x30)


def _plain_numbers(arr: pa.Array, ctype: str) -> np.ndarray:
    """Bool per value: it matches ``_INT`` (``int``) or ``_FLOAT`` within ``_FLOAT_BYTES`` (``float``,
    ``money``), decided byte-wise with NumPy (RE2 per value cost most of the CSV extract's typing)."""
    b = _Bytes(arr)
    end = b.start + b.length
    neg = (b.length > 0) & (b.at(b.start) == 0x2D)  # "-"
    body = b.start + neg
    body_len = b.length - neg
    digits = _digit(b.data)
    other = b.count(~digits, body, end)  # non-digit bytes after the sign
    lead = b.at(body)
    # 0 | -?[1-9][0-9]{0,14}
    whole = (body_len >= 1) & (body_len <= 15) & (other == 0) & ((lead != 0x30) | ((body_len == 1) & ~neg))
    if ctype == "int":
        return whole & b.valid
    # -?[0-9]+\.[0-9]+ : one point, the only non-digit, neither first nor last
    dots = b.count(b.data == 0x2E, body, end)
    decimal = (dots == 1) & (other == 1) & (body_len >= 3) & (lead != 0x2E) & (b.at(end - 1) != 0x2E)
    return (whole | decimal) & (b.length <= _FLOAT_BYTES) & b.valid


_ZULU_LENGTHS = (20, *range(22, 31))  # ...SSZ, ...SS.fZ to ...SS.fffffffffZ


def _plain_day(m: np.ndarray) -> np.ndarray:
    """Per row of a byte matrix: its first 10 bytes are a ``_DAY`` (``YYYY-MM-DD``, year 1679..2261)."""
    year = _two(m, 0) * 100 + _two(m, 2)
    month, day = _two(m, 5), _two(m, 8)
    return (_digit(m[:, [0, 1, 2, 3, 5, 6, 8, 9]]).all(axis=1) & (m[:, 4] == 0x2D) & (m[:, 7] == 0x2D)
            & (year >= 1679) & (year <= 2261) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31))


def _plain_dates(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(bool per value: it matches ``_DATE_OR_ZULU``; bool per value: it carries the time), decided
    byte-wise with NumPy on the values of one of the plain lengths."""
    b = _Bytes(arr)
    plain = np.zeros(len(arr), dtype=bool)
    cand = np.flatnonzero(b.valid & ((b.length == _DATE_BYTES) | np.isin(b.length, _ZULU_LENGTHS)))
    if not len(cand):
        return plain, plain.copy()
    length = b.length[cand]
    timed = length > _DATE_BYTES
    all_timed = bool(timed.all())
    m = b.matrix(cand, 20 if all_timed else _DATE_BYTES)
    ok = _plain_day(m)
    if timed.any():
        rows = slice(None) if all_timed else np.flatnonzero(timed)
        t = m[:, _DATE_BYTES:] if all_timed else b.matrix(cand[rows], 20)[:, _DATE_BYTES:]
        hour, minute, second = _two(t, 1), _two(t, 4), _two(t, 7)
        clock = (_digit(t[:, [1, 2, 4, 5, 7, 8]]).all(axis=1) & (t[:, 0] == 0x54) & (t[:, 3] == 0x3A)
                 & (t[:, 6] == 0x3A) & (hour <= 23) & (minute <= 59) & (second <= 59))
        tlen = length[rows]
        last = b.start[cand[rows]] + tlen - 1
        zulu = t[:, 9] == 0x5A if bool((tlen == 20).all()) else b.at(last) == 0x5A  # "Z"
        frac = tlen == 20  # else .f{1,9} between the seconds and the Z: a point, then only digits
        if not frac.all():
            frac |= (t[:, 9] == 0x2E) & (b.count(~_digit(b.data), last - tlen + 21, last) == 0)
        ok[rows] &= clock & zulu & frac
    plain[cand[ok]] = True
    long = np.zeros(len(arr), dtype=bool)
    long[cand[ok & timed]] = True
    return plain, long


def _fast(arr: pa.Array, ctype: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(bool per value: parsed here, numpy values of those, in the result's storage) or (none, None).
    The plain shapes (``_INT``, ``_FLOAT``, ``_DATE_OR_ZULU``) are checked byte-wise with NumPy, then one
    Arrow cast per column parses them."""
    if ctype in ("int", "float", "money"):
        plain = _plain_numbers(arr, ctype)
        if not plain.any():
            return plain, None
        to = pa.int64() if ctype == "int" else pa.float64()
        # every value plain (no null either): cast the column whole, no filter copy
        vals = pc.cast(arr if plain.all() else arr.filter(pa.array(plain)), to)
        return plain, vals.to_numpy()
    plain, long = _plain_dates(arr)
    if not plain.any():
        return plain, None
    date, zulu = plain & ~long, plain & long
    out = np.zeros(len(arr), dtype="datetime64[ns]")
    try:
        if zulu.all():  # the usual date-time column: cast it whole, no filter copy
            return plain, pc.cast(pc.cast(arr, _NS_UTC), pa.timestamp("ns")).to_numpy()
        if date.all():
            return plain, pc.cast(arr, pa.timestamp("ns")).to_numpy()
        if date.any():
            out[date] = pc.cast(arr.filter(pa.array(date)), pa.timestamp("ns")).to_numpy()
        if zulu.any():
            out[zulu] = pc.cast(pc.cast(arr.filter(pa.array(zulu)), _NS_UTC), pa.timestamp("ns")).to_numpy()
    except pa.ArrowInvalid:  # a day the month does not have: the old parser decides every such value
        return np.zeros(len(arr), dtype=bool), None
    return plain, out[plain]


def coerce_text(arr: pa.Array | pa.ChunkedArray, ctype: str, index: pd.Index | None = None) -> pd.Series:
    """Parse Arrow text ``arr`` as spec type ``ctype``: plain shapes by Arrow casts, the rest by
    ``parse_text``; same values and the same nulls (failures) as ``parse_text`` over all of it.

    Returns a Series with ``validate.PANDAS_DTYPES[ctype]`` on ``index`` (default RangeIndex).
    Raises ValueError for an unknown ``ctype``."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    index = pd.RangeIndex(len(arr)) if index is None else index
    if ctype not in ("int", "float", "money", "date", "datetime"):
        return parse_text(_text_series(arr), ctype).set_axis(index)
    plain, values = _fast(arr, ctype)
    rest_mask = ~plain & np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    dates = ctype in ("date", "datetime")
    if dates:
        out, known = np.full(len(arr), np.datetime64("NaT"), dtype="datetime64[ns]"), None
    elif ctype == "int":
        out, known = np.zeros(len(arr), dtype=np.int64), plain.copy()
    else:
        out, known = np.full(len(arr), np.nan), None
    if values is not None:
        out[plain] = values
    if rest_mask.any():
        where = np.flatnonzero(rest_mask)
        left = arr.take(pa.array(where))
        if not dates and pc.any(pc.match_substring_regex(left, _NEIGHBOUR_DEPENDENT)).as_py():
            return parse_text(_text_series(arr), ctype).set_axis(index)
        slow = parse_text(_text_series(left), ctype)
        if dates:
            out[where] = slow.to_numpy(dtype="datetime64[ns]")
        elif ctype == "int":
            got = slow.notna().to_numpy(bool)
            out[where[got]] = slow[got].to_numpy(dtype=np.int64)
            known[where[got]] = True
        else:
            out[where] = slow.to_numpy(dtype="float64")
    if dates:
        return pd.Series(pd.DatetimeIndex(out).tz_localize("UTC"), index=index)
    if ctype == "int":
        return pd.Series(pd.arrays.IntegerArray(out, ~known), index=index)
    return pd.Series(out, index=index)
