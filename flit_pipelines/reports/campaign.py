"""The campaign view: per migration and tenant, wave states, records moved, checks and the delta window.

Read from the waves' ``migration_report.json`` files under each tenant's data directory (no Dagster, no
ledger query), so ``flit campaign status`` is instant and works on a copy of the data directory. What an
agency lead checks each morning; counts and states only, never a record value.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from flit_pipelines.spec.model import MigrationSpec
from flit_pipelines.tenants import load_tenants, tenant_data_dir

__all__ = ["campaign_rows", "format_campaign"]

ORDER = {"sample": 0, "full": 1}


def _waves(reports: Path) -> list[tuple[str, dict]]:
    if not reports.is_dir():
        return []
    out = []
    for p in sorted(reports.iterdir(), key=lambda p: (ORDER.get(p.name, 2), p.name)):
        doc = p / "migration_report.json"
        if p.is_dir() and doc.exists():
            out.append((p.name, json.loads(doc.read_text(encoding="utf-8"))))
    return out


def _delta_window(spec: MigrationSpec, reports: Path, now: float) -> str:
    full = reports / "full" / "migration_report.json"
    if not full.exists():
        return "not open (no full wave)"
    closes = full.stat().st_mtime + spec.delta.window_hours * 3600
    at = datetime.fromtimestamp(closes, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"open until {at}" if now < closes else f"closed {at}"


def campaign_rows(specs: Iterable[MigrationSpec], data_dir: str | Path, now: float | None = None) -> list[dict]:
    """One dict per migration and tenant: ``migration``, ``tenant``, ``waves`` (wave -> "passed" / "FAILED"),
    ``records_moved`` (created + updated over every wave and target), ``checks_passed`` / ``checks_failed``
    (of the newest wave), ``delta_window`` (a sentence). Tenants with no wave yet are listed with none."""
    now = time.time() if now is None else now
    rows = []
    for spec in specs:
        for tenant in load_tenants(spec):
            reports = tenant_data_dir(data_dir, tenant) / "reports" / spec.migration
            waves = _waves(reports)
            moved = sum(int(t.get("created") or 0) + int(t.get("updated") or 0)
                        for _, rep in waves for t in rep.get("targets", {}).values())
            checks = [v for t in (waves[-1][1].get("targets", {}).values() if waves else [])
                      for v in (t.get("checks") or {}).values() if v is not None]
            rows.append({"migration": spec.migration, "tenant": tenant,
                         "waves": {w: "passed" if rep.get("all_checks_passed") else "FAILED" for w, rep in waves},
                         "records_moved": moved, "checks_passed": sum(1 for v in checks if v),
                         "checks_failed": sum(1 for v in checks if not v),
                         "delta_window": _delta_window(spec, reports, now)})
    return rows


def format_campaign(rows: list[dict]) -> str:
    """The rows as a plain aligned table (one line per migration and tenant)."""
    head = ("migration", "tenant", "waves", "moved", "checks ok/failed", "delta window")
    body = [(r["migration"], r["tenant"], ", ".join(f"{w} {s}" for w, s in r["waves"].items()) or "none yet",
             str(r["records_moved"]), f"{r['checks_passed']}/{r['checks_failed']}", r["delta_window"]) for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in [head, *body])
