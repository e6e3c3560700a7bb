"""Fit the map proposer's calibrated combiner (``flit_pipelines/proposal/combiner.json``).

    PYTHONPATH=. python scripts/train_proposer.py [--check]

Development pairs only (notes/map_proposal.md §4 "strict separation"): every sendable field of every
entity of the three destination catalogs (and the parts of composed fields) becomes synthetic source
columns whose headers are the field's own API name, label and documented synonyms, re-written in the
styles real systems use (snake_case, UPPER_SNAKE, UPPER run-together, camelCase, PascalCase, Title
Case, a record-word prefix, general dictionary abbreviations), and whose value profile is drawn for
the field's kind (dates parse as dates, e-mails as e-mails, picklist codes in other spellings...).
Decoys are columns made from other entities' fields the entity does not have. A column's field is
its own field; every other field of the entity is a negative. Nothing here reads a source, a spec or
an evaluation set.

Features come from ``proposal.features.pair_features`` (the function the proposer uses). The
logistic regression is fitted on two thirds of the fields (grouped by field, so held-out fields are
unseen), isotonic calibration on the other third; the bands are measured on that held-out third:
``high`` = the lowest confidence at which the top-ranked field is right >= 98 % of the time,
``propose`` = the confidence from which it is right more often than not. Deterministic (fixed seeds).
``--check`` refits and fails if the result differs from the committed file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from flit_pipelines.catalog import FieldDef, load_catalog  # noqa: E402
from flit_pipelines.proposal.combiner import MODEL_PATH  # noqa: E402
from flit_pipelines.proposal.entities import _fields_with_parts, entity_keys  # noqa: E402
from flit_pipelines.proposal.features import FEATURES, pair_features  # noqa: E402
from flit_pipelines.proposal.names import ABBREVIATIONS, normalise, tokens  # noqa: E402
from flit_pipelines.proposal.profile import ColumnProfile  # noqa: E402
from flit_pipelines.proposal.recognise import RECOGNISERS  # noqa: E402
from flit_pipelines.proposal.evidence import field_kind  # noqa: E402

PRECISION_TARGET = 0.98
_INVERSE = {v: k for k, v in ABBREVIATIONS.items() if " " not in k and len(k) <= 5 and k != v}
_PREFIXES = ("pt", "pat", "patient", "client", "rec", "src")
# general header habits: a qualifier word, a dropped word, "_at"/"_on" for moments (Rails-style names)
_QUALIFIERS = ("primary", "main", "current", "preferred", "default", "value", "info", "1", "text", "data", "full")
_MOMENT = {"date": ("on", "dt", "date"), "time": ("at", "ts", "time"), "datetime": ("at", "ts"), "timestamp": ("at",)}


def _qualified(h: str, r: random.Random) -> str:
    w = _words(h)
    q = r.choice(_QUALIFIERS)
    return "_".join([q, *w] if r.random() < 0.5 else [*w, q])


def _dropped(h: str, r: random.Random) -> str:
    w = _words(h)
    if len(w) > 1:
        w.pop(r.randrange(len(w)))
    return "_".join(w)


def _moment(h: str, r: random.Random) -> str:
    w = [r.choice(_MOMENT[x]) if x in _MOMENT else x for x in _words(h)]
    if len(w) > 1 and w[0] in ("start", "end", "due", "close", "add", "create"):
        w[0] = w[0] + r.choice(["", "s", "ed"]) if not w[0].endswith("e") else w[0] + r.choice(["", "s", "d"])
    return "_".join(w)


def _words(h: str) -> list[str]:
    return tokens(h) or [h.lower()]


def _abbreviate(h: str) -> str:
    joined = " ".join(_words(h))
    for full, short in sorted(_INVERSE.items(), key=lambda kv: -len(kv[0])):
        joined = f" {joined} ".replace(f" {full} ", f" {short} ").strip()
    return "_".join(joined.split())


STYLES = {
    "as is": lambda h, r: h,
    "snake": lambda h, r: "_".join(_words(h)),
    "UPPER_SNAKE": lambda h, r: "_".join(_words(h)).upper(),
    "UPPER": lambda h, r: "".join(_words(h)).upper(),
    "lower": lambda h, r: "".join(_words(h)),
    "camel": lambda h, r: (lambda w: w[0] + "".join(x.title() for x in w[1:]))(_words(h)),
    "Pascal": lambda h, r: "".join(x.title() for x in _words(h)),
    "Title": lambda h, r: " ".join(x.title() for x in _words(h)),
    "prefix": lambda h, r: r.choice(_PREFIXES) + "_" + "_".join(_words(h)),
    "abbreviated": lambda h, r: _abbreviate(h),
    "qualified": _qualified,
    "dropped word": _dropped,
    "moment": _moment,
    # an opaque header (exports without meaningful names, notes/map_proposal.md "headerless"): only
    # the values can tell
    "opaque": lambda h, r: r.choice(("field", "col", "attr", "value", "data", "x", "custom", "udf")) + str(
        r.randint(1, 40)),
}


def _profile(header: str, f: FieldDef, rng: random.Random) -> ColumnProfile:
    """A value profile drawn for ``f``'s kind (shares, inferred type, lengths, code values)."""
    kind = field_kind(f)
    rec = dict.fromkeys(RECOGNISERS, 0.0)
    strong = rng.uniform(0.85, 1.0) if rng.random() > 0.1 else rng.uniform(0.5, 0.85)
    inferred, values, length = "string", None, (3, rng.randint(8, 60))
    simple = {"email": "email", "phone": "phone", "postal_code": "zip", "state": "state", "country": "country",
              "url": "url"}
    if kind in simple:
        rec[simple[kind]] = strong
        if kind == "state" and rng.random() < 0.5:
            values = ["CA", "NY", "TX", "WA"][: rng.randint(2, 4)]
    elif kind in ("date", "datetime"):
        rec[kind] = strong
        rec["date" if kind == "datetime" else "datetime"] = rng.uniform(0, 1 - strong)
        inferred = kind if strong > 0.97 else "string"
    elif kind == "money":
        rec.update(money=strong, number=1.0)
        inferred = "money"
    elif kind in ("number", "duration"):
        rec.update(number=1.0, integer=rng.choice([1.0, strong]))
        inferred = "int" if rec["integer"] == 1.0 else "float"
    elif kind == "bool":
        rec.update(bool=1.0)
        inferred, values = "bool", rng.choice([["false", "true"], ["N", "Y"], ["0", "1"]])
    elif kind == "enum" and f.values:
        allowed = list(f.values)
        pick = rng.sample(allowed, rng.randint(1, len(allowed)))
        style = rng.choice(["same", "upper", "lower", "prefix", "codes"])
        if style == "upper":
            values = [v.upper() for v in pick]
        elif style == "lower":
            values = [v.lower() for v in pick]
        elif style == "prefix":
            values = [v[:4].upper() for v in pick]
        elif style == "codes":
            values = [str(i + 1) for i in range(len(pick))]
            rec.update(integer=1.0, number=1.0)
        else:
            values = pick
    elif kind == "long_text":
        rec["free_text"] = rng.uniform(0.3, 1.0)
        length = (1, rng.randint(200, 4000))
    else:
        r = rng.random()
        if r < 0.3:
            rec["name_like"] = rng.uniform(0.6, 1.0)
        elif r < 0.45:
            values = [f"C{i}" for i in range(rng.randint(2, 12))]
        elif r < 0.55:
            rec["free_text"] = rng.uniform(0.1, 0.5)
            length = (1, rng.randint(60, 255))
    fill = rng.choice([1.0, rng.uniform(0.05, 1.0)])
    distinct = len(values) if values else rng.randint(20, 500)
    return ColumnProfile(name=header, inferred_type=inferred, rows=500, fill_rate=round(fill, 3), distinct=distinct,
                         unique=False, min_length=length[0], max_length=length[1],
                         recognisers={k: round(v, 3) for k, v in rec.items()}, values=values)


