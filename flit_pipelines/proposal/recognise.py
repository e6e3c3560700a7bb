"""Value recognisers: the share of a column's values each accepts, computed column-wise.

Every recogniser is a vectorised test over a pandas string Series of non-null values (``.str``
regular expressions, ``to_datetime`` with an explicit format, numpy Luhn); the well-kept libraries
confirm the shape-based ones on a few matching values: ``email-validator`` (syntax only,
deliverability off) for e-mails, ``phonenumbers`` (region US) for phones. Nothing here returns or logs
a value: results are shares (0..1), recogniser names, date formats and masked shapes (``Aaaa``, ``9999``).

Shapes (notes/map_proposal.md §3): NPI = 10 digits whose Luhn check over ``80840`` + the first nine
matches the tenth (CMS NPI check-digit standard); ICD-10-CM ``A00.0``; CPT ``99213`` / ``9921F``;
CDT ``D0120``; LOINC ``4548-4`` with its mod-10 check; SSN ``999-99-9999``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# US states and territories, USPS codes and names (USPS Publication 28, appendix B).
US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho",
    "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia",
    "WI": "Wisconsin", "WY": "Wyoming", "DC": "District of Columbia", "PR": "Puerto Rico", "GU": "Guam",
    "VI": "Virgin Islands", "AS": "American Samoa", "MP": "Northern Mariana Islands",
}
_STATE_WORDS = {s.lower() for s in US_STATES} | {n.lower() for n in US_STATES.values()}
_BOOL_WORDS = {"true", "false", "t", "f", "yes", "no", "y", "n", "0", "1"}
_GENDER_WORDS = {"m", "f", "male", "female", "u", "unknown", "o", "other", "x", "nonbinary", "non-binary", "woman", "man"}
_COUNTRIES = {"us", "usa", "united states", "united states of america", "ca", "canada", "mx", "mexico", "gb", "uk"}

# Date/datetime formats tried in order; the first accepting most values is reported.
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%m-%d-%Y", "%d.%m.%Y", "%Y%m%d", "%m/%d/%y")
DATETIME_FORMATS = ("ISO8601", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%d/%m/%Y %H:%M")

# What any of DATE_FORMATS can accept (pandas' strptime: %Y 4 digits, %m/%d 1-2 digits or " 9", %y 2
# digits): three runs of 1-4 digits or spaces joined by - / . , or 6-8 digits or spaces (%Y%m%d reads
# 191395 as 1913-9-5). A column with no such value parses under none of them: its dates are not tried.
_DATE_SHAPE = r"^[\d ]{1,4}[-/.][\d ]{1,4}[-/.][\d ]{1,4}$|^[\d ]{6,8}$"

_RE = {
    "email": r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$",
    "url": r"^(?:https?|ftp)://\S+$",
    "zip": r"^\d{5}(?:-\d{4})?$",
    "ssn": r"^\d{3}-\d{2}-\d{4}$",
    "icd10": r"^[A-TV-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?$",
    "cpt": r"^\d{4}[0-9A-Z]$",
    "cdt": r"^D\d{4}$",
    "loinc": r"^\d{1,7}-\d$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "money": r"^-?\$?\d{1,3}(?:,?\d{3})*\.\d{2}$",
    "integer": r"^-?\d+$",
    "number": r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$",
    "phone_shape": r"^\+?[\d\s().-]{7,20}$",
    "time": r"^\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AaPp][Mm])?$",
}
RECOGNISERS = ("email", "phone", "zip", "state", "country", "date", "datetime", "time", "money", "number", "integer",
               "bool", "gender", "url", "npi", "icd10", "cpt", "cdt", "loinc", "ssn", "uuid", "free_text", "name_like")


def _share(mask: pd.Series) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def _luhn_ok(digits: pd.Series, prefix: str = "") -> pd.Series:
    """Luhn check over ``prefix + digits`` (the last digit is the check digit), vectorised."""
    if digits.empty:
        return pd.Series([], dtype=bool)
    width = len(prefix) + int(digits.str.len().max())
    text = (prefix + digits.str.zfill(width - len(prefix))).to_numpy(dtype=f"U{width}")
    arr = np.frombuffer(text.astype(f"S{width}"), dtype=np.uint8).reshape(len(text), width) - ord("0")
    rev = arr[:, ::-1].astype(np.int64)
    doubled = rev[:, 1::2] * 2
    total = rev[:, ::2].sum(axis=1) + (doubled - 9 * (doubled > 9)).sum(axis=1)
    return pd.Series(total % 10 == 0, index=digits.index)


def _confirm(values: pd.Series, check, n: int = 20) -> float:
    """Share of up to ``n`` values the library check accepts (1.0 when there are none)."""
    sample = values.head(n)
    if sample.empty:
        return 1.0
    return sum(1 for v in sample if check(v)) / len(sample)


def _email_ok(v: str) -> bool:
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(v, check_deliverability=False, test_environment=True)
        return True
    except EmailNotValidError:
        return False


def _phone_ok(v: str) -> bool:
    import phonenumbers

    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(v, "US"))
    except phonenumbers.NumberParseException:
        return False


def best_date_format(values: pd.Series, formats: tuple[str, ...]) -> tuple[str | None, float]:
    """The format accepting the largest share of ``values`` and that share (None, 0 when none does)."""
    best, share = None, 0.0
    for fmt in formats:
        parsed = pd.to_datetime(values, format=fmt if fmt != "ISO8601" else "ISO8601", errors="coerce")
        s = _share(parsed.notna())
        if s > share + 1e-9:
            best, share = fmt, s
        if share >= 0.999:
            break
    return best, share


def recognise(values: pd.Series) -> tuple[dict[str, float], str | None]:
    """Shares of non-null text ``values`` each recogniser accepts, and the date format found.

    Returns ``({recogniser: share}, date_format)``; shares are rounded to 3 decimals. ``date`` covers
    date-only values, ``datetime`` values with a time of day (``date_format`` names the format of the
    kind with the larger share, ``ISO8601`` for ISO timestamps).

    The text tests run on an Arrow array in pyarrow's compute kernels (RE2: the patterns use no
    look-around or back-reference; ``\\d`` and ``\\s`` are ASCII there), not a Python call per value;
    dates are parsed with pandas only when some value has a date's shape (``_DATE_SHAPE``).
    """
    text = pc.utf8_trim_whitespace(pa.array(values.astype("string"), type=pa.string()))
    text = pc.filter(text, pc.and_(pc.is_valid(text), pc.not_equal(text, "")))
    out = dict.fromkeys(RECOGNISERS, 0.0)
    n = len(text)
    if not n:
        return out, None
    matches = {name: pc.match_substring_regex(text, _RE[name]) for name in _RE}
    for name in ("email", "url", "zip", "ssn", "icd10", "cpt", "cdt", "uuid", "money", "integer", "number", "time"):
        out[name] = _arrow_share(matches[name], n)
    if out["email"] > 0:
        out["email"] *= _confirm(_series(pc.filter(text, matches["email"])), _email_ok)
    digit_count = pc.utf8_length(pc.replace_substring_regex(text, r"\D", ""))
    phone_shape = pc.and_(pc.and_(matches["phone_shape"], pc.is_in(digit_count, pa.array([10, 11]))),
                          pc.invert(matches["ssn"]))
    # 10 digits, or 11 starting with the country code 1 (the digits start with 1)
    phone_shape = pc.and_(phone_shape, pc.or_(pc.equal(digit_count, 10),
                                              pc.match_substring_regex(text, r"^\D*1")))
    # a bare run of digits is an ID or an amount more often than a phone: needs a separator or a "+"
    phone_shape = pc.and_(phone_shape, pc.match_substring_regex(text, r"[\s().+-]"))
    out["phone"] = _arrow_share(phone_shape, n)
    if out["phone"] > 0:
        out["phone"] *= _confirm(_series(pc.filter(text, phone_shape)), _phone_ok)
    v = _series(text)
    ten = pc.match_substring_regex(text, r"^\d{10}$")
    if pc.any(ten).as_py():
        ten_s = _series(ten).astype(bool)
        out["npi"] = _share(ten_s & _luhn_ok(v.where(ten_s, "0000000000"), "80840"))
    loinc = matches["loinc"]
    if pc.any(loinc).as_py():
        loinc_s = _series(loinc).astype(bool)
        body = v.where(loinc_s, "0-0").str.replace("-", "", regex=False)
        out["loinc"] = _share(loinc_s & _luhn_ok(body))
    low = pc.utf8_lower(text)
    for name, words in (("state", _STATE_WORDS), ("country", _COUNTRIES), ("bool", _BOOL_WORDS),
                        ("gender", _GENDER_WORDS)):
        out[name] = _arrow_share(pc.is_in(low, pa.array(sorted(words))), n)
    words_per_value = pc.add(pc.count_substring_regex(text, r"\s+"), 1)
    out["free_text"] = _arrow_share(pc.and_(pc.greater_equal(pc.utf8_length(text), 40),
                                            pc.greater_equal(words_per_value, 6)), n)
    out["name_like"] = _arrow_share(pc.match_substring_regex(text, r"^[A-Z][a-z'\-]+\d*(?: [A-Z][a-z'\-]+\d*)?$"), n)
    date_fmt, date_share, dt_fmt, dt_share = None, 0.0, None, 0.0
    if pc.any(pc.match_substring_regex(text, _DATE_SHAPE)).as_py():
        clock = _series(pc.match_substring_regex(text, r"\d:\d")).astype(bool)
        date_fmt, date_share = best_date_format(v[~clock], DATE_FORMATS)
    has_time = pc.and_(pc.match_substring_regex(text, r"\d{1,2}:\d{2}"),
                       pc.match_substring_regex(text, r"\d{2,4}[-/.]\d"))
    timed = pc.sum(pc.cast(has_time, pa.int64())).as_py()
    if timed:
        dt_fmt, dt_share = best_date_format(v[_series(has_time).astype(bool)], DATETIME_FORMATS)
    out["date"] = round(date_share * (n - timed) / n, 3) if date_fmt else 0.0
    out["datetime"] = round(dt_share * timed / n, 3) if dt_fmt else 0.0
    fmt = dt_fmt if out["datetime"] > out["date"] else date_fmt
    # a column of small integers is not a column of dates (%Y%m%d accepts 8-digit numbers only)
    if out["integer"] > 0.9 and fmt == "%Y%m%d" and not pc.all(pc.equal(pc.utf8_length(text), 8)).as_py():
        out["date"], fmt = 0.0, None
    return {k: round(float(s), 3) for k, s in out.items()}, fmt


def _arrow_share(mask: pa.Array, n: int) -> float:
    """Share of ``n`` values whose ``mask`` is true (no nulls: the text was filtered)."""
    return pc.sum(pc.cast(mask, pa.int64())).as_py() / n if n else 0.0


def _series(arr: pa.Array) -> pd.Series:
    """An Arrow array as a pandas Series (string or boolean; a fresh 0..n-1 index)."""
    return pd.Series(arr.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get), dtype=None)


def masked_shape(values: pd.Series) -> str | None:
    """The most common masked shape of the values: letters -> ``A``/``a``, digits -> ``9``, other
    characters kept, runs longer than 12 cut with ``…`` (``Aaaa9``, ``999-99-9999``). None if empty."""
    v = values.dropna().astype("string")
    if v.empty:
        return None
    shape = v.str.replace(r"[A-Z]", "A", regex=True).str.replace(r"[a-z]", "a", regex=True)
    shape = shape.str.replace(r"\d", "9", regex=True).str.replace(r"(.)\1{11,}", r"\1\1\1…", regex=True)
    return str(shape.str.slice(0, 40).mode().iloc[0])
