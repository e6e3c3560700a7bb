"""The evidence of one column against one destination field, before any weighting: the field's kind,
name similarity (rapidfuzz over the field's names and synonyms), word overlap, and how well the values
suit the field (``value_fit``, with a value map for enums). ``proposal.features`` turns it into the
combiner's features; ``proposal.score`` into candidates."""

from __future__ import annotations

from rapidfuzz import fuzz

from flit_pipelines.catalog import FieldDef
from flit_pipelines.proposal.names import normalise
from flit_pipelines.proposal.profile import ColumnProfile

__all__ = ["ISO_5218", "TYPE_NEEDS", "field_kind", "name_similarity", "value_fit", "value_map", "word_overlap"]

# Field kind -> recognisers whose share gates it.
TYPE_NEEDS: dict[str, tuple[str, ...]] = {
    "email": ("email",), "phone": ("phone",), "date": ("date", "datetime"), "datetime": ("datetime", "date"),
    "money": ("number", "money"), "number": ("number", "integer"), "duration": ("integer", "time"),
    "bool": ("bool",), "postal_code": ("zip",), "state": ("state",), "country": ("country",), "url": ("url",),
}
_STRONG = ("email", "phone", "date", "datetime", "zip", "money", "ssn", "uuid")
# ISO/IEC 5218 codes for the representation of human sexes: 0 not known, 1 male, 2 female, 9 not applicable.
ISO_5218 = {"1": "male", "2": "female", "0": "unknown", "9": "not applicable"}


def field_kind(f: FieldDef) -> str:
    """The kind a field's values must have: its catalog type, refined by name for text fields."""
    if f.type not in ("text",):
        return f.type
    words = set(normalise(f.name.rsplit(".", 1)[-1], expand=False).split()) | set(normalise(f.label, expand=False).split())
    if words & {"postal", "zip"}:
        return "postal_code"
    if "state" in words and not words & {"status"}:
        return "state"
    if "country" in words:
        return "country"
    return "text"


def name_similarity(col_norm: str, names: list[str], *, expand: bool = False) -> tuple[float, str]:
    """Best similarity (0..1) of a normalised column name with any of ``names``, and that name.
    ``expand``: the names are source headers too (adapt mode), whose abbreviations expand."""
    best, which = 0.0, ""
    for n in names:
        nn = normalise(n, drop_self=False, expand=expand)  # destination names are words, not abbreviations
        if not nn:
            continue
        if col_norm == nn:
            return 1.0, n
        sort = fuzz.token_sort_ratio(col_norm, nn) / 100
        subset = fuzz.token_set_ratio(col_norm, nn) / 100
        sim = max(sort, 0.85 * subset)
        if not word_overlap(col_norm, nn):
            sim *= 0.7  # letters alike, no word alike ("start" / "status"): weak evidence
        if sim > best:
            best, which = sim, n
    return best, which


def word_overlap(a: str, b: str) -> float:
    """Dice overlap of the words of two normalised names; a word matches another it starts
    (4+ letters: ``appt`` ~ ``appointment`` after expansion, ``claim`` ~ ``claims``)."""
    wa, wb = a.split(), b.split()
    if not wa or not wb:
        return 0.0
    hit = sum(1 for x in wa if any(x == y or (min(len(x), len(y)) >= 4 and (x.startswith(y) or y.startswith(x)))
                                   for y in wb))
    return 2 * hit / (len(wa) + len(wb))


def _key(v: str) -> str:
    return "".join(ch for ch in v.lower() if ch.isalnum())


def value_map(values: list[str], allowed: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """Map observed code values onto allowed values: same text ignoring case and punctuation, an
    initial (``M`` -> ``male``), a prefix (``CONF`` -> ``confirmed``), ISO/IEC 5218 sex codes.

    Returns ``(map, unmapped values)``."""
    by_key = {_key(a): a for a in allowed}
    out: dict[str, str] = {}
    unmapped: list[str] = []
    for v in values:
        k = _key(v)
        hit = by_key.get(k)
        if hit is None and k:
            starts = [a for kk, a in by_key.items() if kk.startswith(k) or (len(kk) >= 3 and k.startswith(kk))]
            hit = starts[0] if len(starts) == 1 else None
        if hit is None and v in ISO_5218 and ISO_5218[v] in by_key:
            hit = by_key[ISO_5218[v]]
        if hit is None:
            unmapped.append(v)
        elif hit != v:
            out[v] = hit
    return out, unmapped


def value_fit(col: ColumnProfile, f: FieldDef) -> tuple[float, str, dict[str, str] | None, list[str]]:
    """How well the column's values suit the field (0..1), the evidence, and a value map for enums."""
    kind = field_kind(f)
    if col.fill_rate == 0:
        return 0.5, "no values to check", None, []
    if kind in TYPE_NEEDS:
        share = col.best(*TYPE_NEEDS[kind])
        if kind in ("date", "datetime") and col.inferred_type in ("date", "datetime"):
            share = max(share, 0.99)
        if kind == "number" and col.inferred_type in ("int", "float", "money"):
            share = 1.0
        return share, f"{share:.0%} of values are {kind} values", None, []
    if kind == "enum" and f.values:
        if col.values is None:
            return 0.3, "not a coded column: no value list to map", None, []
        vmap, unmapped = value_map(col.values, f.values)
        share = 1 - len(unmapped) / max(len(col.values), 1)
        # a coded column fits an enum even when a reviewer has to finish its value map
        return 0.5 + 0.5 * share, (f"{len(col.values) - len(unmapped)} of {len(col.values)} codes map to allowed "
                                   "values" + (f"; {len(unmapped)} to map in review" if unmapped else "")), vmap, unmapped
    strong = max((col.recognisers.get(n, 0.0) for n in _STRONG), default=0.0)
    if kind == "long_text":
        fit = max(0.8, col.recognisers.get("free_text", 0.0)) * (1 - 0.5 * strong)
        return fit, "free text" if col.recognisers.get("free_text", 0) > 0.5 else "text", None, []
    if kind in ("list", "object", "file", "path"):
        return 0.6, kind, None, []
    return 1 - 0.5 * strong, "text" if strong < 0.5 else "values are typed, field takes text", None, []
