"""Charts of the migration report as inline SVG (matplotlib, no pyplot state, no network).

``records_chart``: per target a bar of its source rows split into the outcome segments of
``reports.outcomes.SEGMENTS`` (share of the source rows, counts written beside each bar);
``timeline_chart``: the run's steps as a Gantt chart. Both return an ``<svg ...>`` element string
(no XML prolog) with text kept as text, ready to embed in a self-contained HTML page. Only target
names, step names and counts are drawn, never record values.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from flit_pipelines.reports.outcomes import SEGMENTS, crm_name, segments

# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
COLORS = {"migrated": "#009E73", "unchanged": "#56B4E9", "quarantined": "#E69F00", "filtered": "#999999",
          "held": "#CC79A7", "flagged": "#F0E442", "failed": "#D55E00", "unaccounted": "#000000"}
STATUS_COLORS = {"succeeded": "#009E73", "failed": "#D55E00", "skipped": "#999999", "running": "#56B4E9"}
_RC = {"svg.fonttype": "none", "svg.hashsalt": "flit-report", "font.size": 9,
       "font.family": ["DejaVu Sans", "sans-serif"]}


def _svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element (prolog and DOCTYPE dropped, fixed ids, no date)."""
    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):] if "<svg" in text else text


def records_chart(report: dict[str, Any]) -> str:
    """Stacked horizontal bars, one per target of ``report["targets"]`` (load order), each split into
    outcome segments as a share of its source rows; right of each bar: ``source N → <CRM> M``.
    Returns an SVG element string; a report without targets gives a small "no targets" figure."""
    targets = list((report.get("targets") or {}).items())
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(9.5, 0.9 + 0.42 * max(1, len(targets))))
        ax = fig.add_subplot()
        if not targets:
            ax.text(0.5, 0.5, "no targets", ha="center", va="center")
            ax.set_axis_off()
            return _svg(fig)
        labels = [f"{target} ({t.get('entity')})" for target, t in targets]
        name = crm_name(report)
        ys = list(range(len(targets)))[::-1]
        shown: set[str] = set()
        for y, (_name, t) in zip(ys, targets, strict=True):
            seg = segments(t)
            total = max(1, sum(seg.values()))
            left = 0.0
            for key, label in SEGMENTS:
                if not seg[key]:
                    continue
                width = 100.0 * seg[key] / total
                ax.barh(y, width, left=left, color=COLORS[key], edgecolor="white", linewidth=0.5,
                        label=label if key not in shown else None)
                shown.add(key)
                left += width
            src, crm = t.get("source_rows"), t.get("destination_count")
            note = f"source {src if src is not None else '?'} → {name} {crm if crm is not None else '?'}"
            if not sum(seg.values()):
                note = "no source rows in this wave"
            ax.text(101.5, y, note, va="center", fontsize=8)
        ax.set_yticks(ys, labels)
        ax.set_xlim(0, 100)
        ax.set_xlabel("share of the target's source rows (%)")
        ax.spines[["top", "right"]].set_visible(False)
        handles = dict(zip(*ax.get_legend_handles_labels()[::-1], strict=True))  # label -> handle
        order = [label for _, label in SEGMENTS if label in handles]
        ax.legend([handles[x] for x in order], order, loc="upper center", frameon=False, fontsize=8,
                  bbox_to_anchor=(0.5, -0.12 - 0.6 / max(1, len(targets))), ncol=4)
        return _svg(fig)


def timeline_chart(steps: list[dict[str, Any]]) -> str:
    """A Gantt chart of ``reports.timeline.run_timeline`` output: one bar per step from its start to
    its end (seconds since the run's first step), coloured by status. SVG element string."""
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(9.5, 0.8 + 0.2 * max(1, len(steps))))
        ax = fig.add_subplot()
        if not steps:
            ax.text(0.5, 0.5, "no step events recorded for this run", ha="center", va="center")
            ax.set_axis_off()
            return _svg(fig)
        t0 = min(datetime.fromisoformat(s["start"]) for s in steps)
        ys = list(range(len(steps)))[::-1]
        for y, s in zip(ys, steps, strict=True):
            start = (datetime.fromisoformat(s["start"]) - t0).total_seconds()
            end = (datetime.fromisoformat(s["end"]) - t0).total_seconds() if s["end"] else start
            ax.barh(y, max(end - start, 0.05), left=start, color=STATUS_COLORS.get(s["status"], "#999999"),
                    height=0.7)
        ax.set_yticks(ys, [s["label"] for s in steps], fontsize=7)
        ax.set_xlabel("seconds since the run's first step")
        ax.spines[["top", "right"]].set_visible(False)
        return _svg(fig)


def svg_text(svg: str) -> str:
    """The visible text of an SVG string (for tests and accessibility summaries)."""
    return " ".join(re.findall(r">([^<>]+)</text>", svg))


__all__ = ["COLORS", "records_chart", "svg_text", "timeline_chart"]
