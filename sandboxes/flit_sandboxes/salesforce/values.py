"""Field values: JSON and CSV input to the stored form, and the stored form back to JSON.

Stored forms: text types -> ``str``; ``boolean`` -> ``bool``; ``double``/``currency``/``percent`` -> ``float``
(rounded to the field's scale); ``int`` -> ``int``; ``date`` -> ``"YYYY-MM-DD"``; ``datetime`` -> UTC
``"YYYY-MM-DDTHH:MM:SS.sss+0000"`` (the form SOQL returns, so text order = time order); ``reference``/``id``
-> the Id string as given (the DML layer checks it); ``base64`` -> ``bytes``.

Input rules:

- JSON (REST): ``null`` sets null. Scalars are converted leniently (a number for a text field, the strings
  ``"true"``/``"false"`` for a checkbox, a numeric string for a number); objects/arrays for scalar fields
  and unparsable dates/numbers are ``TypeProblem`` (the caller answers ``JSON_PARSER_ERROR`` for the whole
  request, UNCONFIRMED leniency and code).
- CSV (Bulk, notes §1.2): an empty cell is ``KEEP`` (no change); ``#N/A`` is null; checkbox ``true``/``false``
  (also ``1``/``0``, any case; UNCONFIRMED); ``date`` ``yyyy-MM-dd`` (no offset); ``dateTime``
  ``yyyy-MM-ddTHH:mm:ss(.SSS)(Z|±HH:mm)``, milliseconds optional (no zone = UTC, UNCONFIRMED). Values are
  never trimmed.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from flit_sandboxes.salesforce.schema import TEXT_TYPES, Field

KEEP = object()  # CSV: empty cell, leave the field unchanged
CSV_NULL = "#N/A"
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
                       r"(Z|[+-]\d{2}:?\d{2})?$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class TypeProblem(ValueError):
    """A value that is not of the field's type (message names the field and the value)."""


def parse_date(text: str) -> str:
    """``yyyy-MM-dd`` validated; raises ValueError."""
    match = _DATE.match(text)
    if not match:
        raise ValueError(text)
    date(int(match[1]), int(match[2]), int(match[3]))
    return text


def parse_datetime(text: str) -> str:
    """An ISO dateTime as the stored UTC form; raises ValueError."""
    match = _DATETIME.match(text)
    if not match:
        raise ValueError(text)
    fraction = (match[7] or "0")[:6].ljust(6, "0")
    moment = datetime(int(match[1]), int(match[2]), int(match[3]), int(match[4]), int(match[5]),
                      int(match[6] or 0), int(fraction), tzinfo=timezone.utc)
    zone = match[8]
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return format_datetime(moment)


def format_datetime(moment: datetime) -> str:
    """The stored/SOQL form ``2024-05-01T09:30:00.000+0000`` of an aware datetime."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def to_datetime(stored: str) -> datetime:
    """A stored dateTime string as an aware datetime."""
    return datetime.strptime(stored[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)


def _number(field: Field, value: Any) -> float | int:
    if isinstance(value, bool):
        raise TypeProblem(str(value))
    if isinstance(value, str):
        if not _NUMBER.match(value):
            raise TypeProblem(value)
        value = float(value)
    if not isinstance(value, (int, float)):
        raise TypeProblem(str(value))
    if field.type == "int":
        if isinstance(value, float) and not value.is_integer():
            raise TypeProblem(str(value))
        return int(value)
    return round(float(value), field.scale) if field.scale or field.precision else float(value)


def _typed(field: Field, value: Any, *, from_csv: bool) -> Any:
    kind = field.type
    if kind in TEXT_TYPES or kind in ("id", "reference"):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        if not isinstance(value, str):
            raise TypeProblem(repr(value))
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        lowered = value.lower() if isinstance(value, str) else None
        if lowered in ("true", "false") or (from_csv and lowered in ("1", "0")):
            return lowered in ("true", "1")
        raise TypeProblem(str(value))
    if kind in ("double", "currency", "percent", "int"):
        return _number(field, value)
    if kind in ("date", "datetime"):
        if not isinstance(value, str):
            raise TypeProblem(str(value))
        try:
            return parse_date(value) if kind == "date" else parse_datetime(value)
        except ValueError:
            raise TypeProblem(value) from None
    if kind == "base64":
        if not isinstance(value, str):
            raise TypeProblem("base64")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise TypeProblem("base64 data") from None
    raise TypeProblem(str(value))


def from_json(field: Field, value: Any) -> Any:
    """A JSON value for ``field`` in the stored form; raises ``TypeProblem``."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise TypeProblem(type(value).__name__)
    return _typed(field, value, from_csv=False)


def from_csv(field: Field, text: str) -> Any:
    """A CSV cell for ``field``: ``KEEP`` (empty), None (``#N/A``) or the stored form; raises ``TypeProblem``."""
    if text == "":
        return KEEP
    if text == CSV_NULL:
        return None
    return _typed(field, text, from_csv=True)


def to_json(field: Field, value: Any) -> Any:
    """A stored value as the API returns it (checkboxes never null; numbers as JSON numbers)."""
    if field.type == "boolean":
        return bool(value)
    if value is None:
        return None
    if field.type in ("double", "currency", "percent") and isinstance(value, (int, float)):
        return float(value)
    return value


def to_csv(field: Field | None, value: Any) -> str:
    """A stored value as a Bulk result / query CSV cell (null -> empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and field is not None and field.scale == 0:
        return str(int(value))
    return str(value)
