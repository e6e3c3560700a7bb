"""Typed Arrow columns (as a database returns them) to the spec's types, vectorised, no text round trip.

A database reader keeps the database's own column types where they map onto the spec type without
loss of meaning (``has_typed_path``); every other column is turned into canonical text
(``canonical_text.arrow_text``) and parsed like a file's text. The conversions give the same values
and the same failures as parsing the canonical text would:

* ``int``: integers, floats and decimals holding a whole number within +-2**53 (where a float stops
  being exact), booleans as 1/0; anything else fails ("not a int").
* ``float`` / ``money``: integers, floats, decimals, booleans (NaN is null, as its text form is).
* ``date`` / ``datetime``: dates and timestamps; naive timestamps are taken as UTC (as the text
  parser takes a time without zone); values outside pandas' nanosecond range (1677..2262) fail.
* ``bool``: booleans, and integers 1/0 (other integers fail).

Failures come back as nulls where the input was not null (``validate.coerce_chunk`` turns them into
"not a <type>" reasons). Results carry the pandas dtypes of ``validate.PANDAS_DTYPES``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from flit_pipelines.sources.canonical_text import arrow_text

__all__ = ["coerce_arrow", "has_typed_path", "source_column"]

_EXACT_INT = 2 ** 53
_NUMERIC = ("int", "float", "money")
# pandas' datetime64[ns] range, in microseconds since the epoch
_NS_MIN_US = int(pd.Timestamp.min.value // 1000) + 1
_NS_MAX_US = int(pd.Timestamp.max.value // 1000) - 1


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def has_typed_path(t: pa.DataType, ctype: str) -> bool:
    """True when a column of Arrow type ``t`` converts to spec type ``ctype`` without text."""
    if ctype in _NUMERIC:
        return _is_number(t) or pa.types.is_boolean(t)
    if ctype in ("date", "datetime"):
        return pa.types.is_timestamp(t) or pa.types.is_date(t)
    if ctype == "bool":
        return pa.types.is_boolean(t) or pa.types.is_integer(t)
    return False


def source_column(arr: pa.Array, ctype: str) -> pa.Array:
    """What a database reader hands the extract for one column: the typed array where
    ``has_typed_path`` (floats' NaN made null, as in their text form), else canonical text.

    Raises ValueError for a type with no text form (``arrow_text``)."""
    t = arr.type
    if not has_typed_path(t, ctype):
        return arrow_text(arr, ctype)
    if pa.types.is_floating(t) and arr.null_count < len(arr):
        nan = pc.is_nan(arr)
        if pc.any(nan).as_py():
            return pc.if_else(nan, pa.scalar(None, t), arr)
    return arr


def _unscaled(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A decimal128 array's unscaled integers (int64) and where they are exact: not null, within
    +-2**53 (so ``unscaled / 10**scale`` is the correctly rounded float, as parsing its text gives)."""
    n = len(arr)
    words = np.frombuffer(arr.buffers()[1], dtype=np.int64)[2 * arr.offset:2 * (arr.offset + n)]
    low, high = words[0::2], words[1::2]  # little-endian 128-bit two's complement
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    exact = valid & (high == (low >> 63)) & (np.abs(low) <= _EXACT_INT)
    return np.where(exact, low, 0), exact


def _decimal_floats(arr: pa.Array) -> np.ndarray:
    """Decimals as float64, each the float nearest its exact value (NaN for null)."""
    scale = arr.type.scale
    out = np.full(len(arr), np.nan)
    exact = np.zeros(len(arr), bool)
    if pa.types.is_decimal128(arr.type) and 0 <= scale <= 22:  # 10**scale is an exact float
        unscaled, exact = _unscaled(arr)
        out[exact] = unscaled[exact].astype(np.float64) / 10.0 ** scale
    rest = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool) & ~exact
    if rest.any():  # wide values: parsed from their text, as before
        text = pc.cast(arr.filter(pa.array(rest)), pa.string()).to_pandas()
        out[rest] = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    return out


