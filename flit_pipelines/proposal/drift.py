"""Drift detection: does the source still match the approved spec? Run at the start of every wave by
the ``[m, "source_profile"]`` asset, whose blocking check stops the wave before any extract is loaded.

Per object (through the readers' public API): ``header`` must find every required column and every
non-optional object (a renamed or removed column, a missing file); for CSV exports and databases a
sample of ``SAMPLE_ROWS`` rows is typed as the spec declares (``sources.validate.coerce_chunk``): a
declared date, number or boolean column whose values no longer parse (a new date format) is drift too.
API sources are checked by header only (reading pages would move their resumable cursors).

The result carries a PHI-free profile of the sample (``profile.profile_frames``: statistics and
recogniser names) and a data dictionary for the customer; the message names objects, columns and the
command to re-propose, never a value.
"""

from __future__ import annotations

import csv
import hashlib
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from flit_pipelines.proposal.profile import profile_frames
from flit_pipelines.sources.csv_export import MissingColumnError, MissingFileError
from flit_pipelines.sources.validate import coerce_chunk
from flit_pipelines.spec.model import MigrationSpec

SAMPLE_ROWS = 2_000
# A new date or number format makes most values of a column fail; a few malformed rows are bad input,
# which extract quarantines row by row (issue 9), so they must not stop the wave as drift.
PARSE_FAILURE_LIMIT = 0.5  # share of filled sampled values of a typed column that may fail to parse
PROFILE_CACHE_VERSION = 1  # bump when SourceProfile's shape changes (cached pickles then miss)


@dataclass
class DriftResult:
    """``passed``; ``problems`` (one line each: object, column, what changed); ``extra`` headers the
    spec does not read, per object (informational); the documents written."""

    passed: bool
    problems: list[str] = field(default_factory=list)
    extra: dict[str, list[str]] = field(default_factory=dict)
    missing_optional: dict[str, list[str]] = field(default_factory=dict)
    documents: dict[str, Path] = field(default_factory=dict)
    objects_checked: int = 0

    def message(self, spec: MigrationSpec) -> str:
        """What a person reads in the check: the problems and the command to re-propose."""
        if self.passed:
            return f"the source matches the approved spec ({self.objects_checked} objects)"
        src = {"csv_export": " --csv <new export dir>", "database": " --db <url>"}.get(spec.source.kind, "")
        return ("the source no longer matches the approved spec: " + "; ".join(self.problems)
                + f". Nothing was loaded. Re-propose the map: flit propose {spec.migration}_v2 --destination "
                  f"{spec.destination.kind}{src} --like {spec.migration}")


def check_source(spec: MigrationSpec, source, out_dir: Path) -> DriftResult:
    """Check every object of ``spec`` against ``source``; write ``source_profile.json`` and
    ``data_dictionary.csv`` into ``out_dir``."""
    res = DriftResult(passed=True)
    frames: dict[str, pd.DataFrame] = {}
    headers: dict[str, list[str]] = {}
    sample = spec.source.kind in ("csv_export", "database")
    for oname, obj in spec.objects.items():
        res.objects_checked += 1
        try:
            report = source.header(obj)
        except MissingFileError:
            res.problems.append(f"{oname}: {obj.file or obj.table or obj.endpoint} is missing")
            continue
        except MissingColumnError:
            relaxed = obj.model_copy(update={"columns": {n: c.model_copy(update={"required": False})
                                                         for n, c in obj.columns.items()}})
            report = source.header(relaxed)
            gone = [n for n in report.missing_optional if obj.columns[n].required]
            res.problems.append(f"{oname}: required column(s) missing: " + ", ".join(
                f"{n}" + (f" (header '{obj.columns[n].source}')" if obj.columns[n].source else "") for n in gone))
        if not report.present:
            continue
        headers[oname] = list(report.rename) + list(report.extra)
        if report.extra:
            res.extra[oname] = list(report.extra)
        if report.missing_optional:
            res.missing_optional[oname] = list(report.missing_optional)
        if not sample or any(p.startswith(f"{oname}:") for p in res.problems):
            continue
        reader = source.read(obj, limit=SAMPLE_ROWS) if spec.source.kind == "database" and hasattr(
            source, "dialect") else source.read(obj)
        batch = next(iter(reader), None)
        if hasattr(reader, "close"):
            reader.close()
        if batch is None:
            continue
        text = batch.to_pandas().astype("string").head(SAMPLE_ROWS)
        frames[oname] = text
        _, failed = coerce_chunk(obj, text)
        for cname, col in obj.columns.items():
            filled = int(text[cname].notna().sum())
            if col.type == "string" or not filled:
                continue
            share = float(failed[cname].sum()) / filled
            if share > PARSE_FAILURE_LIMIT:
                res.problems.append(f"{oname}.{cname}: {share:.0%} of sampled values are not a {col.type} any more")
    res.passed = not res.problems
    prof = _profile(frames, spec.source.kind, f"source of {spec.migration}", out_dir.parent / ".profile_cache")
    doc = prof.to_dict()
    for oname, hs in headers.items():
        doc["objects"].setdefault(oname, {"name": oname, "columns": {}})["headers"] = hs
    out_dir.mkdir(parents=True, exist_ok=True)
    res.documents["profile"] = out_dir / "source_profile.json"
    res.documents["profile"].write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    res.documents["dictionary"] = out_dir / "data_dictionary.csv"
    with res.documents["dictionary"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["object", "column", "header", "declared_type", "inferred_type", "filled", "distinct",
                    "recognised_as", "shape"])
        for oname, obj in spec.objects.items():
            op = prof.objects.get(oname)
            for cname, col in obj.columns.items():
                cp = op.columns.get(cname) if op else None
                top = sorted(((s, n) for n, s in (cp.recognisers.items() if cp else []) if s >= 0.5), reverse=True)
                w.writerow([oname, cname, col.source or cname, col.type, cp.inferred_type if cp else "",
                            f"{cp.fill_rate:.0%}" if cp else "", cp.distinct if cp else "",
                            " ".join(n for _s, n in top[:3]), (cp.shape or "") if cp else ""])
    return res


def _profile(frames: dict, kind: str, where: str, cache_dir: Path):
    """``profile_frames`` of the sampled frames, reused when the same sample was profiled before (the
    sample and full waves read the same source; the recognisers are most of this check's time). The
    key is a hash of the sampled values and headers; the cached profile holds statistics only (PHI-free
    like the profile itself), never a value."""
    digest = hashlib.sha256(f"{PROFILE_CACHE_VERSION}|{kind}|{where}".encode())
    for name in sorted(frames):
        digest.update(f"|{name}|{','.join(frames[name].columns)}|".encode())
        digest.update(pd.util.hash_pandas_object(frames[name], index=False).to_numpy().tobytes())
    path = cache_dir / f"{digest.hexdigest()[:40]}.pickle"
    try:
        return pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        pass  # absent, from another version or torn: profile again
    prof = profile_frames(frames, kind=kind, where=where)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(prof))
    tmp.replace(path)  # atomic: a concurrent wave never reads half a file
    return prof
