"""The migration report: per target source, quarantined (with reasons), created, updated, unchanged,
failed, destination count, check outcomes, where each seed object landed, and (Salesforce) the
field-level-security checklist of the HIPAA-sensitive fields.

Built from the per-step JSON documents the assets write under ``<data>/reports/<migration>/<wave>/``
and from the ledger, so ``flit report`` works without a Dagster instance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
        all_passed = all_passed and bool(checks) and all(checks.values())
        q = quarantine[((quarantine["stage"] == "extract") & (quarantine["object"] == t.from_))
                       | ((quarantine["stage"] == "load") & (quarantine["object"] == name))]
        count_meta = load.get("checks", {}).get("counts_reconcile", {}).get("metadata", {})
        targets[name] = {
            "entity": t.entity,
            "source_object": t.from_,
            "source_rows": count_meta.get("source_rows", extract.get("rows_read")),
            "quarantined": int(len(q)),
            "quarantine_reasons": q["reason"].value_counts().to_dict() if len(q) else {},
            "created": s.get("created", 0), "updated": s.get("updated", 0), "unchanged": s.get("unchanged", 0),
            "failed": s.get("failed", 0), "flagged": s.get("flagged", 0), "adopted": s.get("adopted", 0),
            "matched": s.get("matched", 0), "fallback_owner": s.get("fallback", 0),
            "ledger_rows": count_meta.get("ledger_rows"),
            "destination_count": count_meta.get("destination_rows"),
            "checks": checks,
            "loaded": bool(load),
        }
    unmatched = []
    prov = [n for n, t in spec.targets.items() if t.entity == "user"]
    for n in prov:
        audit = ledger.audit_frame(spec.migration, target=n, wave=wave)
        if len(audit):
            last = audit[audit["run_id"] == audit["run_id"].iloc[-1]]
            unmatched += last.loc[last["operation"] == "fallback", "source_id"].tolist()
    design = _read(base / "custom_field_design.json")
    return {
        "migration": spec.migration,
        # Salesforce: the field-level-security checklist of HIPAA-sensitive fields and the metadata document
        "fls_checklist": design.get("fls_checklist"),
        "schema_document": str(base / "custom_field_design.json") if design else None,
        "title": spec.title,
        "wave": wave,
        "all_checks_passed": all_passed,
        "targets": targets,
        "unmatched_providers": {"count": len(unmatched), "source_ids": unmatched},
        "seed_objects": [s.model_dump() for s in spec.seed_objects],
        "activity_fields_note": next((t.description for t in spec.targets.values() if t.entity == "activity"), None),
    }
