"""Vectorised formatters: each takes whole columns and returns a column (no per-row Python).

Formats follow the destination's documented wire formats: v2 timestamps RFC 3339 UTC, v1 note
``add_time`` ``YYYY-MM-DD HH:MM:SS`` UTC, activity ``due_date`` ``YYYY-MM-DD`` and ``due_time`` /
``duration`` ``HH:MM`` in UTC (notes/pipedrive.md sections 4.5, 4.6, 5).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd


class FormatterError(ValueError):
    """Unknown formatter, or a formatter given the wrong number of columns."""


def _as_datetime(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s if getattr(s.dt, "tz", None) is not None else s.dt.tz_localize("UTC")
    return pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601")


def _iso_seconds(s: pd.Series) -> pd.Series:
    """UTC timestamps as ``YYYY-MM-DDTHH:MM:SS`` text via numpy's C formatter (pandas ``strftime``
    formats element by element and was the slowest step of the payload benchmark)."""
    dt = _as_datetime(s)
    naive = dt.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[s]")
    text = pd.Series(np.datetime_as_string(naive, unit="s"), index=s.index, dtype="string")
    return text.where(dt.notna().to_numpy())


def _iso_view(start: int, stop: int, *, sep: str | None = None, suffix: str = "") -> Callable[[pd.Series], pd.Series]:
    def run(s: pd.Series) -> pd.Series:
        text = _iso_seconds(s).str.slice(start, stop)
        if sep is not None:
            text = text.str.replace("T", sep, regex=False)
        return text + suffix if suffix else text
    return run


def to_float(s: pd.Series) -> pd.Series:
    """Numbers as float64; unparseable values become NaN."""
    return pd.to_numeric(s, errors="coerce").astype("float64")


def money(s: pd.Series) -> pd.Series:
    """Numbers rounded to cents."""
    return to_float(s).round(2)


def yes_no(s: pd.Series) -> pd.Series:
    """Booleans as "Yes"/"No" (null stays null)."""
    b = s.astype("boolean")
    return pd.Series(np.where(b.fillna(False), "Yes", "No"), index=s.index, dtype="string").where(b.notna())


def basename(s: pd.Series) -> pd.Series:
    """The last path component (``/`` or ``\\`` separated)."""
    return s.astype("string").str.replace("\\", "/", regex=False).str.rsplit("/", n=1).str[-1]


def duration_hhmm(start: pd.Series, stop: pd.Series, max_hours: float | None = None) -> pd.Series:
    """Stop minus start as ``HH:MM``; null when either end is null, negative, or ``max_hours`` or longer
    (Pipedrive activity durations are a clock time, so multi-day stays keep their end elsewhere)."""
    minutes = (_as_datetime(stop) - _as_datetime(start)).dt.total_seconds() / 60
    valid = minutes.notna() & (minutes >= 0)
    if max_hours is not None:
        valid &= minutes < max_hours * 60
    m = minutes.fillna(0).clip(lower=0).round().astype("int64")
    text = (m // 60).astype(str).str.zfill(2) + ":" + (m % 60).astype(str).str.zfill(2)
    return text.astype("string").where(valid)


def contact_list(*columns: pd.Series, labels: list[str] | None = None) -> pd.Series:
    """Pipedrive ``emails``/``phones`` arrays as JSON text: ``[{"value", "primary", "label"}]``.

    The first present value is primary (notes/pipedrive.md 4.1). Null when no value is present.
    """
    labels = labels or ["home"] * len(columns)
    parts = []
    present = pd.Series(False, index=columns[0].index)
    for col, label in zip(columns, labels, strict=True):
        val = col.astype("string").str.strip()
        has = val.notna() & (val != "")
        primary = has & ~present
        item = ('{"value": ' + val.map(json.dumps, na_action="ignore") + ', "primary": '
                + pd.Series(np.where(primary, "true", "false"), index=col.index) + f', "label": "{label}"}}')
        parts.append(item.where(has))
        present |= has
    joined = pd.Series("", index=columns[0].index, dtype="string")
    for item in parts:
        sep = pd.Series(np.where((joined != "") & item.notna(), ", ", ""), index=joined.index, dtype="string")
        joined = joined + sep + item.fillna("").astype("string")
    return ("[" + joined + "]").where(present)


def date_at(date: pd.Series, hour: pd.Series, minute: pd.Series) -> pd.Series:
    """A date plus an hour and a minute column as a wall-clock datetime (Dentrix ``v_appt`` keeps
    ``appointment_date``, ``start_hour``, ``start_minute``); null when any part is null."""
    day = _as_datetime(date).dt.normalize()
    mins = pd.to_numeric(hour, errors="coerce") * 60 + pd.to_numeric(minute, errors="coerce")
    return day + pd.to_timedelta(mins.astype("float64"), unit="min")


def date_from_parts(year: pd.Series, month: pd.Series, day: pd.Series) -> pd.Series:
    """A date from year, month and day columns (an export that splits a birth date into three);
    null when any part is null or the parts are not a real date (30 February)."""
    parts = pd.DataFrame({"year": pd.to_numeric(year, errors="coerce"), "month": pd.to_numeric(month, errors="coerce"),
                          "day": pd.to_numeric(day, errors="coerce")})
    return pd.to_datetime(parts, errors="coerce", utc=True)


def parse_date(s: pd.Series, input_format: str = "ISO8601") -> pd.Series:
    """Text dates/times in ``input_format`` (a strftime pattern such as ``%m/%d/%Y``; default ISO 8601)
    as UTC datetimes; values that do not parse become null (the extract kept them as text)."""
    return pd.to_datetime(s.astype("string"), format=input_format, errors="coerce", utc=True)


def plus_minutes(start: pd.Series, minutes: pd.Series) -> pd.Series:
    """``start`` plus a length in minutes (appointment end); null when either is null."""
    return _as_datetime(start) + pd.to_timedelta(pd.to_numeric(minutes, errors="coerce").astype("float64"), unit="min")


def datetime_offset(s: pd.Series, tz: str = "UTC") -> pd.Series:
    """Wall-clock times of the practice's time zone ``tz`` (IANA name) as ISO 8601 with the UTC offset
    in force on that day: ``2024-01-15T09:30:00-07:00`` (HighLevel appointment times, notes/highlevel.md
    4.6). Source systems store local wall time; extracts tag it UTC, so the tag is dropped and ``tz``
    localised. Times that do not exist (spring-forward gap) move forward; ambiguous ones take standard time."""
    wall = _as_datetime(s).dt.tz_localize(None)
    local = wall.dt.tz_localize(tz, ambiguous=False, nonexistent="shift_forward")
    text = local.dt.strftime("%Y-%m-%dT%H:%M:%S%z").astype("string")
    return text.str.slice(0, -2) + ":" + text.str.slice(-2)


def e164(s: pd.Series, country_code: str = "1") -> pd.Series:
    """Phone numbers as E.164 (``+15855556467``): 10 national digits get ``+<country_code>``, numbers
    already carrying the code (11 digits starting with it, or a leading ``+``) keep it. Text that is not
    a phone number stays as it was (never dropped), so a person can fix it in the CRM."""
    raw = s.astype("string").str.strip()
    digits = raw.str.replace(r"\D", "", regex=True)
    plus = raw.str.startswith("+")
    national = digits.str.len() == 10
    with_code = digits.str.startswith(country_code) & (digits.str.len() == 10 + len(country_code))
    out = raw.where(~(national & ~plus), "+" + country_code + digits)
    out = out.where(~((with_code | plus) & (digits.str.len() >= 8)), "+" + digits)
    return out.where(raw.notna() & (raw != ""))


ONE_COLUMN: dict[str, Callable[[pd.Series], pd.Series]] = {
    "date": _iso_view(0, 10),                                # 2024-01-15
    "datetime": _iso_view(0, 16, sep=" ", suffix=" UTC"),    # 2024-01-15 09:30 UTC (for people)
    "datetime_rfc3339": _iso_view(0, 19, suffix="Z"),        # 2024-01-15T09:30:00Z (v2)
    "v1_datetime": _iso_view(0, 19, sep=" "),                 # 2024-01-15 09:30:00 (v1 add_time)
    "time_hhmm": _iso_view(11, 16),                          # 09:30 (activity due_time, UTC)
    "wall_datetime": _iso_view(0, 16, sep=" "),              # 2024-01-15 09:30 (local wall time, no zone)
    "amount": lambda s: to_float(s).map("{:.2f}".format, na_action="ignore").astype("string"),  # 426.00
    "float": to_float,
    "money": money,
    "int": lambda s: pd.to_numeric(s, errors="coerce").round().astype("Int64"),
    "yes_no": yes_no,
    "e164": e164,
    "basename": basename,
    "lower": lambda s: s.astype("string").str.lower(),
    "upper": lambda s: s.astype("string").str.upper(),
    "strip": lambda s: s.astype("string").str.strip(),
}

# What the one-line formatters above do, for the spec reference (docs/spec-reference.md); the
# functions carry their own docstrings.
SUMMARIES: dict[str, str] = {
    "date": "ISO date (YYYY-MM-DD): Pipedrive/HighLevel date fields.",
    "datetime": "Date and time for people, in UTC (notes, descriptions).",
    "datetime_rfc3339": "RFC 3339 UTC timestamp (Pipedrive v2 times).",
    "v1_datetime": "YYYY-MM-DD HH:MM:SS UTC (Pipedrive v1 note add_time).",
    "time_hhmm": "HH:MM in UTC (Pipedrive activity due_time).",
    "wall_datetime": "Local wall time without a zone, for people.",
    "amount": "Number as text with two decimals (currency amounts in text fields).",
    "int": "Number rounded to a whole number; unparseable values become null.",
    "lower": "Lower-cased text.", "upper": "Upper-cased text.", "strip": "Text without surrounding spaces.",
}

MULTI_COLUMN = {"duration_hhmm": duration_hhmm, "contact_list": contact_list, "date_at": date_at,
                "plus_minutes": plus_minutes, "datetime_offset": datetime_offset,
                "date_from_parts": date_from_parts, "parse_date": parse_date}


def apply_format(name: str, columns: list[pd.Series], args: dict) -> pd.Series:
    """Apply formatter ``name`` to ``columns``.

    Raises:
        FormatterError: unknown name or wrong arity.
    """
    fmt_args = {k: v for k, v in args.items() if k in ("labels",)}
    if name in ONE_COLUMN:
        if len(columns) != 1:
            raise FormatterError(f"formatter {name} takes one column, got {len(columns)}")
        return ONE_COLUMN[name](columns[0])
    if name == "duration_hhmm":
        if len(columns) != 2:
            raise FormatterError("formatter duration_hhmm takes two columns: start, stop")
        return duration_hhmm(columns[0], columns[1], max_hours=args.get("max_hours"))
    if name == "contact_list":
        labels = fmt_args.get("labels")
        if labels is not None and len(labels) != len(columns):  # zip would drop the unlabelled columns
            raise FormatterError(f"formatter contact_list has {len(labels)} labels for {len(columns)} columns")
        return contact_list(*columns, **fmt_args)
    if name == "date_at":
        if len(columns) != 3:
            raise FormatterError("formatter date_at takes three columns: date, hour, minute")
        return date_at(*columns)
    if name == "plus_minutes":
        if len(columns) != 2:
            raise FormatterError("formatter plus_minutes takes two columns: start, minutes")
        return plus_minutes(*columns)
    if name == "datetime_offset":
        if len(columns) != 1:
            raise FormatterError("formatter datetime_offset takes one column")
        return datetime_offset(columns[0], tz=args.get("tz", "UTC"))
    if name == "date_from_parts":
        if len(columns) != 3:
            raise FormatterError("formatter date_from_parts takes three columns: year, month, day")
        return date_from_parts(*columns)
    if name == "parse_date":
        if len(columns) != 1:
            raise FormatterError("formatter parse_date takes one column")
        return parse_date(columns[0], input_format=args.get("input_format", "ISO8601"))
    raise FormatterError(f"unknown formatter {name!r}; known: {sorted([*ONE_COLUMN, *MULTI_COLUMN])}")
