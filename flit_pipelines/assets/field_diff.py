"""Asset check ``field_diff_clean`` of every non-user load asset (issue 5, ARCHITECTURE.md "Data flow":
"field-level diff of the read-back on the sample wave").

In the ``sample`` wave it runs ``reports.field_diff.diff_target`` on the target just loaded, writes the
CSV/HTML reports (``<reports>/sample/field_diff.*``) and fails on any ``mismatch`` or
``missing_record`` outside the target's ``diff_tolerances``. It is non-blocking: a difference is
visible in the UI and the migration report (``all_checks_passed`` false) but children still load and
the report is still built. In other waves it passes with ``skipped: true``.

Metadata: counts per status and mismatching field names with counts; never a value.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from flit_pipelines.destinations.base import Destination
from flit_pipelines.ledger import Ledger
from flit_pipelines.reports.field_diff import diff_target, summarize, write_reports
from flit_pipelines.spec.model import MigrationSpec

CHECK_NAME = "field_diff_clean"
SAMPLE_WAVE = "sample"


def field_diff_check_specs(spec: MigrationSpec, target: str, key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """The check's spec for a load asset (none for user targets: users are matched, never written)."""
    if spec.targets[target].entity == "user":
        return []
    return [dg.AssetCheckSpec(CHECK_NAME, asset=key, blocking=False,
                              description="sample wave: every mapped field read back equals the payload "
                                          "(declared diff_tolerances aside)")]


def field_diff_results(spec: MigrationSpec, target: str, wave: str, payload: pd.DataFrame, ledger: Ledger,
                       dest: Destination, flit) -> list[dg.AssetCheckResult]:
    """The check result of one load (empty list for user targets). ``flit`` is the FlitResource
    (its ``reports_dir``). A destination error while reading back fails the check, naming only the
    error type."""
    if spec.targets[target].entity == "user":
        return []
    if wave != SAMPLE_WAVE:
        return [dg.AssetCheckResult(check_name=CHECK_NAME, passed=True,
                                    description="field diff runs on the sample wave", metadata={"skipped": True})]
    try:
        frame = diff_target(spec, target, payload, ledger, dest)
    except Exception as exc:  # the load itself succeeded; report why the diff could not run
        return [dg.AssetCheckResult(check_name=CHECK_NAME, passed=False,
                                    description=f"field diff could not run: {type(exc).__name__}",
                                    metadata={"error_type": type(exc).__name__})]
    summary = summarize(frame)
    paths = write_reports(spec, target, frame, summary, flit.reports_dir(spec.migration, wave))
    counts = summary["status_counts"]
    bad = summary["mismatched_fields"]
    desc = (f"{summary['records']} records, {summary['fields_compared']} fields: {counts['mismatch']} mismatches"
            + (f" ({', '.join(f'{k}: {v}' for k, v in bad.items())})" if bad else "")
            + f", {counts['missing_record']} missing records, {counts['within_tolerance']} within tolerance, "
            f"{counts['not_readable']} not readable")
    return [dg.AssetCheckResult(
        check_name=CHECK_NAME, passed=summary["passed"], description=desc,
        metadata={"records": summary["records"], "fields_compared": summary["fields_compared"],
                  "status_counts": dg.MetadataValue.json(counts),
                  "mismatched_fields": dg.MetadataValue.json(bad),
                  "not_readable_fields": dg.MetadataValue.json(summary["not_readable_fields"]),
                  "within_tolerance_fields": dg.MetadataValue.json(summary["within_tolerance_fields"]),
                  "csv": dg.MetadataValue.path(str(paths["csv"])),
                  "html": dg.MetadataValue.path(str(paths["html"]))})]
