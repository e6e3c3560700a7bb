"""The migration report for practice staff: one self-contained HTML page per wave.

``<data>/reports/<migration>/<wave>/migration_report.html``: charts (inline SVG, ``reports.charts``)
and tables of records per object (source -> migrated / unchanged / quarantined / left out / held /
flagged / failed, with the reason for every difference), where each seed object landed, owners that
fell back, files flagged, the PHI review outcome, duplicates merged, the checks and the run's
timeline. No scripts, no external files, no network. It is a function of the report data
(``reports.migration.build_report``) and the run's step timeline (``reports.timeline.run_timeline``),
so the Dagster report asset and ``flit report --html`` write the same page.

Only counts, object, field, check and step names and reasons appear: never a patient value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from flit_pipelines.reports.charts import COLORS, records_chart, timeline_chart
from flit_pipelines.reports.outcomes import SEGMENTS, crm_name, failed_checks, segments, shortfall
from flit_pipelines.reports.timeline import timeline_span

HTML_NAME = "migration_report.html"
SOURCE_NAMES = {"csv_export": "the clinic's CSV export", "database": "the Dentrix database",
                "ascend_api": "Dentrix Ascend (API Exchange)", "practicehub_api": "PracticeHub (API)"}
# Columns of the per-object table: (segment or report key, header), in order.
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source_rows", "In the source"), ("migrated", "Migrated"), ("unchanged", "Already in the CRM, unchanged"),
    ("quarantined", "Quarantined"), ("filtered", "Left out by rule"), ("held", "Held for PHI review"),
    ("flagged", "Flagged"), ("failed", "Failed"), ("destination_count", "In the CRM now"),
)
FILES_BESIDE = (("audit_log.csv", "every record: source ID, CRM ID, operation, time, error"),
                ("custom_field_design.md", "the custom fields, their types and where each value comes from"),
                ("workflow_rebuild.md", "recalls, appointment facts and the CRM workflows to rebuild"),
                ("field_map.md", "the approved field map"),
                ("phi_review_queue.csv", "records held for PHI review and who approved them"),
                ("field_diff.html", "sample wave: every mapped field read back from the CRM and compared"),
                ("dedup_reconciliation.csv", "persons merged by the deduplication pass"))

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _object_rows(report: dict[str, Any], crm: str) -> list[dict[str, Any]]:
    rows = []
    for name, t in (report.get("targets") or {}).items():
        seg = segments(t)
        values = {**seg, "source_rows": t.get("source_rows"), "destination_count": t.get("destination_count")}
        short = shortfall(t, crm)
        rows.append({"target": name, "entity": t.get("entity"), "source_object": t.get("source_object"),
                     "loaded": t.get("loaded", True),
                     "cells": [(key, values.get(key)) for key, _ in TABLE_COLUMNS],
                     "shortfall": short, "other_differences": _other_differences(t, seg, short)})
    return rows


def _other_differences(t: dict[str, Any], seg: dict[str, int], short: dict[str, Any]) -> list[str]:
    """Differences a reader may wonder about that are not a shortfall of the CRM count: records a
    target could not migrate although the CRM count matches (held, failed records loaded earlier),
    and a destination count the report does not know."""
    out = []
    if t.get("destination_count") is None and t.get("loaded"):
        out.append("the CRM count was not read back for this target (see its checks)")
    if not short["missing"]:
        for key in ("quarantined", "filtered", "held", "flagged", "failed"):
            if seg[key]:
                out.append(f"{seg[key]} {dict(SEGMENTS)[key]}: the CRM still holds them from an earlier run")
    return out


def _owner_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"target": name, "matched": t.get("matched", 0), "fallback": t.get("fallback_owner", 0),
             "mapping_file": f"{name}_user_mapping.csv"}
            for name, t in (report.get("targets") or {}).items() if t.get("entity") == "user"]


def _file_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, t in (report.get("targets") or {}).items():
        if t.get("entity") != "file" and not t.get("flagged"):
            continue
        reasons = {r: n for r, n in (t.get("quarantine_reasons_load") or {}).items()
                   if not str(r).startswith("held for PHI review")}
        rows.append({"target": name, "entity": t.get("entity"), "flagged": t.get("flagged", 0),
                     "sent": (t.get("created") or 0) + (t.get("updated") or 0) + (t.get("unchanged") or 0),
                     "reasons": sorted(reasons.items(), key=lambda kv: -int(kv[1]))})
    return rows


def _check_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, t in (report.get("targets") or {}).items():
        details = t.get("check_details") or {}
        for check, ok in sorted((t.get("checks") or {}).items()):
            rows.append({"target": name, "check": check, "passed": bool(ok), "detail": details.get(check) or ""})
    for name, d in (report.get("deduplication") or {}).items():
        for check, ok in sorted((d.get("checks") or {}).items()):
            rows.append({"target": name, "check": check, "passed": bool(ok), "detail": ""})
    return rows


def report_view(report: dict[str, Any], timeline: list[dict[str, Any]] | None = None,
                generated_at: datetime | None = None) -> dict[str, Any]:
    """What the template shows, as plain data (tests read it too). Shapes: see the template's sections.
    ``timeline`` is ``run_timeline`` output (None: not available, e.g. a report rebuilt without an
    instance)."""
    crm = crm_name(report)
    rows = _object_rows(report, crm)
    span = timeline_span(timeline or [])
    base = Path(str(report.get("schema_document") or "")).parent if report.get("schema_document") else None
    return {
        "title": report.get("title") or report.get("migration"), "migration": report.get("migration"),
        "wave": report.get("wave"), "crm": crm,
        "source": SOURCE_NAMES.get(report.get("source_kind") or "", report.get("source_kind") or "the source"),
        "generated_at": (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        "all_passed": bool(report.get("all_checks_passed")), "failed_checks": failed_checks(report),
        "columns": TABLE_COLUMNS, "rows": rows,
        "legend": [(label, COLORS[key]) for key, label in SEGMENTS],
        "records_svg": records_chart(report),
        "seeds": report.get("seed_objects") or [],
        "owners": _owner_rows(report), "unmatched_providers": (report.get("unmatched_providers") or {}).get("count", 0),
        "files": _file_rows(report),
        "phi": report.get("phi_review"), "dedup": report.get("deduplication"),
        "checks": _check_rows(report),
        "field_diff": report.get("field_diff"), "delta": report.get("delta"),
        "timeline": timeline, "timeline_svg": timeline_chart(timeline) if timeline else None,
        "run_seconds": round((span[1] - span[0]).total_seconds(), 1) if span else None,
        "beside": [(n, what) for n, what in FILES_BESIDE if base is None or (base / n).exists()],
    }


def migration_report_html(report: dict[str, Any], timeline: list[dict[str, Any]] | None = None,
                          generated_at: datetime | None = None) -> str:
    """The self-contained HTML page (str) for one wave's report dict (``build_report``) and its run's
    timeline (``run_timeline`` output, or None). Never raises on a report with missing optional
    sections (delta, field diff, PHI review, deduplication)."""
    return _env.get_template("migration_report.html.j2").render(**report_view(report, timeline, generated_at))


def write_html_report(report: dict[str, Any], out_dir: Path, timeline: list[dict[str, Any]] | None = None) -> Path:
    """Write ``<out_dir>/migration_report.html`` atomically (temp file + rename); returns its path."""
    path = Path(out_dir) / HTML_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(migration_report_html(report, timeline), encoding="utf-8")
    tmp.replace(path)
    return path


__all__ = ["HTML_NAME", "migration_report_html", "report_view", "write_html_report"]
