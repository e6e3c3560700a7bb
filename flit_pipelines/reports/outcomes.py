"""Where each target's source rows went, and why the CRM holds fewer: one view of a wave's report
that the terminal summary (``reports.terminal``) and the HTML report (``reports.html_report``) share.

Input is one target entry of ``reports.migration.build_report`` (plain dict); output holds counts and
reasons only (reason texts name columns, checks, rules and vendor error messages, never patient
values), so it is safe for terminals, asset metadata and practice-staff reports.
"""

from __future__ import annotations

from typing import Any

from flit_pipelines.reports.wording import condition_text

# Chart/table segments of a target's source rows, in display order, with the words staff read.
SEGMENTS: tuple[tuple[str, str], ...] = (
    ("migrated", "migrated (created or updated)"),
    ("unchanged", "already in the CRM, unchanged"),
    ("quarantined", "quarantined (failed a source check)"),
    ("filtered", "left out by the target's rule"),
    ("held", "held for PHI review"),
    ("flagged", "flagged (e.g. a file for manual re-upload)"),
    ("failed", "failed (refused or unresolved)"),
    ("unaccounted", "not accounted for"),
)


CRM_NAMES = {"pipedrive": "Pipedrive", "highlevel": "HighLevel", "salesforce": "Salesforce"}


def crm_name(report: dict[str, Any]) -> str:
    """The destination's product name for a report (``destination_kind``), else "the CRM"."""
    return CRM_NAMES.get(report.get("destination_kind") or "", "the CRM")


def _n(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def segments(entry: dict[str, Any]) -> dict[str, int]:
    """A target's source rows split into ``SEGMENTS`` (keys in that order; all ints >= 0).

    ``migrated`` is created + updated (for a user target: users matched + providers given the
    fallback owner, since users are matched, never created); ``quarantined`` counts rows quarantined
    at extract (load-stage quarantine rows are the held, flagged and failed records, counted there);
    ``unaccounted`` is whatever the other segments leave of ``source_rows`` (0 when they cover it).
    """
    user = entry.get("entity") == "user"
    out = {
        "migrated": _n(entry.get("matched")) + _n(entry.get("fallback_owner")) if user
        else _n(entry.get("created")) + _n(entry.get("updated")),
        "unchanged": _n(entry.get("unchanged")),
        "quarantined": _n(entry.get("quarantined_at_extract")),
        "filtered": _n(entry.get("filtered_by_target")),
        "held": _n(entry.get("held_for_phi_review")),
        "flagged": _n(entry.get("flagged")),
        "failed": _n(entry.get("failed")),
    }
    out["unaccounted"] = max(0, _n(entry.get("source_rows")) - sum(out.values()))
    return out


def _load_side_reasons(entry: dict[str, Any], crm: str) -> list[tuple[int, str]]:
    """Reasons of records that reached the payload but are not in the CRM.

    With the reconciliation accounting (``not_migrated``: category -> {records, reasons}) that is
    authoritative; otherwise: load-stage quarantine reasons (held, flagged, unresolved parent, a body
    no request can carry) plus the destination's error texts not already listed."""
    if entry.get("not_migrated"):
        return [(_n(n), str(reason)) for c in entry["not_migrated"].values()
                for reason, n in (c.get("reasons") or {}).items()]
    load = {str(k): _n(v) for k, v in (entry.get("quarantine_reasons_load") or {}).items()}
    out = list((n, r) for r, n in load.items())
    for error, n in (entry.get("destination_errors") or {}).items():
        rest = _n(n) - load.get(str(error), 0)
        if rest > 0:
            out.append((rest, f"refused by {crm}: {error}"))
    return out


def shortfall(entry: dict[str, Any], crm: str = "the CRM") -> dict[str, Any]:
    """Why the CRM holds fewer records of a target than the source has rows.

    Returns ``{"source": int | None, "in_crm": int | None, "missing": int, "reasons": [{"count",
    "reason"}], "unexplained": int}``: ``missing`` = source rows - destination read-back count (0 when
    either is unknown or the CRM holds as many); ``reasons`` lists every cause the report knows
    (quarantine reasons at extract, the target's filter rule, load-stage reasons, destination errors,
    duplicates merged), most frequent first; ``unexplained`` is the part of ``missing`` no reason
    covers, which the terminal and the HTML report print as such (never a silent shortfall).
    ``crm`` names the destination in reason texts ("Pipedrive").
    """
    source, in_crm = entry.get("source_rows"), entry.get("destination_count")
    missing = max(0, _n(source) - _n(in_crm)) if source is not None and in_crm is not None else 0
    reasons: list[tuple[int, str]] = []
    extract = entry.get("quarantine_reasons_extract")
    if extract is None and not entry.get("quarantine_reasons_load"):  # a report without the split
        extract = entry.get("quarantine_reasons") or {}
    reasons += [(_n(n), f"quarantined at extract: {r}") for r, n in (extract or {}).items()]
    if _n(entry.get("filtered_by_target")):
        rule = condition_text(entry.get("filter_rule"))
        reasons.append((_n(entry["filtered_by_target"]), "left out on purpose: this target takes only rows where "
                        + rule if rule else "left out on purpose by the target's rule"))
    reasons += _load_side_reasons(entry, crm)
    if _n(entry.get("duplicates_merged")):
        reasons.append((_n(entry["duplicates_merged"]), "merged into a surviving duplicate (deduplication pass)"))
    reasons = sorted(((n, r) for n, r in reasons if n > 0), key=lambda x: (-x[0], x[1]))
    explained = sum(n for n, _ in reasons)
    return {"source": source, "in_crm": in_crm, "missing": missing,
            "reasons": [{"count": n, "reason": r} for n, r in reasons],
            "unexplained": max(0, missing - explained)}


def shortfall_text(entry: dict[str, Any], crm: str = "the CRM", limit: int = 4) -> str:
    """One line per reason for a terminal cell ("27 held for PHI review: ssn"), empty when the CRM holds
    every source row; an unexplained remainder is always printed, naming the check to look at."""
    s = shortfall(entry, crm)
    if not s["missing"]:
        return ""
    lines = [f"{r['count']} {r['reason']}" for r in s["reasons"][:limit]]
    if len(s["reasons"]) > limit:
        lines.append(f"{sum(r['count'] for r in s['reasons'][limit:])} for {len(s['reasons']) - limit} "
                     "other reasons (HTML report)")
    if s["unexplained"]:
        lines.append(f"{s['unexplained']} NOT EXPLAINED: see the counts_reconcile check")
    return "\n".join(lines)


def failed_checks(report: dict[str, Any]) -> list[str]:
    """``"<target>: <check>"`` for every check of the report that did not pass (dedup checks too)."""
    out = [f"{name}: {check}" for name, t in (report.get("targets") or {}).items()
           for check, ok in (t.get("checks") or {}).items() if not ok]
    out += [f"{name}: {check}" for name, d in (report.get("deduplication") or {}).items()
            for check, ok in (d.get("checks") or {}).items() if not ok]
    return out


__all__ = ["CRM_NAMES", "SEGMENTS", "crm_name", "failed_checks", "segments", "shortfall", "shortfall_text"]
