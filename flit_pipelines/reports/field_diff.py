"""Field-level read-back diff of a loaded target (issue 5 "Sample wave and field-level diff").

For every record of the target's payload that the crosswalk says was loaded, the expected body is
built exactly as the load built it (``resolve_lookups`` + ``Destination.build_body``, then
``normalise_body`` when the destination has one), the live values are read back with
``Destination.read_fields`` (in chunks of ``READ_CHUNK`` IDs), and both are compared field by field:

* bodies are flattened to paths (nested dicts -> ``a.b``; a list of ``{id, ...}`` entries, such as
  HighLevel ``customFields``, -> one path per ``id``); lists of plain values compare as multisets;
  numbers compare by value (``5 == 5.0``); empty values (None, "", [], {}) are all "empty";
* status per path: ``match``; ``within_tolerance`` (equal under the target's ``diff_tolerances``, or
  an ``ignore``d field; the note says which rule); ``not_readable`` (a field the destination lists
  in ``WRITE_ONLY_FIELDS``: sent, never returned); ``mismatch``; and one ``missing_record`` row
  (path ``*``) for a crosswalk ID the destination no longer has;
* ``field`` names the spec field (``fields`` / ``custom_fields`` / ``lookups`` name) a path belongs
  to: custom-field account keys and Salesforce relationship columns are mapped back to spec names
  through the destination's resolved field references (``field_labels``), else the path is shown.

Rows: ``COLUMNS``. Values appear only in the CSV/HTML (practice-owned reports); ``summarize`` gives
counts and field names only, for asset metadata and the migration report.

Files (``write_reports``): one part per target under ``<reports>/field_diff/<target>.csv|.json``
(re-running a target replaces its part), and after each target the combined
``field_diff.csv``, ``field_diff.html`` and ``field_diff_summary.json`` are rebuilt from all parts in
load order, so the wave always has one file of each covering every target diffed so far.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import fields as dataclass_fields
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from flit_pipelines.destinations.base import Destination, resolve_lookups
from flit_pipelines.ledger import Ledger
from flit_pipelines.reports.field_diff_html import field_diff_html
from flit_pipelines.reports.staff_csv import write_staff_csv
from flit_pipelines.spec import load_order
from flit_pipelines.spec.model import DiffTolerance, MigrationSpec, Target

COLUMNS = ["target", "source_id", "dest_id", "field", "path", "status", "expected", "actual", "note"]
STATUSES = ("match", "within_tolerance", "not_readable", "mismatch", "missing_record")
FAILING = frozenset({"mismatch", "missing_record"})
READ_CHUNK = 100
PART_DIR = "field_diff"
CSV_FILE, HTML_FILE, SUMMARY_FILE = "field_diff.csv", "field_diff.html", "field_diff_summary.json"
# Body keys that carry a spec field under another name (Pipedrive/HighLevel send a stage's ID).
RENAMED = {"stage_id": "stage", "pipelineStageId": "stage"}
_WS = re.compile(r"\s+")


class FieldDiffError(RuntimeError):
    """The destination cannot be diffed (no ``read_fields``); names the destination, never a value."""


# -- flattening and comparing ---------------------------------------------------------------------
def _empty(value: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    try:
        if pd.isna(value) is True:
            return True
    except (TypeError, ValueError):
        pass
    return isinstance(value, (str, list, dict, tuple)) and len(value) == 0


def flatten(body: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """``{"a": {"b": 1}, "customFields": [{"id": "x", "value": 2}]}`` ->
    ``{("a", "b"): 1, ("customFields", "x"): 2}``. Lists of entries that all carry an ``id`` are keyed
    by it (an entry with one other key becomes that value); other lists and scalars are leaves."""
    out: dict[tuple[str, ...], Any] = {}
    for key, value in body.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, path))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) and "id" in v for v in value):
            for entry in value:
                rest = {k: v for k, v in entry.items() if k != "id"}
                sub = (*path, str(entry["id"]))
                if len(rest) == 1:
                    out[sub] = next(iter(rest.values()))
                else:
                    out.update(flatten(rest, sub) if rest else {sub: None})
        else:
            out[path] = value
    return out


def canon(value: Any) -> Any:
    """A comparable form: empty -> None, numbers -> float (bools stay bools), lists of plain values
    sorted, nested structures recursively."""
    if _empty(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): canon(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        items = [canon(v) for v in value]
        if all(not isinstance(v, (dict, list)) for v in items):
            return sorted(items, key=lambda v: json.dumps(v, default=str))
        return items
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def _normalize(value: Any, steps: Sequence[str]) -> Any:
    """Apply ``normalize`` steps to every text (and, for ``date``/``digits``, number) leaf."""
    if isinstance(value, list):
        return [_normalize(v, steps) for v in value]
    if isinstance(value, dict):
        return {k: _normalize(v, steps) for k, v in value.items()}
    if value is None:
        return None
    text = value if isinstance(value, str) else None
    for step in steps:
        if step == "strip" and text is not None:
            text = _WS.sub(" ", text).strip()
        elif step == "lower" and text is not None:
            text = text.casefold()
        elif step == "digits":
            text = re.sub(r"\D", "", str(value if text is None else text))
        elif step == "date":
            try:
                moment = pd.Timestamp(str(value if text is None else text).strip())
            except (ValueError, TypeError):
                continue
            if moment.tzinfo is not None:
                moment = moment.tz_convert("UTC").tz_localize(None)
            text = moment.floor("s").isoformat()
    return canon(text) if text is not None else value


def compare(expected: Any, actual: Any, tolerance: DiffTolerance | None) -> tuple[str, str]:
    """(status, note) of one field: ``match`` | ``within_tolerance`` | ``mismatch``."""
    e, a = canon(expected), canon(actual)
    if e == a:
        return "match", ""
    if tolerance is None:
        return "mismatch", ""
    if tolerance.ignore is not None:
        return "within_tolerance", f"ignored: {tolerance.ignore}"
    if tolerance.abs is not None:
        x, y = _number(expected), _number(actual)
        if x is not None and y is not None and abs(x - y) <= tolerance.abs + 1e-9:
            return "within_tolerance", f"abs {tolerance.abs:g}"
        return "mismatch", f"outside abs {tolerance.abs:g}"
    steps = tolerance.normalize or []
    if _normalize(e, steps) == _normalize(a, steps):
        return "within_tolerance", "normalize " + ",".join(steps)
    return "mismatch", "differs after normalize " + ",".join(steps)


def display(value: Any) -> str:
    """A value as report text: strings as they are, everything else as JSON; empty -> ""."""
    if _empty(value):
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)


# -- spec field names of body paths ---------------------------------------------------------------
def _refs(node: Any, depth: int = 0) -> Iterator[Any]:
    """Objects with a ``name`` below ``node`` (mappings and dataclasses, 4 levels deep)."""
    if depth > 4 or node is None or isinstance(node, (str, bytes, int, float)):
        return
    if isinstance(node, Mapping):
        for v in list(node.values()):
            yield from _refs(v, depth + 1)
        return
    if is_dataclass(node) and not isinstance(node, type):
        if isinstance(getattr(node, "name", None), str):
            yield node
        for f in dataclass_fields(node):
            v = getattr(node, f.name, None)
            if isinstance(v, Mapping):
                yield from _refs(v, depth + 1)


def spec_names(target: Target) -> set[str]:
    """The names a tolerance (and a diff row's ``field``) may use: fields, custom fields, lookups."""
    return set(target.fields) | set(target.custom_fields) | set(target.lookups)


def field_labels(dest: Any, target_name: str, target: Target, source_key_field: str | None = None) -> dict[str, str]:
    """Body key -> spec field name, from the destination's resolved references of this target:
    custom-field account keys / field IDs / property keys (``fields``, ``objects``) and Salesforce
    relationship columns (``infos[target].lookups``). Only names of this target (and the source-key
    field) are used, so a key is never attributed to another target's field."""
    names = spec_names(target) | ({source_key_field} if source_key_field else set())
    containers = [getattr(dest, "fields", None), getattr(dest, "objects", None)]
    infos = getattr(dest, "infos", None)
    if isinstance(infos, Mapping) and target_name in infos:
        containers.append({"info": infos[target_name]})
    labels: dict[str, str] = {}
    for container in containers:
        for ref in _refs(container):
            if ref.name not in names:
                continue
            for attr in ("key", "id", "property_key", "column"):
                alias = getattr(ref, attr, None)
                if isinstance(alias, str) and alias and alias != ref.name:
                    labels.setdefault(alias, ref.name)
    return labels


def label_of(path: tuple[str, ...], names: set[str], labels: Mapping[str, str]) -> str:
    """The spec field a body path belongs to (see the module docstring), else the dotted path."""
    for i in range(len(path), 0, -1):
        joined = ".".join(path[:i])
        if joined in names:
            return joined
    for seg in reversed(path):
        if seg in labels:
            return labels[seg]
        if seg in names:
            return seg
        if seg in RENAMED and RENAMED[seg] in names:
            return RENAMED[seg]
    return ".".join(path)


def write_only_fields(dest: Any, entity: str) -> frozenset[str]:
    """``WRITE_ONLY_FIELDS[entity]`` of the destination (class attribute or its module's constant)."""
    table = getattr(dest, "WRITE_ONLY_FIELDS", None)
    if table is None:
        table = getattr(sys.modules.get(type(dest).__module__), "WRITE_ONLY_FIELDS", None)
    return frozenset((table or {}).get(entity, ()))


# -- the diff -------------------------------------------------------------------------------------
def expected_bodies(spec: MigrationSpec, target_name: str, payload: pd.DataFrame, ledger: Ledger,
                    dest: Destination) -> tuple[dict[str, dict], dict[str, str]]:
    """(source ID -> body as the load built it, source ID -> why no body could be built).

    Rows whose lookups fail or that the destination flags (never sent) are left out of both."""
    t = spec.targets[target_name]
    dest.prepare(target_name, t)
    if not len(payload):
        return {}, {}
    resolved, fk_fail = resolve_lookups(spec, target_name, payload, ledger, dest.fallback_owner_id())
    bodies: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for i, row in enumerate(payload.to_dict("records")):
        sid = str(row["source_id"])
        if pd.notna(fk_fail.iat[i]) or dest.flag(target_name, t, row):
            continue
        fks = {fk: (None if pd.isna(v) else v) for fk, v in resolved.iloc[i].items()}
        try:
            bodies[sid] = dest.build_body(target_name, t, row, fks)
        except ValueError as exc:  # names the field, never the value
            errors[sid] = str(exc)
    return bodies, errors


def diff_target(spec: MigrationSpec, target_name: str, payload: pd.DataFrame, ledger: Ledger,
                dest: Destination, *, chunk: int = READ_CHUNK) -> pd.DataFrame:
    """Compare every loaded record of ``payload`` with its live destination values.

    Returns a frame with ``COLUMNS`` (one row per record and body path; one ``missing_record`` row
    per record the destination no longer has; ``expected``/``actual`` as report text).

    Raises:
        FieldDiffError: the destination has no ``read_fields``.
    """
    t = spec.targets[target_name]
    read_fields = getattr(dest, "read_fields", None)
    if read_fields is None:
        raise FieldDiffError(f"{spec.destination.kind}: the destination cannot read fields back (no read_fields)")
    normalise = getattr(dest, "normalise_body", None)
    xw = ledger.crosswalk_frame(spec.migration, target_name)
    xw = xw[xw["source_id"].isin(payload["source_id"].astype("string")) & xw["dest_id"].notna()]
    loaded = payload[payload["source_id"].astype("string").isin(xw["source_id"])].reset_index(drop=True)
    bodies, errors = expected_bodies(spec, target_name, loaded, ledger, dest)
    dest_of = dict(zip(xw["source_id"].astype(str), xw["dest_id"].astype(str), strict=True))
    write_only = write_only_fields(dest, t.entity)
    names = spec_names(t)
    labels = field_labels(dest, target_name, t, spec.destination.settings.get("source_key_field"))
    rows: list[dict[str, Any]] = []

    def add(sid: str, did: str, path: tuple[str, ...], status: str, expected: Any, actual: Any, note: str = ""):
        rows.append({"target": target_name, "source_id": sid, "dest_id": did,
                     "field": label_of(path, names, labels) if path != ("*",) else "*",
                     "path": ".".join(path), "status": status, "expected": display(expected),
                     "actual": display(actual), "note": note})

    for sid, reason in errors.items():
        add(sid, dest_of[sid], ("*",), "mismatch", None, None, f"expected body not buildable: {reason}")
    sids = [s for s in bodies if s in dest_of]
    for start in range(0, len(sids), chunk):
        part = sids[start:start + chunk]
        live = read_fields(target_name, t, [dest_of[s] for s in part])
        for sid in part:
            did = dest_of[sid]
            raw = bodies[sid]
            if did not in live:
                add(sid, did, ("*",), "missing_record", None, None, "not found in the destination")
                continue
            expected = flatten(normalise(target_name, t, raw) if normalise else raw)
            actual = flatten(live[did] or {})
            for path, value in flatten(raw).items():
                if path[0] in write_only or ".".join(path) in write_only:
                    add(sid, did, path, "not_readable", value, None, "write-only: the destination never returns it")
                    expected.pop(path, None)
            for path in list(dict.fromkeys([*expected, *actual])):
                if path[0] in write_only:
                    continue
                e, a = expected.get(path), actual.get(path)
                if _empty(e) and _empty(a):
                    add(sid, did, path, "match", e, a)
                    continue
                tol = t.diff_tolerances.get(label_of(path, names, labels))
                status, note = compare(e, a, tol)
                add(sid, did, path, status, e, a, note)
    return pd.DataFrame(rows, columns=COLUMNS)


def summarize(frame: pd.DataFrame) -> dict[str, Any]:
    """Counts only (for asset metadata and the migration report): records, fields compared,
    per status, and per field name how many mismatches / write-only fields; ``passed`` when no
    ``mismatch`` or ``missing_record``."""
    status = frame["status"].value_counts()
    bad = frame[frame["status"] == "mismatch"]
    unread = frame[frame["status"] == "not_readable"]
    tolerated = frame[frame["status"] == "within_tolerance"]
    return {
        "records": int(frame["source_id"].nunique()),
        "fields_compared": int(len(frame)),
        "status_counts": {s: int(status.get(s, 0)) for s in STATUSES},
        "mismatched_fields": {str(k): int(v) for k, v in bad["field"].value_counts().items()},
        "within_tolerance_fields": {str(k): int(v) for k, v in tolerated["field"].value_counts().items()},
        "not_readable_fields": {str(k): int(v) for k, v in unread["field"].value_counts().items()},
        "missing_records": int(status.get("missing_record", 0)),
        "passed": not bool(frame["status"].isin(FAILING).any()),
    }


# -- files ----------------------------------------------------------------------------------------
def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_reports(spec: MigrationSpec, target_name: str, frame: pd.DataFrame, summary: dict[str, Any],
                  reports_dir: Path) -> dict[str, Path]:
    """Write this target's part and rebuild the combined CSV, HTML and summary JSON (module
    docstring). Returns ``{"csv", "html", "summary", "part"}`` paths."""
    parts = reports_dir / PART_DIR
    parts.mkdir(parents=True, exist_ok=True)
    part = parts / f"{target_name}.csv"
    _atomic_text(part, frame.to_csv(index=False))  # machine-read below: plain, it must round-trip
    _atomic_text(parts / f"{target_name}.json", json.dumps(summary, indent=2, sort_keys=True))
    frames, summaries = [], {}
    for name in load_order(spec):
        csv_path, json_path = parts / f"{name}.csv", parts / f"{name}.json"
        if csv_path.exists() and json_path.exists():
            frames.append(pd.read_csv(csv_path, dtype=str, keep_default_na=False))
            summaries[name] = json.loads(json_path.read_text(encoding="utf-8"))
    combined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    out = {"csv": reports_dir / CSV_FILE, "html": reports_dir / HTML_FILE, "summary": reports_dir / SUMMARY_FILE,
           "part": part}
    write_staff_csv(combined, out["csv"])  # for people; the parts above are read back, so written plain
    _atomic_text(out["html"], field_diff_html(spec, summaries, combined))
    doc = {"passed": all(s.get("passed") for s in summaries.values()), "targets": summaries,
           "csv": str(out["csv"]), "html": str(out["html"])}
    _atomic_text(out["summary"], json.dumps(doc, indent=2, sort_keys=True))
    return out
