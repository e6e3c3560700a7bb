"""Payload-row value helpers shared by the destinations' body builders.

Payload cells arrive as Python, numpy or pandas values (``None``, ``NaN``, ``pd.NA``, numpy
scalars, ``pd.Timestamp``). These helpers test and type them the way every destination does;
vendor rules (money rounding, number scales, date-time offsets, option labels) stay in each
vendor's ``bodies.py``. Errors name the field, never the value (patient data).
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

__all__ = ["BodyError", "FALSE_WORDS", "TRUE_WORDS", "as_bool", "as_date", "as_float", "present", "scalar",
           "source_key"]

TRUE_WORDS = frozenset({"true", "1", "yes", "y", "t"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "f"})


class BodyError(ValueError):
    """A value cannot be sent (not typed, not an option, required but empty); names the field, never the value."""


def source_key(target: str, source_id: str) -> str:
    """The key every record carries back to its source: ``"<target>:<source id>"``."""
    return f"{target}:{source_id}"


def present(value: Any) -> bool:
    """False for None, NA/NaN/NaT and empty or blank strings; True otherwise (also when ``pd.isna``
    cannot judge the value)."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):
        return True


def scalar(value: Any) -> Any:
    """A numpy/pandas scalar as the Python value (``.item()``); strings, bytes and others unchanged."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def as_bool(value: Any, name: str, *, false_words: frozenset[str] = FALSE_WORDS) -> bool:
    """``True``/``False`` from a bool, a number (non-zero is True) or a text in ``TRUE_WORDS`` /
    ``false_words`` (case and surrounding blanks ignored). Raises BodyError otherwise."""
    value = scalar(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in false_words:
        return False
    raise BodyError(f"field {name}: not a boolean")


def as_float(value: Any, name: str) -> float:
    """A finite ``float`` of ``value``. Raises BodyError "not a number" / "not a finite number"."""
    try:
        number = float(scalar(value))
    except (TypeError, ValueError):
        raise BodyError(f"field {name}: not a number") from None
    if math.isnan(number) or math.isinf(number):
        raise BodyError(f"field {name}: not a finite number")
    return number


def as_date(value: Any, name: str) -> str:
    """``YYYY-MM-DD`` from text that starts with one (kept as written) or that pandas parses.
    Raises BodyError "not a date". Convert dates/timestamps before calling (vendor rules differ)."""
    text = str(value).strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return text[:10]
    try:
        return pd.Timestamp(text).strftime("%Y-%m-%d")
    except (ValueError, TypeError):
        raise BodyError(f"field {name}: not a date") from None