def _entities():
    for kind in ("pipedrive", "highlevel", "salesforce"):
        cat = load_catalog(kind)
        for key in entity_keys(cat):
            ent = cat.entity(key.entity, key.sobject)
            if ent.open or ent.match_only:
                continue
            fields = _fields_with_parts(ent)
            if fields:
                yield f"{kind}/{key.label}", ent.label, fields


def _group(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 3


def build_pairs(seed: int = 11) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, column id, held-out flag) over every synthetic column x its entity's fields."""
    rng = random.Random(seed)
    ents = list(_entities())
    all_fields = [(label, f) for _e, label, fields in ents for f in fields.values()]
    xs, ys, cols, held = [], [], [], []
    cid = 0
    for ename, elabel, fields in ents:
        keys = list(fields)
        own = {normalise(n, drop_self=False) for f in fields.values() for n in f.names}
        for k in keys:
            f = fields[k]
            bases = list(dict.fromkeys(n for n in f.names if n))
            for base in bases:
                for style in rng.sample(list(STYLES), 4):
                    header = STYLES[style](base, rng)
                    x, _m, _v = pair_features(_profile(header, f, rng), fields, elabel)
                    xs.append(x)
                    ys.append(np.array([kk == k for kk in keys], dtype=np.int8))
                    cols.append(np.full(len(keys), cid))
                    held.append(np.full(len(keys), _group(f"{ename}/{k}") == 0))
                    cid += 1
            # decoys: another entity's field this entity has no field of that name for, one of them of
            # this field's kind (values alike, a name of its own: "reason code" is not a duration)
            same_kind = [af for af in all_fields if field_kind(af[1]) == field_kind(f)]
            for j in range(3):
                dl, df = rng.choice(same_kind if j == 0 and same_kind else all_fields)
                if any(normalise(n, drop_self=False) in own for n in df.names):
                    continue
                header = STYLES[rng.choice(list(STYLES))](rng.choice(list(df.names)), rng)
                x, _m, _v = pair_features(_profile(header, df, rng), fields, elabel)
                xs.append(x)
                ys.append(np.zeros(len(keys), dtype=np.int8))
                cols.append(np.full(len(keys), cid))
                held.append(np.full(len(keys), _group(f"{ename}/{k}") == 0))
                cid += 1
    return np.vstack(xs), np.concatenate(ys), np.concatenate(cols), np.concatenate(held)


