"""Map-proposal benchmark (issue 11): hide each spec, propose from scratch on its source (demo data),
score against the spec's own mappings; then adapt mode on drifted variants of the file sources.

    PYTHONPATH=.:sandboxes python benchmarks/map_proposal.py [--variants 20]

Sources (the demo's builders): the synthetic clinic export (``clinic_to_pipedrive``), the Dentrix-shaped
demo practice over SQLite (``dentrix_to_highlevel``), the same practice served by the Dentrix Ascend
sandbox (``henry_schein_one_to_highlevel``) and a PracticeHub sandbox practice
(``practicehub_to_salesforce``). API objects are read through their readers with the spec's JSON paths
as the headers (what the API returns; the spec's canonical names are hidden).

Ground truth (``proposal.mappings.spec_mappings``): a source column's standard fields in the spec,
directly or through row-wise derive steps and templates. Metrics, over columns whose truth is a
standard field: top-1 (the proposed field is one of them), top-3 (or one of the first two
alternatives); the high band (confidence >= ``score.HIGH``): precision over every standard-field
proposal in the band (a proposal where the spec maps no standard field counts as wrong) and its
coverage of the standard-field columns; identifiers (SSN, driver's licence, passport) proposed
``not_migrated``; seconds per 100 columns (profile + proposal, 2 cores shared).

Adapt mode: ``--variants`` variants per file source, each renaming a random third of the declared
headers in one style real systems use (camelCase, snake_case, UPPER, Title Case with spaces, a ``pt_``
/ ``PAT_`` prefix, abbreviations from the general dictionary), dropping optional columns, adding two
columns and reversing the column order; resolved = the adapted spec reads each renamed column from
its new header.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "sandboxes")]

import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from _shared import git_state  # noqa: E402
from map_truth import spec_truth  # noqa: E402
from flit_pipelines.catalog import load_catalog  # noqa: E402
from flit_pipelines.proposal.adapt import Adapter  # noqa: E402
from flit_pipelines.proposal.build import identifier_kind, propose_scratch  # noqa: E402
from flit_pipelines.proposal.names import ABBREVIATIONS, abbreviation_count, tokens  # noqa: E402
from flit_pipelines.proposal.profile import profile_frames  # noqa: E402
from flit_pipelines.proposal.score import HIGH  # noqa: E402
from flit_pipelines.proposal.sources import read_csv_directory, read_database  # noqa: E402
from flit_pipelines.spec import load_spec  # noqa: E402
from flit_pipelines.spec.model import ColumnSpec  # noqa: E402

SPECS = REPO / "mapping_specs"
OUT = REPO / "benchmarks" / "results" / "map_proposal.json"


# --- sources -------------------------------------------------------------------------------------------

def clinic_source(tmp: Path):
    from flit_sandboxes.clinic_export import build_clinic_export

    build_clinic_export(tmp / "clinic", patients=300, seed=7)
    return lambda: read_csv_directory(tmp / "clinic"), tmp / "clinic"


def dentrix_source(tmp: Path):
    from flit_sandboxes.dentrix_practice import build_practice

    build_practice(tmp / "practice.db", patients=200, export_dir=tmp / "dentrix_export")
    return lambda: read_database(f"sqlite:///{tmp / 'practice.db'}"), tmp / "dentrix_export"


def _api_profile(spec, source) -> object:
    """Each spec object read with every declared JSON path as a column named by that path."""
    frames = {}
    for oname, obj in spec.objects.items():
        cols = {c.source or n: ColumnSpec(source=c.source or n, required=False) for n, c in obj.columns.items()}
        relaxed = obj.model_copy(update={"columns": cols, "primary_key": None, "modified_at": None, "wave_key": None,
                                         "download": None})
        parts, n = [], 0
        for batch in source.read(relaxed):
            parts.append(batch.to_pandas())
            n += batch.num_rows
            if n >= 2000:
                break
        frames[oname] = pd.concat(parts, ignore_index=True).astype("string") if parts else pd.DataFrame(
            {c: pd.Series(dtype="string") for c in cols})
    return profile_frames(frames, kind=spec.source.kind, where="api")


def ascend_profile(spec, practice_db: Path):
    from flit_pipelines.sources.ascend_api import AscendApiSource
    from flit_sandboxes.ascend.server import (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_ORGANIZATION_ID,
                                              api_base, running_sandbox, token_url)

    with running_sandbox(practice_db) as url:
        src = AscendApiSource(api_base=api_base(url), token_url=token_url(url), client_id=DEFAULT_CLIENT_ID,
                              client_secret=DEFAULT_CLIENT_SECRET, organization_id=DEFAULT_ORGANIZATION_ID, page_size=500)
        return _api_profile(spec, src)


def practicehub_profile(spec, tmp: Path):
    from flit_pipelines.sources.practicehub_api import PracticeHubSource
    from flit_sandboxes.practicehub import build_practicehub, running_sandbox
    from flit_sandboxes.practicehub.server import DEFAULT_API_KEY, DEFAULT_APP_DETAILS, api_base

    build_practicehub(tmp / "ph.db", patients=60, seed=7)
    with running_sandbox(tmp / "ph.db", api_key=DEFAULT_API_KEY, rate_per_second=10_000) as url:
        src = PracticeHubSource(api_base=api_base(url), api_key=DEFAULT_API_KEY, app_details=DEFAULT_APP_DETAILS,
                                page_size=100, requests_per_second=50, state_dir=tmp / "cursors")
        return _api_profile(spec, src)


# --- scoring -------------------------------------------------------------------------------------------

def object_key(spec, oname: str, api: bool) -> str:
    obj = spec.objects[oname]
    if api:
        return oname
    where = str(obj.file or obj.table).rsplit("/", 1)[-1]
    return where.removesuffix(".csv").split(".")[-1]


def score_scratch(spec, profile, api: bool) -> dict:
    catalog = load_catalog(spec.destination.kind)
    t0 = time.perf_counter()
    p = propose_scratch(profile, catalog, migration="bench", source={}, environment={}, destination_block={})
    propose_s = time.perf_counter() - t0
    declared = {(object_key(spec, o, api), c.source or n) for o, obj in spec.objects.items()
                for n, c in obj.columns.items()}
    t = spec_truth(spec, catalog, lambda o: object_key(spec, o, api), lambda o, c: spec.objects[o].columns[c].source or c)
    present = {(o, c) for o, op in profile.objects.items() for c in op.columns}
    truth = {k: v for k, v in t.carried.items() if k in present}  # optional columns absent here drop out
    fed = t.fed
    decided = {(d.object, d.column): d for d in p.decisions}
    std_cols = [k for k, v in truth.items() if v]
    top1 = top3 = covered = 0
    misses = []
    for k in std_cols:
        d = decided.get(k)
        pred = d.destination_field if d and d.decision in ("direct", "transform") else None
        alts = [a["destination_field"] for a in (d.alternatives if d else [])][:2]
        ok1 = pred in truth[k]
        top1 += ok1
        top3 += ok1 or any(a in truth[k] for a in alts)
        covered += bool(ok1 and d.confidence >= HIGH)
        if not ok1:
            misses.append(f"{k[0]}.{k[1]}: {pred or (d.decision if d else 'absent')} (truth {sorted(truth[k])})")
    # precision over the columns the spec declares (an undeclared column: the spec has no opinion)
    ent_fields = {f for e in catalog._all_entities() for f, fd in e.fields.items() if fd.local}
    band = [d for d in p.decisions if d.decision in ("direct", "transform") and d.confidence >= HIGH
            and (d.object, d.column) in declared and d.destination_field not in ent_fields]  # local: loader settings
    band_ok = sum(1 for d in band if d.destination_field in fed.get((d.object, d.column), set()))
    idents = [d for d in p.decisions if identifier_kind(profile.objects[d.object].columns[d.column])]
    n_cols = sum(len(o.columns) for o in profile.objects.values())
    return {"columns": n_cols, "standard_field_columns": len(std_cols),
            "top1": round(top1 / max(len(std_cols), 1), 3), "top3": round(top3 / max(len(std_cols), 1), 3),
            "high_band_proposals": len(band), "high_band_precision": round(band_ok / max(len(band), 1), 3),
            "high_band_coverage": round(covered / max(len(std_cols), 1), 3),
            "identifier_columns": len(idents),
            "identifiers_not_migrated": sum(1 for d in idents if d.decision == "not_migrated"),
            "identifiers_proposed_for_migration": sum(1 for d in idents if d.decision != "not_migrated"),
            "spec_choices_no_column_carries": len(t.choices), "spec_choices": t.choices,
            "open_entity_fields": t.open_fields,
            "propose_seconds": round(propose_s, 3), "misses": misses,
            "high_band_wrong": [f"{d.object}.{d.column} -> {d.destination_field} ({d.confidence:.2f}; spec "
                                f"{sorted(fed.get((d.object, d.column), set())) or 'no standard field'})"
                                for d in band if d.destination_field not in fed.get((d.object, d.column), set())]}


# --- adapt mode ----------------------------------------------------------------------------------------

def _words(h: str) -> list[str]:
    """A header's words: case and separators, and run-together words split (``abbrevdescript`` ->
    abbrev, descript) with wordsegment directly, so a snake_case or camelCase re-spelling really
    re-spells (the proposer's own normaliser is not used to make the variants)."""
    import wordsegment

    if not wordsegment.UNIGRAMS:
        wordsegment.load()
    out: list[str] = []
    for t in tokens(h):
        parts = wordsegment.segment(t) if t.isalpha() and len(t) >= 6 else [t]
        out.extend(parts if "".join(parts) == t else [t])
    return out or [h]


def _styles(rng: random.Random):
    inverse = {v: k for k, v in ABBREVIATIONS.items() if " " not in k and len(k) <= 5}

    def abbreviate(h: str) -> str:
        words = [w.lower() for w in tokens(h)]
        joined = " ".join(words)
        for full, short in sorted(inverse.items(), key=lambda kv: -len(kv[0])):
            if full in joined:
                joined = joined.replace(full, short)
        return "_".join(joined.split()).upper()
    return {
        "camelCase": lambda h: (lambda w: w[0] + "".join(x.title() for x in w[1:]))(_words(h)),
        "snake_case": lambda h: "_".join(_words(h)),
        "UPPER": lambda h: "".join(_words(h)).upper(),
        "Title Case": lambda h: " ".join(t.title() for t in _words(h)),
        "pt_ prefix": lambda h: "pt_" + "_".join(_words(h)),
        "PAT_ prefix": lambda h: "PAT_" + "_".join(_words(h)).upper(),
        "abbreviated": abbreviate,
    }


def adapt_variants(spec, export_dir: Path, n: int, tmp: Path) -> dict:
    rng = random.Random(11)
    styles = _styles(rng)
    catalog = load_catalog(spec.destination.kind)
    raw = yaml.safe_load((SPECS / f"{spec.migration}.yaml").read_text())
    previous = read_csv_directory(export_dir, rows=500)
    stems = {object_key(spec, o, False): o for o in spec.objects}
    per_style: dict[str, list[int]] = {}
    renamed_total = resolved_total = 0
    seconds = []
    unresolved: list[str] = []
    for i in range(n):
        style = list(styles)[i % len(styles)]
        out = tmp / f"{spec.migration}_v{i}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        expected: dict[tuple[str, str], str] = {}
        for f in export_dir.glob("*.csv"):
            df = pd.read_csv(f, dtype=str, keep_default_na=False)
            oname = stems.get(f.stem)
            if oname is not None:
                obj = spec.objects[oname]
                declared = [(n_, c.source or n_) for n_, c in obj.columns.items() if (c.source or n_) in df.columns]
                pick = rng.sample(declared, max(1, len(declared) // 3)) if declared else []
                ren = {}
                for cname, h in pick:
                    new = styles[style](h)
                    if new != h and new not in df.columns and new not in ren.values():
                        ren[h] = new
                        expected[(oname, cname)] = new
                drop = [c.source or n_ for n_, c in obj.columns.items() if not c.required and (c.source or n_) in df
                        and (c.source or n_) not in ren and rng.random() < 0.3]
                df = df.drop(columns=drop).rename(columns=ren)
                df["EXTRA_NOTE"] = "x"
                df["ImportBatch"] = str(i)
            df = df[list(reversed(df.columns))]
            df.to_csv(out / f.name, index=False)
        t0 = time.perf_counter()
        prof = read_csv_directory(out, rows=500)
        spec_obj = load_spec(SPECS / f"{spec.migration}.yaml")
        objects = Adapter(spec_obj, raw, prof, catalog, {}).propose(previous)
        seconds.append(time.perf_counter() - t0)
        ok = sum(1 for (o, c), new in expected.items() if (objects[o]["columns"].get(c) or {}).get("source") == new)
        unresolved.extend(f"{style}: {o}.{c} -> {new} (got {(objects[o]['columns'].get(c) or {}).get('source')})"
                          for (o, c), new in expected.items()
                          if (objects[o]["columns"].get(c) or {}).get("source") != new)
        renamed_total += len(expected)
        resolved_total += ok
        per_style.setdefault(style, [0, 0])
        per_style[style][0] += ok
        per_style[style][1] += len(expected)
    return {"variants": n, "renamed_columns": renamed_total, "resolved": resolved_total,
            "resolved_share": round(resolved_total / max(renamed_total, 1), 4),
            "per_style": {k: {"renamed": v[1], "resolved": v[0]} for k, v in per_style.items()},
            "seconds_per_variant": round(sum(seconds) / len(seconds), 3), "unresolved": unresolved}


def adapt_api_variants(spec, profile, n: int) -> dict:
    """Adapt mode on an API source without reading it again (its resumable cursors stay where they
    are): each variant renames a third of the declared JSON fields of every object in the profile read
    for the scratch run (the leaf of a dotted path, in one style), drops optional ones, adds two, and
    the adapter (``--like`` on the spec's own source) gets that profile."""
    import copy
    import dataclasses

    from flit_pipelines.proposal.profile import ObjectProfile

    rng = random.Random(11)
    styles = _styles(rng)
    catalog = load_catalog(spec.destination.kind)
    raw = yaml.safe_load((SPECS / f"{spec.migration}.yaml").read_text())
    per_style: dict[str, list[int]] = {}
    unresolved: list[str] = []
    renamed_total = resolved_total = 0
    seconds = []
    for i in range(n):
        style = list(styles)[i % len(styles)]
        prof = copy.deepcopy(profile)
        expected: dict[tuple[str, str], str] = {}
        for oname, obj in spec.objects.items():
            op = prof.objects.get(oname)
            if op is None:
                continue
            declared = [(n_, c.source or n_) for n_, c in obj.columns.items() if (c.source or n_) in op.columns]
            pick = rng.sample(declared, max(1, len(declared) // 3)) if declared else []
            cols = dict(op.columns)
            for cname, h in pick:
                head, _, leaf = h.rpartition(".")
                new = (head + "." if head else "") + styles[style](leaf)
                if new != h and new not in cols:
                    cols = {(new if k == h else k): (dataclasses.replace(v, name=new) if k == h else v)
                            for k, v in cols.items()}
                    expected[(oname, cname)] = new
            for n_, c in obj.columns.items():
                h = c.source or n_
                if not c.required and h in cols and (oname, n_) not in expected and rng.random() < 0.3:
                    del cols[h]
            for extra in ("extraNote", "importBatch"):
                cols[extra] = dataclasses.replace(next(iter(op.columns.values())), name=extra)
            prof.objects[oname] = ObjectProfile(op.name, op.location, op.rows_profiled, dict(reversed(cols.items())),
                                                op.primary_key if op.primary_key in cols else None, [])
        t0 = time.perf_counter()
        objects = Adapter(load_spec(SPECS / f"{spec.migration}.yaml"), raw, prof, catalog, {}).propose(profile)
        seconds.append(time.perf_counter() - t0)
        got = {k: (objects[k[0]]["columns"].get(k[1]) or {}).get("source") for k in expected}
        ok = sum(1 for k, new in expected.items() if got[k] == new)
        unresolved.extend(f"{style}: {o}.{c} -> {new} (got {got[(o, c)]})" for (o, c), new in expected.items()
                          if got[(o, c)] != new)
        renamed_total += len(expected)
        resolved_total += ok
        per_style.setdefault(style, [0, 0])
        per_style[style][0] += ok
        per_style[style][1] += len(expected)
    return {"variants": n, "renamed_columns": renamed_total, "resolved": resolved_total,
            "resolved_share": round(resolved_total / max(renamed_total, 1), 4),
            "per_style": {k: {"renamed": v[1], "resolved": v[0]} for k, v in per_style.items()},
            "seconds_per_variant": round(sum(seconds) / len(seconds), 3), "unresolved": unresolved}


def meaning_ablation(cached: dict) -> dict:
    """What the embeddings add: the combiner refitted (same development pairs) without the meaning
    features, and top-1 / top-3 from scratch again with it."""
    import importlib.util

    from flit_pipelines.proposal import combiner, features, meaning

    spec_ = importlib.util.spec_from_file_location("train_proposer", REPO / "scripts" / "train_proposer.py")
    train = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(train)
    saved = (meaning.available, combiner.model)
    meaning.available = lambda: False
    features._index.cache_clear()
    try:
        doc = train.fit()
        combiner.model = lambda: doc
        out = {}
        for name, (profile, _s) in cached.items():
            r = score_scratch(load_spec(SPECS / f"{name}.yaml"), profile, name in API_SPECS)
            out[name] = {"top1": r["top1"], "top3": r["top3"]}
        return out
    finally:
        meaning.available, combiner.model = saved
        features._index.cache_clear()


API_SPECS = ("henry_schein_one_to_highlevel", "practicehub_to_salesforce")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", type=int, default=20)
    ap.add_argument("--only", choices=("scratch", "adapt"), help="run one part (the results file is not written)")
    ap.add_argument("--profiles", type=Path, help="reuse (or save) the four sources' profiles in this pickle file "
                                                   "(development runs; the results file is not written)")
    args = ap.parse_args()
    import pickle
    results: dict = {"git": git_state("flit_pipelines/proposal", "flit_pipelines/catalog"),
                     "synonyms": {k: load_catalog(k).synonym_counts() for k in ("pipedrive", "highlevel", "salesforce")},
                     "abbreviations": {"general dictionary": abbreviation_count()}, "scratch": {}, "adapt": {}}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        read_clinic, clinic_dir = clinic_source(tmp)
        read_dentrix, dentrix_dir = dentrix_source(tmp)
        runs = {
            "clinic_to_pipedrive": (read_clinic, False),
            "dentrix_to_highlevel": (read_dentrix, False),
            "henry_schein_one_to_highlevel": (lambda: ascend_profile(
                load_spec(SPECS / "henry_schein_one_to_highlevel.yaml"), tmp / "practice.db"), True),
            "practicehub_to_salesforce": (lambda: practicehub_profile(
                load_spec(SPECS / "practicehub_to_salesforce.yaml"), tmp), True),
        }
        cached = pickle.loads(args.profiles.read_bytes()) if args.profiles and args.profiles.exists() else {}
        for name, (read, api) in runs.items():
            if args.only == "adapt":
                break
            spec = load_spec(SPECS / f"{name}.yaml")
            t0 = time.perf_counter()
            profile, profile_s = cached.get(name) or (read(), None)
            profile_s = profile_s if profile_s is not None else time.perf_counter() - t0
            cached[name] = (profile, profile_s)
            r = score_scratch(spec, profile, api)
            r["profile_seconds"] = round(profile_s, 3)
            r["seconds_per_100_columns"] = round(100 * (profile_s + r["propose_seconds"]) / max(r["columns"], 1), 3)
            results["scratch"][name] = r
            print(f"{name}: top1 {r['top1']} top3 {r['top3']} high {r['high_band_precision']}@{r['high_band_coverage']}"
                  f" ids {r['identifiers_not_migrated']}/{r['identifier_columns']} {r['seconds_per_100_columns']} s/100")
        if args.profiles:
            args.profiles.write_bytes(pickle.dumps(cached))
        if args.only != "adapt":
            results["meaning_ablation"] = meaning_ablation(cached)
            print("without meaning:", results["meaning_ablation"])
        for name in ("henry_schein_one_to_highlevel", "practicehub_to_salesforce"):
            if args.only == "scratch" or name not in cached:
                break
            r = adapt_api_variants(load_spec(SPECS / f"{name}.yaml"), cached[name][0], args.variants)
            results["adapt"][name] = r
            print(f"{name} adapt (API): {r['resolved']}/{r['renamed_columns']}")
        for name, export in (("clinic_to_pipedrive", clinic_dir), ("dentrix_to_highlevel", dentrix_dir)):
            if args.only == "scratch":
                break
            results["adapt"][name] = adapt_variants(load_spec(SPECS / f"{name}.yaml"), export, args.variants, tmp)
            print(f"{name} adapt: {results['adapt'][name]['resolved']}/{results['adapt'][name]['renamed_columns']}")
    if args.only or args.profiles:
        print(json.dumps({k: {n: {m: v for m, v in r.items() if m in ("misses", "high_band_wrong", "resolved_share",
                                                                     "per_style", "unresolved")}
                              for n, r in results[k].items()} for k in ("scratch", "adapt")}, indent=1))
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))
    print(f"results: {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