def _float64(arr: pa.Array) -> np.ndarray:
    if pa.types.is_decimal(arr.type):
        return _decimal_floats(arr)
    if pa.types.is_boolean(arr.type):
        arr = pc.cast(arr, pa.int8())
    return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)  # nulls -> NaN


def _int64(arr: pa.Array) -> pd.Series:
    t = arr.type
    if pa.types.is_boolean(t):
        arr = pc.cast(arr, pa.int64())
    elif pa.types.is_integer(t):
        if pa.types.is_uint64(t) or t.bit_width == 64:
            outside = pc.greater(arr, pa.scalar(_EXACT_INT, t))
            if pa.types.is_signed_integer(t):
                outside = pc.or_(outside, pc.less(arr, pa.scalar(-_EXACT_INT, t)))
            arr = pc.if_else(pc.fill_null(outside, False), pa.scalar(None, t), arr)
        arr = pc.cast(arr, pa.int64())
    elif pa.types.is_decimal128(t) and t.scale >= 0:  # whole numbers only: no fraction digits set
        unscaled, exact = _unscaled(arr)
        unit = 10 ** t.scale
        ok = exact & (unscaled % unit == 0)
        values = np.where(ok, unscaled // unit, 0)
        rest = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool) & ~exact
        if rest.any():  # wide unscaled values: through their (exactly parsed) float
            num = _decimal_floats(arr.filter(pa.array(rest)))
            whole = np.isfinite(num) & (num == np.floor(num)) & (np.abs(num) <= _EXACT_INT)
            values[rest] = np.where(whole, num, 0).astype(np.int64)
            ok[rest] = whole
        arr = pa.array(values, pa.int64(), mask=~ok)
    else:  # float (or another decimal): whole numbers only, within the exact range
        num = _float64(arr)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(num) & (num == np.floor(num)) & (np.abs(num) <= _EXACT_INT)
        arr = pa.array(np.where(ok, num, 0).astype(np.int64), mask=~ok)
    return arr.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def _timestamps(arr: pa.Array) -> pd.Series:
    t = arr.type
    if pa.types.is_date(t):
        arr, tz = pc.cast(pc.cast(arr, pa.date32()), pa.timestamp("s")), None
    else:
        tz = t.tz
    micros = pc.cast(pc.cast(arr, pa.timestamp("us", tz), safe=False), pa.int64())  # ns: truncated, range only
    inside = pc.and_(pc.greater_equal(micros, _NS_MIN_US), pc.less_equal(micros, _NS_MAX_US))
    if not pc.all(pc.fill_null(inside, True)).as_py():
        arr = pc.if_else(pc.fill_null(inside, False), arr, pa.scalar(None, arr.type))
    ns = pc.cast(arr, pa.timestamp("ns", tz))
    if tz is None:
        ns = pc.cast(pc.cast(ns, pa.int64()), pa.timestamp("ns", "UTC"))  # naive: taken as UTC
    out = ns.to_pandas()
    return out.dt.tz_convert("UTC") if tz not in (None, "UTC") else out


def _bools(arr: pa.Array) -> pd.Series:
    if pa.types.is_integer(arr.type):
        one, zero = pc.equal(arr, 1), pc.equal(arr, 0)
        arr = pc.if_else(pc.or_(one, zero), one, pa.scalar(None, pa.bool_()))
    return arr.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)


def coerce_arrow(arr: pa.Array | pa.ChunkedArray, ctype: str) -> pd.Series | None:
    """``arr`` converted to spec type ``ctype`` (pandas dtype of ``validate.PANDAS_DTYPES``; default
    RangeIndex), or None when it has no typed path (the caller parses its canonical text)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not has_typed_path(arr.type, ctype):
        return None
    if ctype in ("float", "money"):
        return pd.Series(_float64(arr), dtype="float64")
    if ctype == "int":
        return _int64(arr)
    if ctype in ("date", "datetime"):
        return _timestamps(arr)
    return _bools(arr)
