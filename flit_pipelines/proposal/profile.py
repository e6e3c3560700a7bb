"""PHI-free source profiling: per object and column, statistics and recogniser shares, never values.

``profile_frames({object: DataFrame of text})`` -> ``SourceProfile``: for every column the inferred
type, fill rate, distinct count, length range, the share of values each recogniser accepts
(``recognise``), the date format found and a masked shape; per object a primary key and foreign keys
discovered from uniqueness and value inclusion (``encounters.PATIENT`` ⊂ ``patients.Id``).

The one place values are kept is ``ColumnProfile.values``: the distinct values of a low-cardinality
coded column (``M``/``F``, status codes), needed to propose value maps. They are kept only when the
column has at most ``MAX_CODES`` distinct values, repeats them (distinct <= half the filled rows), and
looks like a code: not names, dates, numbers used as identifiers, free text, contact details or
identifiers (``code_values``). Everything else is counts and shares.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from flit_pipelines.proposal.names import normalise, tokens
from flit_pipelines.proposal.recognise import masked_shape, recognise

MAX_CODES = 25
_PHONE_WORDS = {"phone", "fax", "mobile", "telephone"}
_MONEY_WORDS = {"amount", "cost", "price", "fee", "balance", "charge", "payment", "paid", "total", "revenue", "income",
                "expense", "copay", "coverage", "value", "outstanding", "billed", "due", "adjustment", "transfer"}
SAMPLE_ROWS = 5_000  # rows profiled per object (notes/map_proposal.md: 2-5k): shares converge, speed stays flat
# Recognisers whose values are personal or identifying: their columns never keep a value list.
_PERSONAL = ("email", "phone", "zip", "ssn", "npi", "uuid", "date", "datetime", "free_text", "name_like", "url")


@dataclass
class ColumnProfile:
    """One column: statistics and recogniser shares (0..1), never a value except ``values`` (codes)."""

    name: str
    inferred_type: str  # string | int | float | money | date | datetime | bool
    rows: int
    fill_rate: float
    distinct: int
    unique: bool
    min_length: int | None
    max_length: int | None
    recognisers: dict[str, float]
    date_format: str | None = None
    shape: str | None = None
    values: list[str] | None = None
    value_counts: dict[str, int] | None = None

    def best(self, *names: str) -> float:
        """The largest share among the named recognisers."""
        return max((self.recognisers.get(n, 0.0) for n in names), default=0.0)


@dataclass
class ForeignKey:
    """``column`` of this object holds values of ``parent``.``parent_column`` (share ``inclusion``)."""

    column: str
    parent: str
    parent_column: str
    inclusion: float


@dataclass
class ObjectProfile:
    """One source object (file, table, view or endpoint)."""

    name: str
    location: str  # file name, schema.table or endpoint
    rows_profiled: int
    columns: dict[str, ColumnProfile]
    primary_key: str | None = None
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    truncated: bool = False  # more rows than SAMPLE_ROWS exist


@dataclass
class SourceProfile:
    """A whole source: kind (csv_export | database | <api>), where (never a credential), objects."""

    kind: str
    where: str
    objects: dict[str, ObjectProfile]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, PHI-free (statistics, recogniser names, masked shapes, code values)."""
        return asdict(self)


def _infer_type(rec: dict[str, float], values: pd.Series, date_format: str | None) -> str:
    if values.empty:
        return "string"
    leading_zero = bool(values.str.match(r"^0\d").any())
    low = values.str.lower()
    if rec["bool"] >= 0.99 and low.isin(["true", "false", "t", "f", "yes", "no", "y", "n"]).mean() >= 0.99:
        return "bool"
    if rec["integer"] >= 0.99 and not leading_zero and values.str.len().max() <= 15:
        return "int"
    if rec["money"] >= 0.9 and rec["number"] >= 0.99:
        return "money"
    if rec["number"] >= 0.99 and not leading_zero:
        return "float"
    if rec["datetime"] >= 0.5 and rec["date"] + rec["datetime"] >= 0.97:
        return "datetime"
    if rec["date"] >= 0.97 and date_format:
        return "date"
    return "string"


def code_values(rec: dict[str, float], distinct: int, filled: int, inferred: str,
                values: pd.Series | None = None) -> bool:
    """May this column's distinct values be kept (a coded column, module docstring)? Codes are short
    and not capitalised words (a place, a name): ``M``, ``CHARGE``, ``no-show``, ``PPO``, ``-106``."""
    if distinct == 0 or distinct > MAX_CODES or distinct * 2 > max(filled, 1):
        return False
    if values is not None and len(values):
        words = values.str.contains(r"[A-Z][a-z]", regex=True) & ~values.str.fullmatch(r"[A-Z][a-z]{0,3}\.")
        if int(values.str.len().max()) > 24 or words.any():  # "Mr." / "Dr." are codes, "Testville" is not
            return False
    if any(rec.get(n, 0.0) > 0.2 for n in _PERSONAL):
        return False
    if inferred in ("date", "datetime", "float", "money"):
        return False
    return not (inferred == "int" and distinct > 12)


