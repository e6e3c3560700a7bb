"""The proposal's documents under ``<FLIT_DATA_DIR>/reports/<migration>/proposal/``:

* ``proposal.json``: ``{migration, destination, mode, columns: [{object, column, decision, target,
  destination_field, confidence, evidence, alternatives}]}``, one entry per source column;
* ``data_availability.csv`` / ``.html``: for practice staff, every source field, whether it maps
  directly, needs a transform, needs a custom field or is not migrated, and why; the HTML opens with a
  bar per object showing how much maps where;
* ``source_profile.json``: the PHI-free profile (statistics, recogniser names, masked shapes, codes).

No value of the source is written: evidence and reasons name columns and statistics only.
"""

from __future__ import annotations

import csv
import html
import json
from collections import Counter
from pathlib import Path

from flit_pipelines.proposal.model import DECISIONS, Proposal
from flit_pipelines.proposal.profile import SourceProfile

COLOURS = {"direct": "#2e7d32", "transform": "#1565c0", "custom_field": "#f9a825", "lookup": "#6a1b9a",
           "not_migrated": "#9e9e9e"}
WORDS = {"direct": "maps directly", "transform": "maps with a transform", "custom_field": "needs a custom field",
         "lookup": "links records (lookup)", "not_migrated": "not migrated"}


def proposal_json(p: Proposal) -> dict:
    """The ``proposal.json`` document."""
    return {"migration": p.migration, "destination": p.destination, "mode": p.mode, "like": p.like,
            "review_required": len(p.review_items()),
            "columns": [d.as_json() for d in p.decisions]}


def _why(d) -> str:
    if d.decision == "not_migrated":
        return d.reason or ""
    return "; ".join(d.evidence[:2])


def write_reports(p: Proposal, profile: SourceProfile, out: Path) -> dict[str, Path]:
    """Write the four documents into ``out`` (created); returns their paths by name."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"proposal": out / "proposal.json", "csv": out / "data_availability.csv",
             "html": out / "data_availability.html", "profile": out / "source_profile.json"}
    paths["proposal"].write_text(json.dumps(proposal_json(p), indent=2), encoding="utf-8")
    paths["profile"].write_text(json.dumps(profile.to_dict(), indent=2, default=str), encoding="utf-8")
    rows = [{"object": d.object, "source_field": d.column, "outcome": WORDS[d.decision], "decision": d.decision,
             "crm_target": d.target or "", "crm_field": d.destination_field or "",
             "confidence": f"{d.confidence:.2f}", "review_required": "yes" if d.review else "",
             "filled": "" if d.fill_rate is None else f"{d.fill_rate:.0%}", "why": _why(d)} for d in p.decisions]
    with paths["csv"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["object"])
        w.writeheader()
        w.writerows(rows)
    paths["html"].write_text(_html(p, rows), encoding="utf-8")
    return paths


def _bar(counts: Counter, total: int, width: int = 520) -> str:
    x, parts = 0.0, []
    for dec in DECISIONS:
        n = counts.get(dec, 0)
        if not n:
            continue
        w = width * n / max(total, 1)
        parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="18" fill="{COLOURS[dec]}">'
                     f"<title>{html.escape(WORDS[dec])}: {n}</title></rect>")
        x += w
    return f'<svg width="{width}" height="18" role="img">{"".join(parts)}</svg>'


def _html(p: Proposal, rows: list[dict]) -> str:
    e = html.escape
    total = Counter(d.decision for d in p.decisions)
    by_obj: dict[str, Counter] = {}
    for d in p.decisions:
        by_obj.setdefault(d.object, Counter())[d.decision] += 1
    legend = " ".join(f'<span style="color:{COLOURS[k]}">&#9632;</span> {e(WORDS[k])} ({total.get(k, 0)})'
                      for k in DECISIONS)
    bars = "".join(f"<tr><td>{e(o)}</td><td>{_bar(c, sum(c.values()))}</td><td>{sum(c.values())}</td></tr>"
                   for o, c in by_obj.items())
    body = "".join(
        "<tr" + (' class="review"' if r["review_required"] else "") + ">" + "".join(
            f"<td>{e(str(r[k]))}</td>" for k in ("object", "source_field", "outcome", "crm_target", "crm_field",
                                                   "confidence", "filled", "why")) + "</tr>" for r in rows)
    review = len(p.review_items())
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Data availability: {e(p.migration)}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}}
tr.review td{{background:#fff8e1}}h1{{font-size:22px}}</style></head><body>
<h1>Data Availability Report: {e(p.migration)} &rarr; {e(p.destination.title())}</h1>
<p>Every field of the source system and what the proposed migration does with it. Nothing moves until a
person has reviewed this proposal and approved the mapping. {review} proposal(s) need a reviewer's decision
(highlighted).</p>
<p>{legend}</p>
<h2>How much maps where, per source table</h2>
<table><tr><th>source table</th><th>fields</th><th>count</th></tr>{bars}</table>
<h2>Every source field</h2>
<table><tr><th>table</th><th>field</th><th>outcome</th><th>CRM record</th><th>CRM field</th><th>confidence</th>
<th>filled</th><th>why</th></tr>{body}</table>
</body></html>
"""
