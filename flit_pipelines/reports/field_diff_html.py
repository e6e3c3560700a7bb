"""The field-level diff as one self-contained HTML page for practice staff (no scripts, no external
files): what was checked, a summary table per target, then every difference, then the differences
accepted by a declared tolerance and the fields the CRM never returns.

The page holds patient values (expected and actual), like the CSV beside it: it is a practice-owned
report, kept with the migration's other reports and never attached to logs or asset metadata.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from flit_pipelines.spec.model import MigrationSpec

MAX_ROWS = 2_000  # per section; the CSV has every row
MAX_CHARS = 400  # a long note body is cut in the page (never in the CSV)

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2933;max-width:1200px}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1rem;margin-top:1.5rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #d3d9de;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f1f4f6}td.n{text-align:right}
.ok{color:#1b7f3b;font-weight:600}.bad{color:#b42318;font-weight:600}
.v{white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}
.muted{color:#616e7c}details{margin:1rem 0}
"""

_STATUS_HELP = [
    ("match", "the CRM shows exactly what was sent"),
    ("within tolerance", "a small, declared difference (rounding, letter case, a field deliberately not compared)"),
    ("not readable", "the CRM accepts this field but never shows it back, so it cannot be checked here"),
    ("mismatch", "the CRM shows something other than what was sent: please look at these"),
    ("missing record", "the record the migration created is no longer in the CRM"),
]


def _e(value: Any) -> str:
    text = "" if value is None else str(value)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + " …"
    return html.escape(text)


def _table(frame: pd.DataFrame, columns: list[tuple[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    body = []
    for row in frame.head(MAX_ROWS).to_dict("records"):
        cells = "".join(f'<td class="{"v" if col in ("expected", "actual") else ""}">{_e(row.get(col))}</td>'
                        for col, _ in columns)
        body.append(f"<tr>{cells}</tr>")
    more = (f'<p class="muted">Showing {MAX_ROWS} of {len(frame)} rows; the CSV file has all of them.</p>'
            if len(frame) > MAX_ROWS else "")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def field_diff_html(spec: MigrationSpec, summaries: dict[str, dict[str, Any]], frame: pd.DataFrame) -> str:
    """The page for the targets in ``summaries`` (target -> ``field_diff.summarize`` output) and
    their diff rows ``frame`` (``field_diff.COLUMNS``, text)."""
    passed = all(s.get("passed") for s in summaries.values()) if summaries else False
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>Field check: {html.escape(spec.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Field-by-field check of the sample migration: {html.escape(spec.title)}</h1>",
        f"<p class=\"muted\">Generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}. Every field the "
        "migration wrote for the sample records was read back from the CRM and compared with what was sent.</p>",
        f"<p>Result: <span class=\"{'ok' if passed else 'bad'}\">"
        f"{'no differences outside the agreed tolerances' if passed else 'differences found: see below'}</span></p>",
        "<ul>" + "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in _STATUS_HELP) + "</ul>",
        "<h2>Summary per record type</h2>",
        "<table><tr><th>record type</th><th>entity</th><th>records</th><th>fields checked</th><th>match</th>"
        "<th>within tolerance</th><th>not readable</th><th>mismatch</th><th>missing records</th><th>result</th></tr>",
    ]
    for name, s in summaries.items():
        c = s.get("status_counts", {})
        entity = spec.targets[name].entity if name in spec.targets else ""
        ok = s.get("passed")
        parts.append(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(entity)}</td><td class=n>{s.get('records', 0)}</td>"
            f"<td class=n>{s.get('fields_compared', 0)}</td><td class=n>{c.get('match', 0)}</td>"
            f"<td class=n>{c.get('within_tolerance', 0)}</td><td class=n>{c.get('not_readable', 0)}</td>"
            f"<td class=n>{c.get('mismatch', 0)}</td><td class=n>{c.get('missing_record', 0)}</td>"
            f"<td class=\"{'ok' if ok else 'bad'}\">{'OK' if ok else 'CHECK'}</td></tr>")
    parts.append("</table>")

    cols = [("source_id", "source record"), ("dest_id", "CRM record"), ("field", "field"),
            ("expected", "sent"), ("actual", "in the CRM"), ("note", "note")]
    bad = frame[frame["status"].isin(["mismatch", "missing_record"])] if len(frame) else frame
    parts.append("<h2>Differences</h2>")
    if not len(bad):
        parts.append('<p class="ok">None.</p>')
    for name, grp in bad.groupby("target", sort=False) if len(bad) else []:
        parts.append(f"<h3>{html.escape(str(name))} ({len(grp)})</h3>" + _table(grp, cols))

    tolerated = frame[frame["status"] == "within_tolerance"] if len(frame) else frame
    if len(tolerated):
        parts.append(f"<details><summary>Accepted differences ({len(tolerated)}): within a declared tolerance"
                     "</summary>" + _table(tolerated, [("target", "record type"), *cols]) + "</details>")
    unread = frame[frame["status"] == "not_readable"] if len(frame) else frame
    if len(unread):
        counts = unread.groupby(["target", "field"]).size().reset_index(name="records")
        parts.append("<details><summary>Fields the CRM never returns (not checked)</summary><table><tr>"
                     "<th>record type</th><th>field</th><th>records</th></tr>"
                     + "".join(f"<tr><td>{_e(r['target'])}</td><td>{_e(r['field'])}</td><td class=n>{r['records']}"
                               "</td></tr>" for r in counts.to_dict("records"))
                     + "</table></details>")
    parts.append("</body></html>")
    return "\n".join(parts)