def profile_column(name: str, raw: pd.Series, total_rows: int) -> ColumnProfile:
    """Profile one text column (``raw``: the sampled values, nulls as NA)."""
    v = raw.astype("string").str.strip()
    filled = v[v.notna() & (v != "")]
    rec, fmt = recognise(filled)
    words = set(normalise(name).split())
    if words & _PHONE_WORDS:  # digits-only phone numbers: the header says what the digits are
        digits_only = filled.str.fullmatch(r"1?\d{10}")
        rec["phone"] = round(max(rec["phone"], float(digits_only.mean()) if len(filled) else 0.0), 3)
    inferred = _infer_type(rec, filled, fmt)
    if inferred == "money" and not words & _MONEY_WORDS:
        inferred = "float"  # two decimals alone (a latitude) do not make an amount
    if rec["phone"] >= 0.8 and inferred in ("int", "float"):
        inferred = "string"
    lengths = filled.str.len()
    distinct = int(filled.nunique())
    keep = code_values(rec, distinct, len(filled), inferred, filled)
    counts = filled.value_counts().sort_index() if keep else None
    return ColumnProfile(
        name=name, inferred_type=inferred, rows=int(total_rows),
        fill_rate=round(len(filled) / total_rows, 4) if total_rows else 0.0,
        distinct=distinct, unique=bool(distinct == len(filled) and len(filled) > 0),
        min_length=int(lengths.min()) if len(lengths) else None, max_length=int(lengths.max()) if len(lengths) else None,
        recognisers=rec, date_format=fmt if inferred in ("date", "datetime") or rec["date"] > 0.5 else None,
        shape=masked_shape(filled.head(200)),
        values=[str(x) for x in counts.index] if keep else None,
        value_counts={str(k): int(n) for k, n in counts.items()} if keep else None)


def _key_score(name: str) -> int:
    low = name.lower()
    return 2 if low in ("id", "key", "uuid", "guid") else 1 if low.endswith(("id", "_key", "number", "no")) else 0


def profile_frames(frames: dict[str, pd.DataFrame], *, locations: dict[str, str] | None = None,
                   truncated: dict[str, bool] | None = None, kind: str = "csv_export", where: str = "") -> SourceProfile:
    """Profile every object (``frames``: object -> text frame of its sampled rows) and discover keys."""
    objects: dict[str, ObjectProfile] = {}
    for name, df in frames.items():
        cols = {c: profile_column(c, df[c], len(df)) for c in df.columns}
        pk_candidates = [c for c, p in cols.items() if p.unique and p.fill_rate >= 0.999 and len(df) > 1
                         and p.inferred_type in ("string", "int")]
        pk = max(pk_candidates, key=lambda c: (_key_score(c), -list(df.columns).index(c)), default=None)
        if pk is not None and _key_score(pk) == 0 and list(df.columns).index(pk) != 0:
            pk = None  # unique by chance (a name, an amount): not a key
        objects[name] = ObjectProfile(name=name, location=(locations or {}).get(name, name), rows_profiled=len(df),
                                      columns=cols, primary_key=pk, truncated=bool((truncated or {}).get(name)))
    _foreign_keys(frames, objects)
    return SourceProfile(kind=kind, where=where, objects=objects)


def _singular(word: str) -> str:
    w = word.lower()
    return w[:-3] + "y" if w.endswith("ies") else w[:-1] if w.endswith("s") and not w.endswith("ss") else w


def _foreign_keys(frames: dict[str, pd.DataFrame], objects: dict[str, ObjectProfile]) -> None:
    """Inclusion dependencies child.column ⊂ parent.primary_key. Integer keys also need a name hint
    (``patient_id`` -> ``patients``): small integers are included in every integer key."""
    keys = {o: set(frames[o][p.primary_key].dropna().astype("string").str.strip())
            for o, p in objects.items() if p.primary_key}
    for child, prof in objects.items():
        df = frames[child]
        for col, cp in prof.columns.items():
            if col == prof.primary_key or cp.fill_rate == 0 or cp.inferred_type not in ("string", "int"):
                continue
            vals = set(df[col].dropna().astype("string").str.strip()) - {""}
            if not vals:
                continue
            best: ForeignKey | None = None
            best_rank = (-1.0, -1.0)
            col_tokens = {_singular(t) for t in tokens(col)}
            for parent, pkeys in keys.items():
                if parent == child and col == objects[parent].primary_key:
                    continue
                inclusion = len(vals & pkeys) / len(vals)
                if inclusion < 0.95:
                    continue
                parent_tokens = {_singular(t) for t in tokens(parent)} | {
                    _singular(t) for t in tokens(objects[parent].primary_key or "")} - {"id", "key"}
                hint = len(col_tokens & parent_tokens)
                opaque = cp.inferred_type == "string" and (cp.min_length or 0) >= 8
                if not hint and not opaque:
                    continue
                rank = (float(hint), inclusion)
                if rank > best_rank:
                    best_rank, best = rank, ForeignKey(col, parent, objects[parent].primary_key, round(inclusion, 4))
            if best is not None:
                prof.foreign_keys.append(best)