def _bands(p: np.ndarray, y: np.ndarray, cols: np.ndarray) -> tuple[dict, dict]:
    """Top-ranked field per column: the confidence bands and what they measure on held-out pairs."""
    order = np.lexsort((-p, cols))
    first = np.ones(len(order), dtype=bool)
    first[1:] = cols[order][1:] != cols[order][:-1]
    top_p, top_y = p[order][first], y[order][first]
    has_truth = np.zeros(cols.max() + 1, dtype=bool)
    has_truth[cols[y == 1]] = True
    high = 1.0
    for t in np.unique(top_p):  # ascending: the lowest threshold whose band keeps the precision
        band = top_p >= t
        if band.sum() >= 20 and top_y[band].mean() >= PRECISION_TARGET:
            high = float(t)
            break
    high = max(high, 0.5)
    sel = top_p >= high
    stats = {"held_out_columns": int(len(top_p)), "with_a_field": int(has_truth[np.unique(cols)].sum()),
             "top1_accuracy": round(float(top_y[has_truth[np.unique(cols)]].mean()), 4),
             "high_band_precision": round(float(top_y[sel].mean()), 4) if sel.any() else None,
             "high_band_share": round(float(sel.mean()), 4)}
    return {"high": round(high, 4), "propose": 0.5}, stats


def fit(seed: int = 11) -> dict:
    """The combiner document (``proposal.combiner`` module docstring)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    x, y, cols, held = build_pairs(seed)
    lr = LogisticRegression(C=1.0, max_iter=5000)
    lr.fit(x[~held], y[~held])
    raw = lr.predict_proba(x[held])[:, 1]
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y[held])
    calibrated = iso.predict(raw)
    bands, stats = _bands(calibrated, y[held], cols[held])
    knots_x, knots_y = iso.X_thresholds_, iso.y_thresholds_
    return {"features": list(FEATURES), "coef": [round(float(c), 6) for c in lr.coef_[0]],
            "intercept": round(float(lr.intercept_[0]), 6),
            "iso_x": [round(float(v), 6) for v in knots_x], "iso_y": [round(float(v), 6) for v in knots_y],
            "bands": bands, "held_out": stats,
            "training": {"pairs": int(len(y)), "positives": int(y.sum()), "columns": int(cols.max() + 1),
                         "seed": seed, "source": "catalog names, labels and documented synonyms in header "
                                                 "styles; decoys from other entities' fields"}}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="fail when a refit differs from the committed file")
    args = ap.parse_args()
    doc = fit()
    text = json.dumps(doc, indent=1) + "\n"
    if args.check:
        same = MODEL_PATH.exists() and MODEL_PATH.read_text() == text
        print("combiner.json is up to date" if same else "combiner.json differs from a refit")
        return 0 if same else 1
    MODEL_PATH.write_text(text)
    print(json.dumps({k: doc[k] for k in ("bands", "held_out", "training")}, indent=1))
    print(dict(zip(FEATURES, doc["coef"], strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
