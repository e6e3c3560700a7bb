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
    """
    v = values.astype("string").str.strip()
    v = v[v.notna() & (v != "")]
    out = dict.fromkeys(RECOGNISERS, 0.0)
    if v.empty:
        return out, None
    low = v.str.lower()
    for name in ("email", "url", "zip", "ssn", "icd10", "cpt", "cdt", "uuid", "money", "integer", "number", "time"):
        out[name] = _share(v.str.match(_RE[name]))
    if out["email"] > 0:
        out["email"] *= _confirm(v[v.str.match(_RE["email"])], _email_ok)
    digits = v.str.replace(r"\D", "", regex=True)
    phone_shape = v.str.match(_RE["phone_shape"]) & (digits.str.len().isin([10, 11])) & ~v.str.match(_RE["ssn"])
    phone_shape &= (digits.str.len() == 10) | digits.str.startswith("1")
    # a bare run of digits is an ID or an amount more often than a phone: needs a separator or a "+"
    phone_shape &= v.str.contains(r"[\s().+-]", regex=True)
    out["phone"] = _share(phone_shape)
    if out["phone"] > 0:
        out["phone"] *= _confirm(v[phone_shape], _phone_ok)
    ten = v.str.match(r"^\d{10}$")
    out["npi"] = _share(ten & _luhn_ok(v.where(ten, "0000000000"), "80840")) if ten.any() else 0.0
    loinc = v.str.match(_RE["loinc"])
    if loinc.any():
        body = v.where(loinc, "0-0").str.replace("-", "", regex=False)
        out["loinc"] = _share(loinc & _luhn_ok(body))
    out["state"] = _share(low.isin(_STATE_WORDS))
    out["country"] = _share(low.isin(_COUNTRIES))
    out["bool"] = _share(low.isin(_BOOL_WORDS))
    out["gender"] = _share(low.isin(_GENDER_WORDS))
    words = v.str.count(r"\s+") + 1
    out["free_text"] = _share((v.str.len() >= 40) & (words >= 6))
    out["name_like"] = _share(v.str.match(r"^[A-Z][a-z'\-]+\d*(?: [A-Z][a-z'\-]+\d*)?$"))
    date_fmt, date_share = best_date_format(v[~v.str.contains(r"\d:\d", regex=True)], DATE_FORMATS)
    has_time = v.str.contains(r"\d{1,2}:\d{2}", regex=True) & v.str.contains(r"\d{2,4}[-/.]\d", regex=True)
    dt_fmt, dt_share = best_date_format(v[has_time], DATETIME_FORMATS) if has_time.any() else (None, 0.0)
    n = len(v)
    out["date"] = round(date_share * (n - int(has_time.sum())) / n, 3) if date_fmt else 0.0
    out["datetime"] = round(dt_share * int(has_time.sum()) / n, 3) if dt_fmt else 0.0
    fmt = dt_fmt if out["datetime"] > out["date"] else date_fmt
    # a column of small integers is not a column of dates (%Y%m%d accepts 8-digit numbers only)
    if out["integer"] > 0.9 and fmt == "%Y%m%d" and not v.str.len().eq(8).all():
        out["date"], fmt = 0.0, None
    return {k: round(float(s), 3) for k, s in out.items()}, fmt


def masked_shape(values: pd.Series) -> str | None:
    """The most common masked shape of the values: letters -> ``A``/``a``, digits -> ``9``, other
    characters kept, runs longer than 12 cut with ``…`` (``Aaaa9``, ``999-99-9999``). None if empty."""
    v = values.dropna().astype("string")
    if v.empty:
        return None
    shape = v.str.replace(r"[A-Z]", "A", regex=True).str.replace(r"[a-z]", "a", regex=True)
    shape = shape.str.replace(r"\d", "9", regex=True).str.replace(r"(.)\1{11,}", r"\1\1\1…", regex=True)
    return str(shape.str.slice(0, 40).mode().iloc[0])
