"""``flit`` helpers for a PracticeHub migration: the inventory of every object of a spec (entries,
pages, downloads, estimated time at the account's rate) and its plain-text table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from flit_pipelines.sources.practicehub_api import DEFAULT_REQUESTS_PER_SECOND, PracticeHubSource
from flit_pipelines.sources.registry import open_source

__all__ = ["format_inventory", "inventory_for_spec"]



def inventory_for_spec(spec: Any, since: datetime | None = None, *, rate: float | None = None
                       ) -> list[dict[str, Any]]:
    """``PracticeHubSource.inventory`` of every object of a migration spec (a ``MigrationSpec``)
    whose source is ``practicehub_api``, opened from the spec's environment variables; print it with
    ``format_inventory``.

    Raises:
        ValueError: the spec's source is not a PracticeHub API.
        ConfigurationError: a required environment variable is missing (names it).
        PracticeHubApiError / PracticeHubAuthError: as ``inventory``.
    """
    source = open_source(spec)
    if not isinstance(source, PracticeHubSource):
        raise ValueError(f"{spec.migration}: the source is not a PracticeHub API")
    try:
        return source.inventory(spec.objects, since, rate=rate)
    finally:
        source.close()


def format_inventory(rows: Iterable[Mapping[str, Any]]) -> str:
    """A plain-text table of ``inventory`` rows with a total line (counts only: safe to print)."""
    rows = list(rows)
    head = f"{'object':<28} {'endpoint':<26} {'entries':>9} {'pages':>7} {'downloads':>9} {'est. time':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        entries = f"{r['total_entries']:,}" if r["present"] else "absent"
        lines.append(f"{r['object']:<28} {r['endpoint']:<26} {entries:>9} {r['pages']:>7,} {r['downloads']:>9,} "
                     f"{_duration(r['estimated_seconds']):>10}")
    seconds = sum(r["estimated_seconds"] for r in rows)
    rate = rows[0]["requests_per_second"] if rows else DEFAULT_REQUESTS_PER_SECOND
    lines.append("-" * len(head))
    lines.append(f"{'total':<28} {'':<26} {sum(r['total_entries'] for r in rows):>9,} "
                 f"{sum(r['pages'] for r in rows):>7,} {sum(r['downloads'] for r in rows):>9,} "
                 f"{_duration(seconds):>10}  at {rate:g} request/s")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
