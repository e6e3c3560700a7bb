"""A run's timeline: when each step started and ended, from the run's step events.

Dagster-free on purpose: the caller passes plain event dicts (the report asset reads them from the
Dagster instance's event log, ``flit_pipelines.assets.run_events.step_events``; the CLI does the same
for the latest run of a wave), so the HTML report can be built and tested without an instance.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

START = "STEP_START"
ENDS = {"STEP_SUCCESS": "succeeded", "STEP_FAILURE": "failed", "STEP_SKIPPED": "skipped"}


def step_label(step_key: str, migration: str | None = None) -> str:
    """Readable name of a step key: ``clinic_to_pipedrive__load__persons`` -> ``load persons``."""
    parts = [p for p in step_key.split("__") if p]
    if migration and parts and parts[0] == migration:
        parts = parts[1:]
    return " ".join(p.replace("_", " ") if i == 0 else p for i, p in enumerate(parts)) or step_key


def run_timeline(events: Iterable[dict[str, Any]], migration: str | None = None) -> list[dict[str, Any]]:
    """Steps of one run in start order.

    Args:
        events: dicts with ``step_key`` (str), ``event_type`` (``STEP_START``, ``STEP_SUCCESS``,
            ``STEP_FAILURE``, ``STEP_SKIPPED``; others are ignored) and ``timestamp`` (seconds since
            the epoch, float). Order does not matter.
        migration: strips this prefix from step labels.

    Returns ``[{"step", "label", "start", "end", "seconds", "status"}]``: ``start``/``end`` are
    ISO-8601 UTC strings (``end`` None while a step runs: status ``running``), ``seconds`` the
    duration rounded to 0.1 s (None while running). A step without a start event is left out.
    """
    starts: dict[str, float] = {}
    ends: dict[str, tuple[float, str]] = {}
    for e in events:
        key, kind, ts = e.get("step_key"), e.get("event_type"), e.get("timestamp")
        if not key or ts is None:
            continue
        if kind == START:
            starts[key] = min(float(ts), starts.get(key, float("inf")))
        elif kind in ENDS:
            ends[key] = (float(ts), ENDS[kind])
    out = []
    for key, t0 in sorted(starts.items(), key=lambda kv: (kv[1], kv[0])):
        t1, status = ends.get(key, (None, "running"))
        out.append({"step": key, "label": step_label(key, migration), "start": _iso(t0),
                    "end": _iso(t1) if t1 is not None else None,
                    "seconds": round(t1 - t0, 1) if t1 is not None else None, "status": status})
    return out


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def timeline_span(steps: list[dict[str, Any]]) -> tuple[datetime, datetime] | None:
    """(first start, last end) of a timeline, None when it is empty; running steps end at their start."""
    if not steps:
        return None
    t0 = min(datetime.fromisoformat(s["start"]) for s in steps)
    t1 = max(datetime.fromisoformat(s["end"] or s["start"]) for s in steps)
    return t0, t1


__all__ = ["run_timeline", "step_label", "timeline_span"]
