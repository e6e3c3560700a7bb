"""``flit sandbox ...`` and ``flit demo``: the subcommands this package adds to the product's ``flit``.

Registered through the ``flit_pipelines.cli`` entry-point group (see ``sandboxes/pyproject.toml``), so
the product never imports the sandboxes; ``python -m flit_sandboxes.cli`` runs the same commands
without the product's CLI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Servers, builders and the demo are imported by the command that runs them: `flit` loads this module
# on every invocation (to list the subcommands), and a web stack per `flit report` would be waste.


def cmd_sandbox(args) -> int:
    users = json.loads(Path(args.users_file).read_text()) if args.users_file else None
    if args.system in ("pipedrive", "highlevel") and not args.token:
        raise SystemExit(f"flit sandbox serve {args.system}: --token is required")
    if args.system == "highlevel":
        from flit_sandboxes.highlevel import serve as serve_highlevel

        settings = {"users": users, "location_id": args.location_id, "agency_token": args.agency_token}
        if args.pipelines_file:
            settings["pipelines"] = json.loads(Path(args.pipelines_file).read_text())
        if args.burst_limit is not None:
            settings["burst_limit"] = args.burst_limit
        serve_highlevel(args.port, args.state, args.token, host=args.host, **settings)
        return 0
    if args.system == "dentrix-ascend":
        from flit_sandboxes.ascend import serve as serve_ascend

        if not args.practice:
            raise SystemExit("flit sandbox serve dentrix-ascend: --practice (a demo practice SQLite file) is required")
        serve_ascend(args.port, args.practice, host=args.host, client_id=args.client_id,
                     client_secret=args.client_secret, organization_id=args.organization_id)
        return 0
    if args.system == "practicehub":
        from flit_sandboxes.practicehub import serve as serve_practicehub

        serve_practicehub(args.port, args.state, host=args.host, api_key=args.token or "sandbox-key",
                          patients=args.patients, seed=args.seed, rate_per_second=args.rate_per_second)
        return 0
    if args.system == "salesforce":
        from flit_sandboxes.salesforce import serve as serve_salesforce

        serve_salesforce(args.port, args.state, host=args.host, client_id=args.client_id,
                         client_secret=args.client_secret, users=users)
        return 0
    if args.system == "fhir":
        from flit_sandboxes.fhir import serve as serve_fhir

        if not args.data:
            raise SystemExit("flit sandbox serve fhir: --data (a directory of <Type>.<n>.ndjson files) is required")
        clients = {args.client_id: json.loads(Path(args.jwks).read_text())} if args.jwks else {}
        serve_fhir(args.port, args.state, host=args.host, data_dir=args.data, token=args.token, clients=clients,
                   export_delay_seconds=args.export_delay, rate_per_second=float(args.burst_limit or 50),
                   bulk=not args.no_bulk)
        return 0
    settings = {"burst_limit": args.burst_limit or 40, "daily_budget": args.daily_budget, "users": users}
    if args.file_size_limit:
        settings["file_size_limit"] = args.file_size_limit
    from flit_sandboxes.pipedrive import serve as serve_pipedrive

    serve_pipedrive(args.port, args.state, args.token, host=args.host, **settings)
    return 0


def cmd_build_practice(args) -> int:
    from flit_sandboxes.dentrix_practice import build_practice

    rows = build_practice(args.out, patients=args.patients, seed=args.seed, dialect=args.dialect)
    print(f"{args.out}: {sum(rows.values()):,} rows in {len(rows)} objects ({args.patients:,} patients)")
    return 0


def cmd_demo(args) -> int:
    from flit_sandboxes.demo import MIGRATIONS, run_demo

    if args.tenants:  # N practices of one migration at once (flit_sandboxes.demo_tenants)
        from flit_sandboxes.demo_tenants import DEFAULT_MIGRATION, run_tenants_demo

        return run_tenants_demo(args.tenants, migrations=tuple(args.only or (DEFAULT_MIGRATION,)), keep=args.keep)
    return run_demo(keep=args.keep, port=args.port, only=tuple(args.only) if args.only else MIGRATIONS)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``demo`` and ``sandbox`` to ``flit``'s sub-parsers (the ``flit_pipelines.cli`` entry point)."""
    dm = sub.add_parser("demo", help="run every migration end to end into local sandboxes")
    dm.add_argument("--keep", action="store_true", help="keep data/demo from an earlier demo (default: start fresh)")
    dm.add_argument("--port", type=int, default=0, help="Pipedrive sandbox port (default: a free one)")
    dm.add_argument("--only", nargs="+", default=None, help="run only these migrations")
    dm.add_argument("--tenants", type=int, default=0,
                    help="run N practices (tenants) of a migration at once, each with its own source and account; "
                         "with --only, of each migration named, one migration after another; without it, of "
                         "clinic_to_pipedrive only (N practices of every migration at once is too much for 2 cores)")
    dm.set_defaults(fn=cmd_demo)

    sb = sub.add_parser("sandbox", help="local vendor-faithful API emulators")
    sbs = sb.add_subparsers(dest="sandbox_cmd", required=True)
    serve = sbs.add_parser("serve", help="serve a sandbox in the foreground")
    serve.add_argument("system", choices=["pipedrive", "highlevel", "dentrix-ascend", "practicehub", "salesforce",
                                          "fhir"])
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--state", required=True, help="SQLite file holding the sandbox state")
    serve.add_argument("--token", default=None, help="pipedrive/highlevel: the API token the sandbox accepts; "
                       "fhir: a static bearer token accepted besides SMART tokens")
    serve.add_argument("--burst-limit", type=int, default=None,
                       help="requests per burst window (Pipedrive default 40 per 2 s; HighLevel 100 per 10 s; "
                       "fhir 50 per second)")
    serve.add_argument("--location-id", default="loc_sandbox", help="HighLevel: the sandbox's location (sub-account)")
    serve.add_argument("--agency-token", default=None, help="HighLevel: agency token accepted on Agency-Access calls")
    serve.add_argument("--daily-budget", type=int, default=1_000_000, help="Pipedrive: daily token budget")
    serve.add_argument("--file-size-limit", type=int, default=None, help="Pipedrive: bytes")
    serve.add_argument("--users-file", default=None, help="JSON list of users (Pipedrive {id, name, email, "
                       "active_flag}; HighLevel {email, firstName, lastName, role})")
    serve.add_argument("--pipelines-file", default=None,
                       help='HighLevel: JSON list of {"name", "stages": [...]} (pipelines cannot be created through the API)')
    serve.add_argument("--practice", default=None, help="dentrix-ascend: demo practice SQLite file to serve")
    serve.add_argument("--client-id", default="sandbox-client", help="dentrix-ascend/salesforce: OAuth client ID accepted")
    serve.add_argument("--client-secret", default="sandbox-secret",
                       help="dentrix-ascend/salesforce: OAuth client secret accepted")
    serve.add_argument("--patients", type=int, default=200, help="practicehub: demo practice size seeded on first start")
    serve.add_argument("--seed", type=int, default=7, help="practicehub: demo practice seed")
    serve.add_argument("--rate-per-second", type=float, default=1.0,
                       help="practicehub: requests per second per account before 429 (the vendor's is 1)")
    serve.add_argument("--organization-id", default="sandbox-org", help="dentrix-ascend: Organization-ID accepted")
    serve.add_argument("--data", default=None, help="fhir: directory of <Type>.<n>.ndjson files to serve "
                       "(e.g. flit_pipelines/sample_data/fhir_bulk_sample)")
    serve.add_argument("--jwks", default=None, help="fhir: JWKS file of the SMART Backend Services client --client-id")
    serve.add_argument("--export-delay", type=float, default=1.0, help="fhir: seconds a Bulk export job takes")
    serve.add_argument("--no-bulk", action="store_true", help="fhir: a search-only server (no $export)")
    serve.set_defaults(fn=cmd_sandbox)
    bp = sbs.add_parser("build-practice", help="write a deterministic Dentrix-shaped demo practice")
    bp.add_argument("--patients", type=int, default=500)
    bp.add_argument("--out", required=True, help="SQLite file, or a PostgreSQL SQLAlchemy URL with --dialect postgresql")
    bp.add_argument("--seed", type=int, default=7)
    bp.add_argument("--dialect", choices=["sqlite", "postgresql"], default="sqlite")
    bp.set_defaults(fn=cmd_build_practice)



def main(argv: list[str] | None = None) -> int:
    """``python -m flit_sandboxes.cli sandbox|demo ...``: the same commands without the product's CLI."""
    p = argparse.ArgumentParser(prog="flit-sandboxes")
    register(p.add_subparsers(dest="cmd", required=True))
    args = p.parse_args(argv)
    return int(args.fn(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
