"""The terminal summary of a migration wave (``flit run``, ``flit report``, the demo), as rich tables.

One table per migration: per target the source rows, what each wave the user ran created (the
sample wave's creates beside the full wave's), updated, unchanged, not migrated, the CRM's count and
the checks; under it, for every CRM count below the source count, the reasons (``reports.outcomes``),
so no shortfall is silent. Full column headers (rich sizes columns to their headers).
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from flit_pipelines.reports.outcomes import crm_name, failed_checks, segments, shortfall_text

PLAIN_WIDTH = 160  # when stdout is not a terminal (CI logs, the demo piped to a file)


def console() -> Console:
    """A rich Console on the current ``sys.stdout`` (so test capture works): the terminal's width, or
    ``PLAIN_WIDTH`` columns without colour when stdout is not a terminal."""
    tty = sys.stdout.isatty()
    return Console(file=sys.stdout, width=None if tty else PLAIN_WIDTH, no_color=not tty, highlight=False,
                   soft_wrap=False)


def summary_title(reports: list[dict[str, Any]]) -> str:
    """``<title>: sample then full waves, all checks passed`` (or how many checks failed)."""
    last = reports[-1]
    failed = failed_checks(last)
    verdict = "all checks passed" if last.get("all_checks_passed") else (
        f"{len(failed)} check(s) FAILED" if failed else "checks FAILED or not run")
    return (f"{last.get('title')}: {' then '.join(r['wave'] for r in reports)} "
            f"wave{'s' if len(reports) > 1 else ''}, {verdict}")


def summary_table(reports: list[dict[str, Any]]) -> Table:
    """The table of the last report's wave; ``reports`` are the waves run, oldest first (e.g. sample,
    full): each contributes a "created (<wave>)" column (users: matched). Raises ValueError on an
    empty list."""
    if not reports:
        raise ValueError("summary_table needs at least one wave report")
    last = reports[-1]
    crm = crm_name(last)
    table = Table(show_lines=False, header_style="bold")
    table.add_column("target", no_wrap=True)
    table.add_column("in source", justify="right")
    for r in reports:
        table.add_column(f"created ({r['wave']})", justify="right")
    for header in ("updated", "unchanged", "not migrated", f"in {crm}"):
        table.add_column(header, justify="right")
    table.add_column("checks", overflow="fold")
    for name, t in (last.get("targets") or {}).items():
        seg = segments(t)
        not_migrated = sum(v for k, v in seg.items() if k not in ("migrated", "unchanged"))
        created = [_created(((r.get("targets") or {}).get(name) or {})) for r in reports]
        bad = [k for k, ok in (t.get("checks") or {}).items() if not ok]
        checks = "FAILED: " + ", ".join(bad) if bad else ("ok" if t.get("checks") else "not run")
        table.add_row(name, _s(t.get("source_rows")), *created, _s(t.get("updated")), _s(t.get("unchanged")),
                      _s(not_migrated), _s(t.get("destination_count")), checks)
    return table


def _created(t: dict[str, Any]) -> str:
    if t.get("entity") == "user":  # users are matched to the CRM's users, never created
        fallback = t.get("fallback_owner") or 0
        return f"{t.get('matched', 0)} matched" + (f", {fallback} to fallback owner" if fallback else "")
    return str(t.get("created", 0))


def shortfall_lines(report: dict[str, Any]) -> list[str]:
    """Under the table: per target whose CRM count is below its source count, the counts and one line
    per reason (an unexplained rest is printed as such)."""
    crm = crm_name(report)
    lines = []
    for name, t in (report.get("targets") or {}).items():
        text = shortfall_text(t, crm, limit=6)
        if text:
            lines.append(f"  {name}: {t.get('source_rows')} in the source, {t.get('destination_count')} in {crm}:")
            lines += [f"    {reason}" for reason in text.splitlines()]
    return ([f"Why {crm} holds fewer records than the source:"] + lines) if lines else []


def _s(value: Any) -> str:
    return "–" if value is None else str(value)


def summary_notes(report: dict[str, Any]) -> list[str]:
    """Lines under the table: fallback owners, PHI review queue, duplicates merged, failed checks,
    and (Salesforce) the field-level-security checklist."""
    lines = []
    unmatched = (report.get("unmatched_providers") or {}).get("count", 0)
    lines.append(f"providers without a destination user (records they own get the fallback owner): {unmatched}")
    phi = report.get("phi_review")
    if phi:
        lines.append(f"PHI review queue: {phi.get('held', 0)} held, {phi.get('approved', 0)} approved"
                     + (f" (flit phi list {report['migration']})" if phi.get("held") else ""))
    for name, d in (report.get("deduplication") or {}).items():
        lines.append(f"{name}: {d.get('duplicates_merged', 0)} duplicates merged into {d.get('survivors', 0)} "
                     f"records ({d.get('merges_failed', 0)} merges failed)")
    for check in failed_checks(report):
        lines.append(f"FAILED check {check}")
    fls = report.get("fls_checklist")
    if fls:
        lines.append(f"field-level security of HIPAA-sensitive fields ({len(fls['fields'])}):")
        lines += [f"  {f['field']:48} {f['status']}" for f in fls["fields"]]
        lines += [f"  - {step}" for step in fls.get("steps", [])]
    return lines


def print_summary(reports: list[dict[str, Any]], html_path: str | None = None, out: Console | None = None) -> None:
    """Print the summary table of ``reports`` (waves run, oldest first), its notes and, when given,
    the path of the wave's HTML report."""
    out = out or console()
    out.print(summary_title(reports), markup=False)
    out.print(summary_table(reports))
    for line in shortfall_lines(reports[-1]) + summary_notes(reports[-1]):
        out.print(line, markup=False)
    if html_path:
        out.print(f"HTML report: {html_path}", markup=False)


__all__ = ["console", "print_summary", "shortfall_lines", "summary_notes", "summary_table", "summary_title"]
