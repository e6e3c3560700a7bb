"""The migration report: per target source, quarantined (with reasons), created, updated, unchanged,
failed, destination count, check outcomes, where each seed object landed, and (Salesforce) the
field-level-security checklist of the HIPAA-sensitive fields.

Per target it also says where every source row went that did not land (``not_migrated``: excluded
because a parent was not loaded, held, flagged, refused, failed at the destination, each with its
reasons and sample source IDs; ``unaccounted``), which records were sent with a derived value missing
quarantined input rows (``flagged_derived_inputs``), and where the money went (``money``: per money
column, source, destination and the sum of each exclusion), from the counts and money checks.

Built from the per-step JSON documents the assets write under ``<data>/reports/<migration>/<wave>/``
and from the ledger, so ``flit report`` works without a Dagster instance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flit_pipelines.delta.window import is_delta
from flit_pipelines.reports.phi_review import QUEUE_NAME, queue_counts, queue_frame
from flit_pipelines.spec import load_order
from flit_pipelines.spec.model import MigrationSpec


def write_json(path: Path, doc: Any) -> None:
    """Write ``doc`` as indented JSON atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str), encoding="utf-8")
    tmp.replace(path)


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def build_report(spec: MigrationSpec, wave: str, flit) -> dict[str, Any]:
    """Assemble the report for one wave. ``flit`` is a FlitResource (data dir + ledger)."""
    base = flit.data_path() / "reports" / spec.migration / wave
    ledger = flit.ledger()
    quarantine = ledger.quarantine_frame(spec.migration, wave)
    targets: dict[str, Any] = {}
    all_passed = True
    for name in load_order(spec):
        t = spec.targets[name]
        extract = _read(base / "extract" / f"{t.from_}.json")
        load = _read(base / "load" / f"{name}.json")
        s = load.get("summary", {})
        checks = {k: v.get("passed") for k, v in load.get("checks", {}).items()}
        # a delta wave loads only the targets its changes feed; the others have nothing to check
        if load or not is_delta(wave):
            all_passed = all_passed and bool(checks) and all(checks.values())
        q = quarantine[((quarantine["stage"] == "extract") & (quarantine["object"] == t.from_))
                       | ((quarantine["stage"] == "load") & (quarantine["object"] == name))]
        count_meta = load.get("checks", {}).get("counts_reconcile", {}).get("metadata", {})
        issues = load.get("payload_issues", {})
        targets[name] = {
            "entity": t.entity,
            "source_object": t.from_,
            "source_rows": count_meta.get("source_rows", extract.get("rows_read")),
            "quarantined": int(len(q)),
            "quarantine_reasons": q["reason"].value_counts().to_dict() if len(q) else {},
            "created": s.get("created", 0), "updated": s.get("updated", 0), "unchanged": s.get("unchanged", 0),
            "failed": s.get("failed", 0), "flagged": s.get("flagged", 0), "adopted": s.get("adopted", 0),
            "matched": s.get("matched", 0), "fallback_owner": s.get("fallback", 0),
            "held_for_phi_review": s.get("held", 0) - issues.get("held", 0),
            "ledger_rows": count_meta.get("ledger_rows"),
            "destination_count": count_meta.get("destination_rows"),
            "checks": checks,
            "loaded": bool(load),
            **_accounting(load, count_meta, issues),
            # for readers (terminal summary, HTML report): why a count differs, and each check's sentence
            "quarantined_at_extract": int((q["stage"] == "extract").sum()),
            "quarantine_reasons_extract": q.loc[q["stage"] == "extract", "reason"].value_counts().to_dict(),
            "quarantine_reasons_load": q.loc[q["stage"] == "load", "reason"].value_counts().to_dict(),
            "filtered_by_target": count_meta.get("filtered_by_target", 0), "filter_rule": t.where,
            "destination_errors": s.get("errors", {}),
            "check_details": {k: v.get("description") for k, v in load.get("checks", {}).items()},
            **({"source_deletions": load.get("source_deletions", {})} if is_delta(wave) else {}),
        }
    unmatched = []
    prov = [n for n, t in spec.targets.items() if t.entity == "user"]
    for n in prov:
        audit = ledger.audit_frame(spec.migration, target=n, wave=wave)
        if len(audit):
            last = audit[audit["run_id"] == audit["run_id"].iloc[-1]]
            unmatched += last.loc[last["operation"] == "fallback", "source_id"].tolist()
    review, review_passed = _review_sections(spec, wave, ledger, base, targets)  # PHI queue, dedup
    all_passed = all_passed and review_passed
    design = _read(base / "custom_field_design.json")
    return {
        "migration": spec.migration,
        # Salesforce: the field-level-security checklist of HIPAA-sensitive fields and the metadata document
        "fls_checklist": design.get("fls_checklist"),
        "schema_document": str(base / "custom_field_design.json") if design else None,
        # sample wave: the field-level read-back diff (counts per target; values only in its CSV/HTML)
        "field_diff": _read(base / "field_diff_summary.json") or None,
        "title": spec.title,
        "source_kind": spec.source.kind, "destination_kind": spec.destination.kind,
        "wave": wave,
        # delta wave: per object, rows the source returned since the cursor and rows deleted in the source
        "delta": {o: {k: doc.get(k) for k in ("rows_changed", "deleted_in_source", "deletions_detected", "base_wave")}
                  for o in spec.objects for doc in [_read(base / "extract" / f"{o}.json")] if doc} if is_delta(wave)
        else None,
        "all_checks_passed": all_passed,
        "targets": targets,
        "unmatched_providers": {"count": len(unmatched), "source_ids": unmatched},
        **review,  # "phi_review": queue counts; "deduplication": duplicates merged per target
        "seed_objects": [s.model_dump() for s in spec.seed_objects],
        "activity_fields_note": next((t.description for t in spec.targets.values() if t.entity == "activity"), None),
    }


