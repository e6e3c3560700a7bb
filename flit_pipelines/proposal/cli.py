"""The ``flit propose`` subcommand and the proposal's part of ``flit spec approve``."""

from __future__ import annotations

import sys
from pathlib import Path


def add_propose_parser(sub) -> None:
    """Register ``flit propose`` on the ``flit`` sub-parsers."""
    pp = sub.add_parser("propose", help="draft a mapping spec and a Data Availability Report from a source")
    pp.add_argument("migration", help="name of the new migration (the draft is <spec dir>/<migration>.yaml)")
    pp.add_argument("--destination", required=True, choices=["pipedrive", "highlevel", "salesforce"])
    src = pp.add_mutually_exclusive_group()
    src.add_argument("--csv", help="a CSV export directory (one file per object)")
    src.add_argument("--db", help="a SQLAlchemy URL (sqlite:///file.db attaches the file as schema admin)")
    src.add_argument("--fhir", help="a FHIR R4 base URL (arrives with issue 14)")
    pp.add_argument("--schema", help="with --db: the schema to list (default: the connection's)")
    pp.add_argument("--like", help="adapt this approved spec; alone, re-read its own source")
    pp.add_argument("--fallback-owner", default=None,
                    help="e-mail of the CRM user owning records without a matched user (from scratch)")
    pp.add_argument("--force", action="store_true", help="replace an existing draft of the same name")
    pp.set_defaults(fn=cmd_propose)


def cmd_propose(args) -> int:
    """Run ``propose`` and print where the draft and the report are, and what needs review."""
    from flit_pipelines.proposal.propose import ProposalError, default_fallback_owner, propose

    try:
        res = propose(args.migration, args.destination, csv=args.csv, db=args.db, schema=args.schema, fhir=args.fhir,
                      like=args.like, fallback_owner=args.fallback_owner or default_fallback_owner(), force=args.force)
    except ProposalError as exc:
        print(f"flit propose: {exc}", file=sys.stderr)
        return 2
    p = res.proposal
    counts: dict[str, int] = {}
    for d in p.decisions:
        counts[d.decision] = counts.get(d.decision, 0) + 1
    print(f"{res.spec_path}: draft spec ({p.mode}) for {p.destination}, {len(p.targets)} targets")
    print("columns: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"report: {res.documents['html']}")
    print(f"proposal: {res.documents['proposal']}")
    review = p.review_items()
    print(f"review required: {len(review)}" + (" (marked `review: required` in the draft)" if review else ""))
    for d in review[:30]:
        print(f"  {d.object}.{d.column} -> {d.target}.{d.destination_field} ({d.confidence:.2f})")
    print(f"next: review the draft, then `flit spec approve {p.migration} --by NAME`")
    return 0


def approve_checks(path: Path) -> bool:
    """False (and the markers listed on stderr) while the spec still has ``review: required`` markers."""
    from flit_pipelines.proposal.draft import review_markers

    if not path.exists():
        return True
    marks = review_markers(path)
    if not marks:
        return True
    print(f"flit spec approve: {path.name} still has {len(marks)} proposal(s) marked `review: required`; "
          "review each, then delete its marker:", file=sys.stderr)
    for line, text in marks:
        print(f"  {path.name}:{line}: {text}", file=sys.stderr)
    return False


def remember(path: Path, approved_by: str) -> None:
    """Record the reviewer's changes against the stored proposal in the mapping memory."""
    from flit_pipelines.proposal.memory import record_approval
    from flit_pipelines.proposal.propose import data_dir
    from flit_pipelines.spec.load import load_spec

    spec = load_spec(path)
    rows = record_approval(spec, data_dir() / "reports" / spec.migration / "proposal" / "proposal.json", approved_by)
    if rows:
        print(f"mapping memory: {len(rows)} correction(s) remembered for later proposals")
