"""Canonical text of typed Arrow columns (``sources.base``'s text forms), converted column-wise.

Integers ``123``; decimals/floats in plain notation without trailing zeros (``278``, ``12.5``; never
``1e+20``); dates ``YYYY-MM-DD``; timestamps ``YYYY-MM-DD HH:MM:SS[.ffffff]``; booleans ``true``/``false``
(``1``/``0`` for numeric spec types); empty text becomes null, as in the CSV reader. Used by the
database reader for its text batches and by the extract for columns whose database type has no
direct path to the spec type (``sources.arrow_typed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["arrow_text", "column_text", "strip_zeros"]

_NUMERIC_TYPES = frozenset({"int", "float", "money"})


def strip_zeros(text: pa.Array) -> pa.Array:
    """``278.00`` -> ``278``, ``-0.50`` -> ``-0.5`` (plain decimals only)."""
    text = pc.replace_substring_regex(text, r"^(-?\d+\.\d*?)0+$", r"\1")
    return pc.replace_substring_regex(text, r"^(-?\d+)\.$", r"\1")


def _float_text(arr: pa.Array) -> pa.Array:
    arr = pc.if_else(pc.is_nan(arr), pa.scalar(None, arr.type), arr)
    text = pc.cast(arr, pa.string())
    exp = pc.fill_null(pc.match_substring(text, "e"), False)
    if pc.any(exp).as_py():
        # pyarrow writes 1e+20 / 1.2e-07; the few such values get numpy's positional form
        out = text.to_numpy(zero_copy_only=False)
        vals = arr.to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(exp.to_numpy(zero_copy_only=False)):
            out[i] = np.format_float_positional(vals[i], trim="-")
        text = pa.array(out, pa.string())
    return text


def _narrow_time(arr: pa.Array, unit_type: pa.DataType) -> pa.Array:
    """Drop an all-zero fraction (``11:09:33.000000`` -> ``11:09:33``); keep it when any is set."""
    try:
        return arr.cast(unit_type)
    except pa.ArrowInvalid:
        return arr


def arrow_text(arr: pa.Array, ctype: str = "string") -> pa.Array:
    """One column as canonical text (``pa.string()``); ``ctype`` is the spec type.

    Raises ValueError for a type with no text form (lists, structs, non-UTF-8 binary).
    """
    t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        arr = arr.cast(pa.string())
        return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    if pa.types.is_boolean(t):
        return pc.cast(pc.cast(arr, pa.int8()) if ctype in _NUMERIC_TYPES else arr, pa.string())
    if pa.types.is_integer(t):
        return pc.cast(arr, pa.string())
    if pa.types.is_floating(t):
        return _float_text(arr)
    if pa.types.is_decimal(t):
        return strip_zeros(pc.cast(arr, pa.string()))
    if pa.types.is_timestamp(t):
        if ctype == "date":
            day = arr.cast(pa.date32())
            if pc.all(pc.equal(day.cast(t), arr)).as_py() is not False:
                return pc.cast(day, pa.string())
        return pc.cast(_narrow_time(arr, pa.timestamp("s", t.tz)), pa.string())
    if pa.types.is_date(t):
        return pc.cast(arr.cast(pa.date32()), pa.string())
    if pa.types.is_time(t):
        return pc.cast(_narrow_time(arr, pa.time32("s")), pa.string())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        try:
            return arrow_text(arr.cast(pa.string()), ctype)
        except pa.ArrowInvalid:
            raise ValueError("binary column is not UTF-8 text") from None
    raise ValueError(f"no text form for column type {t}")


def _scalar_text(v: Any) -> str | None:
    """Text of one value (only for columns that mix Python types, e.g. SQLite's dynamic typing)."""
    if v is None:
        return None
    try:
        return arrow_text(pa.array([v])).to_pylist()[0]
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError):
        return str(v)


def column_text(values: Sequence[Any], ctype: str = "string") -> pa.Array:
    """A column of Python values (as a DB-API driver returns them) as canonical text."""
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # mixed types in one column: convert value by value (rare; SQLite only in practice)
        return pa.array([_scalar_text(v) for v in values], pa.string())
    return arrow_text(arr, ctype)