def _accounting(load: dict, count_meta: dict, issues: dict) -> dict[str, Any]:
    """A target's ``not_migrated`` (category -> records, reasons, sample source IDs), ``unaccounted``
    rows, ``flagged_derived_inputs`` (records sent with a derived value missing input rows, with the
    reason), ``unattributed_inputs`` and ``money`` (per money column: the check's sums and its
    one-line identity), from the load document the load step wrote."""
    money = load.get("checks", {}).get("money_sums_reconcile", {})
    return {
        "not_migrated": count_meta.get("not_loaded", {}),
        "unaccounted": count_meta.get("unexplained", 0),
        "flagged_derived_inputs": issues.get("flagged", []),
        "unattributed_inputs": issues.get("unattributed_inputs", []),
        "money": ({"identity": money.get("description"), "passed": money.get("passed"),
                   "sums": money.get("metadata", {}).get("sums", {})} if money else None),
    }


def _review_sections(spec: MigrationSpec, wave: str, ledger, base: Path,
                     targets: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The report's ``phi_review`` (held / approved counts, the queue CSV) and ``deduplication``
    (per dedup target: merged, failed, the reconciliation log, the merges_reconcile check) sections;
    each target entry also gets ``duplicates_merged``. Returns (sections, dedup checks passed)."""
    out: dict[str, Any] = {}
    passed = True
    if any(t.phi_review is not None for t in spec.targets.values()):
        out["phi_review"] = {**queue_counts(queue_frame(ledger, spec, wave)), "queue": str(base / QUEUE_NAME)}
    dedup = {name: _read(base / "dedup" / f"{name}.json") for name, t in spec.targets.items() if "dedup" in t.options}
    if dedup:
        merges = ledger.merges_frame(spec.migration)
        section = {}
        for name, doc in dedup.items():
            mine = merges[merges["target"] == name]
            checks = {k: v.get("passed") for k, v in doc.get("checks", {}).items()}
            passed = passed and bool(checks) and all(checks.values())
            section[name] = {"duplicates_merged": int((mine["status"] == "done").sum()),
                             "merges_failed": int((mine["status"] == "failed").sum()),
                             "survivors": int(mine.loc[mine["status"] == "done", "survivor_source_id"].nunique()),
                             "match_key": (spec.targets[name].options.get("dedup") or {}).get("by"),
                             "checks": checks, "log": str(base / "dedup_reconciliation.csv")}
            if name in targets:
                targets[name]["duplicates_merged"] = section[name]["duplicates_merged"]
        out["deduplication"] = section
    return out, passed
