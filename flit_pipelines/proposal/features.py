"""Evidence features of (source column, destination field) pairs: what ``proposal.combiner`` weighs.

``pair_features(col, fields)`` returns a matrix, one row per field of the entity, one column per name
in ``FEATURES`` (all in 0..1 or -1..1), plus per field the best-matching name and the value evidence
(``evidence.value_fit``). The same function builds the training pairs (``scripts/train_proposer.py``) and
scores real columns, so training and use cannot drift apart.

* names (``names.normalise``: case, separators, abbreviations, word segmentation): ``name`` the
  rapidfuzz similarity to the field's API name, label or documented synonyms; ``exact`` an exact
  normalised match; ``overlap`` shared words (Dice);
* meaning (``proposal.meaning``, WordLlama static embeddings): ``emb_name`` cosine with the closest
  field name, ``emb_desc`` cosine with "label, description, entity";
* values (``evidence.value_fit``): ``fit`` how well the values suit the field, ``typed`` whether the
  field's kind needs typed values (e-mail, phone, date, money, picklist...), ``typed_fit`` and
  ``typed_misfit`` their products, ``strong_into_text`` typed values offered to a free-text field,
  ``code_into_enum`` a coded column (few distinct values) offered to a picklist, ``fit_unique`` the only
  field of the entity whose kind the values fit, ``short_into_long`` short values offered to a long-text
  field, ``label_into_title`` a label-like column offered to the field that names the record;
* context (the entity's other fields): ``name_margin`` / ``emb_margin`` how much better this field's
  name evidence is than the best other field's (the one-to-one assignment does the rest);
  ``opaque_name`` the header says nothing (``field7``, ``udf_3``): only the values can tell, whereas a
  header with words of its own that match no field ("reason code") is evidence against.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from flit_pipelines.catalog import FieldDef
from flit_pipelines.proposal import meaning
from flit_pipelines.proposal.evidence import TYPE_NEEDS, field_kind, name_similarity, value_fit, word_overlap
from flit_pipelines.proposal.names import normalise
from flit_pipelines.proposal.profile import ColumnProfile

FEATURES = ("name", "exact", "overlap", "emb_name", "emb_desc", "fit", "typed", "typed_fit", "typed_misfit",
            "strong_into_text", "code_into_enum", "fit_unique", "short_into_long", "label_into_title",
            "name_margin", "emb_margin", "opaque_name")
_TITLE_FIELDS = {"name", "title", "subject", "Subject", "Name", "Title", "LastName"}
_LABEL_WORDS = {"name", "title", "description", "subject", "summary", "reason", "type", "kind"}
# words that say nothing about what a column holds ("field7", "udf_3", "custom value")
_OPAQUE_WORDS = {"field", "col", "column", "attr", "attribute", "value", "data", "custom", "udf", "var", "misc",
                 "other", "extra", "user", "defined", "x"}


@dataclass(frozen=True)
class _FieldIndex:
    keys: tuple[str, ...]
    names: tuple[tuple[str, ...], ...]  # normalised names per field
    name_vecs: np.ndarray  # (total names, 256)
    name_owner: np.ndarray  # field index of each row of name_vecs
    desc_vecs: np.ndarray  # (fields, 256)


def field_text(f: FieldDef, entity_label: str) -> str:
    """What a field means, for the embedding: label, API name words, description, entity."""
    parts = [f.label, normalise(f.name.rsplit(".", 1)[-1], drop_self=False, expand=False)]
    if f.description:
        parts.append(f.description)
    parts.append(entity_label)
    return "; ".join(p for p in parts if p)


@lru_cache(maxsize=256)
def _index(key: tuple) -> _FieldIndex:
    fields: dict[str, FieldDef] = dict(key[1])
    entity_label = key[0]
    keys = tuple(fields)
    names = tuple(tuple(dict.fromkeys(n for n in (normalise(x, drop_self=False, expand=False)
                                                  for x in fields[k].names) if n))
                  for k in keys)
    flat = [n for ns in names for n in ns]
    owner = np.array([i for i, ns in enumerate(names) for _ in ns], dtype=np.int64)
    use = meaning.available()
    name_vecs = meaning.embed(flat) if use and flat else np.zeros((len(flat), 256), dtype=np.float32)
    descs = [field_text(fields[k], entity_label) for k in keys]
    desc_vecs = meaning.embed(descs) if use and descs else np.zeros((len(descs), 256), dtype=np.float32)
    return _FieldIndex(keys, names, name_vecs, owner, desc_vecs)


def field_index(fields: dict[str, FieldDef], entity_label: str = "") -> _FieldIndex:
    """The embeddings and normalised names of ``fields`` (cached per entity and field set)."""
    return _index((entity_label, tuple(fields.items())))


def pair_features(col: ColumnProfile, fields: dict[str, FieldDef], entity_label: str = "") -> tuple[
        np.ndarray, list[str], list[tuple[float, str, dict | None, list[str]]]]:
    """Features of ``col`` against every field (rows in ``fields`` order; columns ``FEATURES``), the
    field name each matched best, and ``evidence.value_fit``'s result per field."""

    idx = field_index(fields, entity_label)
    n = len(idx.keys)
    x = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if not n:
        return x, [], []
    col_norm = normalise(col.name)
    leaf = normalise(col.name.rsplit(".", 1)[-1]) if "." in col.name else None  # API paths: address.city
    texts = [t for t in (col_norm, leaf) if t]
    if meaning.available() and texts:
        cv = meaning.embed(texts)
        by_name = (idx.name_vecs @ cv.T).max(axis=1) if len(idx.name_vecs) else np.zeros(0)
        emb_name = np.full(n, -1.0)
        np.maximum.at(emb_name, idx.name_owner, by_name)
        emb_desc = (idx.desc_vecs @ cv.T).max(axis=1)
    else:
        emb_name, emb_desc = np.zeros(n), np.zeros(n)
    matched, values = [], []
    strong = max((col.recognisers.get(r, 0.0) for r in ("email", "phone", "date", "datetime", "zip", "money",
                                                          "uuid")), default=0.0)
    label_like = bool(set(col_norm.split()) & _LABEL_WORDS) or (
        col.inferred_type == "string" and col.best("uuid", "date", "datetime", "email", "phone") < 0.5
        and 10 < (col.max_length or 0) <= 255)
    for i, k in enumerate(idx.keys):
        f = fields[k]
        sim, which = name_similarity(col_norm, list(f.names))
        if leaf:
            sim_leaf, which_leaf = name_similarity(leaf, list(f.names))
            if sim_leaf > sim:
                sim, which = sim_leaf, which_leaf
        ov = max((word_overlap(t, nn) for nn in idx.names[i] for t in texts), default=0.0)
        exact = float(any(t == nn for nn in idx.names[i] for t in texts))
        fit, why, vmap, unmapped = value_fit(col, f)
        kind = field_kind(f)
        typed = float(kind in TYPE_NEEDS or (kind == "enum" and bool(f.values)))
        x[i, :14] = (sim, exact, ov, emb_name[i], emb_desc[i], fit, typed, typed * fit, typed * (1 - fit),
                     (1 - typed) * strong * (kind in ("text", "long_text")),
                     float(kind == "enum" and col.values is not None),
                     0.0, float(kind == "long_text" and (col.max_length or 0) < 40 and col.fill_rate > 0),
                     float(k.split("#")[0] in _TITLE_FIELDS and label_like))
        matched.append(which)
        values.append((fit, why, vmap, unmapped))
    x[:, 16] = float(all(w in _OPAQUE_WORDS or len(w) <= 2 or w.isdigit() for w in col_norm.split()))
    fitting = (x[:, 6] == 1) & (x[:, 5] >= 0.9)
    x[:, 11] = fitting & (fitting.sum() == 1)
    for j, src in ((14, 0), (15, 3)):
        col_vals = x[:, src]
        if n == 1:
            x[:, j] = col_vals
            continue
        top2 = np.sort(col_vals)[-2:]
        best_other = np.where(col_vals == top2[1], top2[0], top2[1])
        x[:, j] = col_vals - best_other
    return x, matched, values
