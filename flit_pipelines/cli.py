"""``flit``: run migrations through Dagster, print reports, approve specs, review PHI, roll back.

    flit run <migration> --wave sample|full [--tenant NAME] [--wait]
                                                  execute one wave; exit 1 if a step or blocking check fails,
                                                  or (without --wait) when a run holds the tenant's account
    flit report <migration> [--wave W] [--json] [--html] [--demo]
                                                  per-target counts, why any record is missing, checks, seed
                                                  landing; --html (re)writes the wave's HTML report
    flit rollback <migration> [--scope all|wave|run] [--wave W] [--run-id R] [--execute]
                                                  plan (and with --execute carry out) a rollback; dry run by default
    flit campaign status [<migration>] [--json] [--demo]
                                                  per migration and tenant: waves, records moved, checks, delta
    flit check <migration>                        can the source and destination be reached; settings complete?
    flit inventory <migration>                    source record counts and estimated extraction time
    flit propose <new> --destination D (--csv DIR | --db URL [--schema S] | --fhir URL) [--like EXISTING]
                                                  draft a spec and a Data Availability Report from a source
    flit spec approve <migration> --by NAME      record a person's approval of the field map
    flit spec check                               validate every spec, print load order and approval
    flit phi list <migration> [--wave W]         records held for PHI review (IDs, targets, pattern names)
    flit phi approve <migration> <target> (--all | --source-id ID ...) --by NAME   release held records

``--tenant NAME`` (run, report, rollback, delta, phi) picks a practice declared in
``<spec dir>/tenants/<migration>.yaml`` (docs/many-practices.md); without it, the default tenant.
``--demo`` (report, phi, rollback, delta) reads the demo's data (``data/demo``). A command that finds no
data exits 1 with what to run first and creates nothing.

With the sandboxes package installed (the dev/demo set-up): ``flit demo``, ``flit sandbox serve ...``,
``flit sandbox build-practice ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path

from flit_pipelines.errors import FlitError
from flit_pipelines.proposal.cli import add_propose_parser, approve_checks, remember
from flit_pipelines.runtime import command_prefix, default_data_dir, ensure_dagster_home

# Commands import the rest of what they use inside their function, and only there: `flit --help` and a usage
# error answer without loading Dagster, pandas and the spec models (seconds on a busy machine). None of those
# imports dodges a cycle: the modules they name never import this one.

# Packages installed beside the product add subcommands through this entry-point group: each entry is a
# callable taking the argparse sub-parsers object (the dev/demo set-up installs flit_sandboxes this way).
CLI_PLUGINS = "flit_pipelines.cli"
DEMO_HELP = "read the demo's data (data/demo and its approved spec copies) instead of FLIT_DATA_DIR"
TENANT_HELP = "the practice (tenant) declared in <spec dir>/tenants/<migration>.yaml; default: the default tenant"


def run_wave(migration: str, wave: str, *, quiet: bool = False, log_level: str = "INFO",
             resources: dict | None = None, tenant: str = "default", if_busy: str = "wait") -> bool:
    """Execute the migration job for one wave partition on the instance in ``DAGSTER_HOME``.

    ``resources``: run config of the resources, as the launchpad takes it (e.g. ``{"flit": {"config":
    {"clinic_to_pipedrive": {"source": {"directory": "/exports"}}}}}``; secrets only as variable names).
    ``tenant``: whose wave (partition ``<tenant>.<wave>``, bare ``<wave>`` for the default tenant); the run
    carries ``flit/tenant`` and its account tags. A live run holding the same account makes it wait
    (``if_busy="wait"``) or raises ``runs.accounts.AccountBusyError`` (``"refuse"``) before anything starts.

    Returns True when every step and every blocking check succeeded.

    Before it starts, runs of this instance whose ``flit run`` process is gone (killed, OOM, a lost
    machine) are marked failed and their pool slots freed (``flit_pipelines.runs``), each with a
    WARNING line naming the run; the run carries its pid, host and a heartbeat as run tags, and a
    step waiting for a pool slot says which run holds it.
    """
    ensure_dagster_home()
    import uuid

    import dagster as dg

    from flit_pipelines.assets.executors import execute_out_of_process, job_execution
    from flit_pipelines.instance.sqlite_event_log import KEEP_CONNECTIONS_ENV

    os.environ.setdefault(KEEP_CONNECTIONS_ENV, "1")  # a run's process writes most events: keep connections
    from flit_pipelines.definitions import defs
    from flit_pipelines.runs import RECOVERED_TAG, RunWatch, process_tags, recover_dead_runs
    from flit_pipelines.runs.accounts import wait_for_accounts
    from flit_pipelines.spec import load_all_specs
    from flit_pipelines.tenants import partition_key, tenant_run_tags

    d = defs()
    job = d.resolve_job_def(f"{migration}_migration")
    key = partition_key(tenant, wave)
    overrides = ((resources or {}).get("flit", {}).get("config", {}) or {}).get(migration)
    account = tenant_run_tags(load_all_specs()[migration], tenant, overrides)  # TenantError: unknown tenant
    with dg.DagsterInstance.get() as instance:
        name = f"{migration}_waves"
        if not instance.has_dynamic_partition(name, key):
            instance.add_dynamic_partitions(name, [key])
        recovered = recover_dead_runs(instance)  # a crashed run must not hold the destination pool
        wait_for_accounts(instance, account, wait=if_busy == "wait")  # one run per account (runs/accounts.py)
        run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}, **({"resources": resources}
                                                                                     if resources else {})}
        run_id = str(uuid.uuid4())
        tags = {**process_tags(), **account, **({RECOVERED_TAG: ",".join(r.run_id for r in recovered)}
                                                if recovered else {})}
        pools = [p for p in {getattr(n.definition, "pool", None) for n in job.graph.nodes} if p]
        with RunWatch(instance, run_id, pools):
            if job_execution().in_process:
                result = job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False,
                                                run_config=run_config, run_id=run_id, tags=tags)
            else:  # FLIT_EXECUTOR=multiprocess|celery: the job's own executor, steps in other processes
                result = execute_out_of_process(job.name, instance, wave=key, run_id=run_id,
                                                run_config=run_config, tags=tags)
        failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
        failed_checks = [e.check_name for e in failed]
        step_failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        failed_steps = [e.step_key for e in step_failures if e.step_key]
    if not quiet:
        print(f"run {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'}")
        if failed_steps:
            print("failed steps: " + ", ".join(sorted(set(failed_steps))))
            # the first line of each step's error: value-free by the step guard, and it names the fix
            for why in dict.fromkeys(_step_error(e) for e in step_failures):
                if why:
                    print(f"  {why}")
        if failed_checks:
            print("failed checks: " + ", ".join(sorted(set(failed_checks))))
            for e in failed:
                if e.description:
                    print(f"  {e.check_name}: {e.description}")
    return bool(result.success)


def _step_error(event) -> str:
    """``<ErrorClass>: <first line>`` of the innermost error of a STEP_FAILURE event (Dagster wraps the
    step's own exception; that one says what to do); "" when it carries none."""
    error = getattr(event.step_failure_data, "error", None)
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None or not error.message.strip():
        return ""
    first = error.message.strip().splitlines()[0]
    qualified, _, text = first.partition(": ")
    return f"{qualified.rsplit('.', 1)[-1]}: {text}" if text and " " not in qualified else first


def report(migration: str, wave: str, tenant: str = "default") -> dict:
    """The migration report (dict, see ``reports.migration.build_report``) of one wave of ``tenant``."""
    from flit_pipelines.assets.resources import FlitResource
    from flit_pipelines.reports.migration import build_report
    from flit_pipelines.spec import load_all_specs

    spec = load_all_specs()[migration]
    return build_report(spec, wave, FlitResource().for_tenant(tenant))


def summary_reports(migration: str, wave: str, tenant: str = "default") -> list[dict]:
    """The reports the terminal summary of ``wave`` shows, oldest first: the sample wave's too when
    ``wave`` is full and the sample wave ran (its creates are the full wave's "unchanged")."""
    from flit_pipelines.data_dirs import waves_with_data

    earlier = ["sample"] if wave == "full" and "sample" in waves_with_data(migration, tenant=tenant) else []
    return [report(migration, w, tenant) for w in [*earlier, wave]]


def write_report_html(migration: str, wave: str, rep: dict | None = None, tenant: str = "default") -> Path:
    """(Re)write ``<data>/reports/<migration>/<wave>/migration_report.html`` from the wave's report and
    the step timeline of its latest run on the ``DAGSTER_HOME`` instance; returns the path."""
    ensure_dagster_home()
    import dagster as dg

    from flit_pipelines.assets.resources import FlitResource
    from flit_pipelines.assets.run_events import wave_timeline
    from flit_pipelines.reports.html_report import write_html_report

    from flit_pipelines.tenants import partition_key

    rep = rep if rep is not None else report(migration, wave, tenant)
    with dg.DagsterInstance.get() as instance:
        timeline = wave_timeline(instance, migration, partition_key(tenant, wave))
    return write_html_report(rep, FlitResource().for_tenant(tenant).reports_dir(migration, wave), timeline)


def _html_path(migration: str, wave: str, tenant: str = "default") -> Path | None:
    from flit_pipelines.reports.html_report import HTML_NAME
    from flit_pipelines.tenants import tenant_data_dir

    path = tenant_data_dir(default_data_dir(), tenant) / "reports" / migration / wave / HTML_NAME
    return path if path.exists() else None


def _check_data(args, wave: str | None = None) -> int:
    """0 when the migration exists and has data (for ``wave`` if given); otherwise print why on stderr
    and return the exit code (2 unknown migration, 1 no data yet). Creates nothing."""
    from flit_pipelines.data_dirs import missing_data
    from flit_pipelines.spec import load_all_specs

    from flit_pipelines.tenants import TenantError, get_tenant

    known = load_all_specs()
    if args.migration not in known:
        print(f"flit: no migration {args.migration!r}; known: {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    tenant = getattr(args, "tenant", "default")
    try:
        get_tenant(known[args.migration], tenant)
    except TenantError as exc:
        print(f"flit: {exc}", file=sys.stderr)
        return 2
    sentence = missing_data(args.migration, wave, demo=getattr(args, "demo", False), tenant=tenant)
    if sentence:
        print(sentence, file=sys.stderr)
        return 1
    return 0


def run_rollback(migration: str, *, scope: str = "all", wave: str | None = None, run_id: str | None = None,
                 execute: bool = False, log_level: str = "WARNING", tenant: str = "default",
                 if_busy: str = "wait") -> dict:
    """Execute the ``<migration>_rollback`` job on the instance in ``DAGSTER_HOME``, for ``tenant`` (its
    ledger and destination account only; the run carries the tenant's account tags and, like ``run_wave``,
    waits for or refuses (``if_busy``) a live run holding the account).

    Dry run unless ``execute``. Returns the rollback summary (see ``rollback.execute.rollback_migration``),
    or ``{"failed": True, "error": <text>}`` when the run failed (bad scope, destination stopped it).
    """
    ensure_dagster_home()
    import dagster as dg

    from flit_pipelines.definitions import defs
    from flit_pipelines.runs import process_tags
    from flit_pipelines.runs.accounts import wait_for_accounts
    from flit_pipelines.spec import load_all_specs
    from flit_pipelines.tenants import tenant_run_tags

    job = defs().resolve_job_def(f"{migration}_rollback")
    config = {"ops": {"rollback": {"config": {"scope": scope, "wave": wave, "run_id": run_id,
                                               "dry_run": not execute, "tenant": tenant}}},
              "loggers": {"console": {"config": {"log_level": log_level}}}}
    tags = tenant_run_tags(load_all_specs()[migration], tenant)
    with dg.DagsterInstance.get() as instance:
        if execute:  # a dry run only reads the ledger
            wait_for_accounts(instance, tags, wait=if_busy == "wait")
        result = job.execute_in_process(instance=instance, run_config=config, raise_on_error=False,
                                        tags={**process_tags(), **tags})
    if not result.success:
        failure = next((e.step_failure_data.error for e in result.all_events
                        if e.event_type_value == "STEP_FAILURE" and e.event_specific_data), None)
        return {"failed": True, "run_id": result.run_id,
                "error": failure.message.strip() if failure is not None else "the rollback run failed"}
    return result.output_for_node("rollback")


def _print_rollback(summary: dict) -> None:
    if summary.get("failed"):
        print(f"rollback run {summary['run_id']}: FAILURE: {summary['error']}")
        return
    mode = "dry run (nothing changed; --execute to carry it out)" if summary["dry_run"] else "executed"
    print(f"rollback of {summary['migration']}, scope {summary['scope']}"
          f"{' ' + (summary['wave'] or summary['scoped_run_id'] or '') if summary['scope'] != 'all' else ''}: {mode}")
    cols = ["delete", "restore", "keep", "deleted", "restored", "failed", "manual"]
    print(f"{'target':24}" + "".join(f"{c:>10}" for c in cols))
    for name, t in summary["targets"].items():
        vals = [t["planned"][c] for c in cols[:3]] + [t[c] for c in cols[3:]]
        print(f"{name:24}" + "".join(f"{v:>10}" for v in vals))
    for text, n in summary["errors"].items():
        print(f"  {n} x {text}")
    print(f"plan: {summary['plan']}" + (f"\nreport: {summary['report']}" if summary.get("report") else ""))


def _print_report(rep: dict | list[dict], html: Path | None = None) -> None:
    """The terminal summary (``reports.terminal``) of one wave report, or of the waves run (oldest first)."""
    from flit_pipelines.reports.terminal import print_summary

    reps = rep if isinstance(rep, list) else [rep]
    print_summary(reps, str(html) if html else None)
    for r in reps:  # what the table cannot show: records sent with a flag, the money identity
        for name, t in r["targets"].items():
            for f in t.get("flagged_derived_inputs") or []:
                print(f"  {name}: {f['source_id']} sent with a flag: {f['reason']}")
            if (t.get("money") or {}).get("identity"):
                print(f"  {name} money: {t['money']['identity']}")


def cmd_run(args) -> int:
    from flit_pipelines.progress_terminal import terminal_progress

    try:
        with terminal_progress(args.log_level):  # a live line per step (plain lines when not a terminal)
            ok = run_wave(args.migration, args.wave, log_level=args.log_level, tenant=args.tenant,
                          if_busy="wait" if args.wait else "refuse")
    except FlitError as exc:  # the account is busy, or the tenant is unknown: nothing started
        print(f"flit run: {exc}", file=sys.stderr)
        return 1
    try:
        _print_report(summary_reports(args.migration, args.wave, args.tenant),
                      _html_path(args.migration, args.wave, args.tenant))
    except Exception as exc:  # the report is a courtesy here; the exit code is the run's
        print(f"(report unavailable: {type(exc).__name__})")
    return 0 if ok else 1


def cmd_report(args) -> int:
    code = _check_data(args, args.wave)
    if code:
        return code
    if args.json:
        print(json.dumps(report(args.migration, args.wave, args.tenant), indent=2, default=str))
        return 0
    reps = summary_reports(args.migration, args.wave, args.tenant)
    html = (write_report_html(args.migration, args.wave, reps[-1], args.tenant) if args.html
            else _html_path(args.migration, args.wave, args.tenant))
    _print_report(reps, html)
    return 0


def cmd_rollback(args) -> int:
    if (args.scope == "wave" and not args.wave) or (args.scope == "run" and not args.run_id):
        print(f"flit rollback: --scope {args.scope} needs {'--wave' if args.scope == 'wave' else '--run-id'}",
              file=sys.stderr)
        return 2
    code = _check_data(args, args.wave if args.scope == "wave" else None)
    if code:
        return code

    try:
        summary = run_rollback(args.migration, scope=args.scope, wave=args.wave, run_id=args.run_id,
                               execute=args.execute, log_level=args.log_level, tenant=args.tenant,
                               if_busy="wait" if args.wait else "refuse")
    except FlitError as exc:
        print(f"flit rollback: {exc}", file=sys.stderr)
        return 1
    _print_rollback(summary)
    return 1 if summary.get("failed") or summary["totals"].get("failed") else 0


def cmd_spec(args) -> int:
    from flit_pipelines.spec import approval_status, load_order
    from flit_pipelines.spec.load import approve_spec_file, load_spec, spec_dir

    if args.action == "approve":
        path = spec_dir() / f"{args.migration}.yaml"
        if not approve_checks(path):  # proposals still marked `review: required` (listed)
            return 1
        at = args.at or datetime.now(UTC).replace(microsecond=0).isoformat()
        digest = approve_spec_file(path, args.by, at)
        print(f"{path.name}: approved by {args.by} at {at} (field map {digest[:12]})")
        remember(path, args.by)  # what the reviewer changed against a proposal: the mapping memory
        return 0
    for path in sorted(spec_dir().glob("*.yaml")):
        spec = load_spec(path)
        st = approval_status(spec)
        print(f"{path.name}: {len(spec.objects)} objects, {len(spec.targets)} targets; "
              f"load order {' -> '.join(load_order(spec))}; "
              f"{'approved' if st.approved else 'NOT approved: ' + '; '.join(st.reasons)}")
    return 0


def cmd_check(args) -> int:
    """``flit check <migration>``: can this migration's source and destination be reached, and are their
    settings complete? Probes every URL setting (one TCP connection, no request), then opens the reader
    and the client (Salesforce signs in). Prints one line per finding; exit 1 on any problem."""
    from flit_pipelines.assets.resources import FlitResource
    from flit_pipelines.spec.load import load_spec, spec_dir

    spec = load_spec(spec_dir() / f"{args.migration}.yaml")
    flit = FlitResource().for_tenant(args.tenant)  # the tenant's settings over the spec's variables
    ok = True
    for side, open_side in (("source", flit.source), ("destination", flit.destination)):
        try:
            for line in flit.settings(spec, side).check_reachable(command_prefix()):
                print(f"{side}: {line}")
            open_side(spec)
            print(f"{side}: settings complete")
        except FlitError as exc:  # value-free by construction: names variables, fields and hosts
            ok = False
            print(f"{side}: {exc}")
    print(f"{args.migration}: {'every connection checked' if ok else 'NOT ready (see above)'}")
    return 0 if ok else 1


def cmd_inventory(args) -> int:
    """Record counts per object and the estimated extraction time (sources that can tell, e.g. PracticeHub)."""
    from flit_pipelines.sources.registry import open_source
    from flit_pipelines.spec.load import load_spec, spec_dir

    spec = load_spec(spec_dir() / f"{args.migration}.yaml")
    source = open_source(spec)
    if not hasattr(source, "inventory"):
        raise SystemExit(f"{args.migration}: the {spec.source.kind} source has no inventory")
    from flit_pipelines.sources.practicehub_inventory import format_inventory

    rows = source.inventory(spec.objects)
    print(json.dumps(rows, indent=2, default=str) if args.json else format_inventory(rows))
    return 0


def cmd_phi(args) -> int:
    """``flit phi list|approve``: the PHI review queue (IDs, targets and pattern names; never the text)."""
    from flit_pipelines.assets.resources import FlitResource
    from flit_pipelines.reports.phi_review import held_frame, queue_frame
    from flit_pipelines.spec import load_all_specs

    code = _check_data(args, getattr(args, "wave", None))
    if code:
        return code
    spec = load_all_specs()[args.migration]
    ledger = FlitResource().for_tenant(args.tenant).ledger()  # the tenant's own ledger: its queue only
    of = f" (tenant {args.tenant})" if args.tenant != "default" else ""
    if args.action == "list":
        queue = queue_frame(ledger, spec, args.wave)
        if args.json:
            print(queue.to_json(orient="records", date_format="iso"))
            return 0
        held = int((queue["status"] == "held").sum())
        print(f"{spec.migration}{of}: {held} held for PHI review, {len(queue) - held} approved")
        for r in queue.itertuples(index=False):
            who = f"  approved by {r.approved_by} at {r.approved_at}" if r.status == "approved" else ""
            print(f"  {r.target:24} {r.source_id:40} {r.status:9} {r.patterns or ''}{who}")
        return 0
    if args.target not in spec.targets or spec.targets[args.target].phi_review is None:
        raise SystemExit(f"flit phi approve: target {args.target!r} of {spec.migration} has no phi_review")
    held = held_frame(ledger, spec)
    held = held[held["target"] == args.target]
    patterns = dict(zip(held["source_id"], held["patterns"].fillna(""), strict=True))
    if not args.all:
        unknown = [s for s in args.source_id if s not in patterns]
        if unknown:
            print(f"not held for PHI review in {args.target} (nothing approved): {', '.join(unknown)}")
            return 1
        patterns = {s: patterns[s] for s in args.source_id}
    n = ledger.approve_phi(spec.migration, args.target, patterns, args.by)
    print(f"{spec.migration}{of} {args.target}: {n} approved by {args.by} ({len(patterns) - n} already approved); "
          "the next load run sends them")
    return 0


def cmd_delta(args) -> int:
    from flit_pipelines.delta.runner import tick

    code = _check_data(args, "full")  # the delta window opens after the full wave
    if code:
        return code
    result = tick(args.migration, execute=not args.dry_run, log_level=args.log_level, tenant=args.tenant)
    if result.skip_reason:
        print(f"skipped: {result.skip_reason}")
        return 0
    changed = ", ".join(result.changed_objects or [])
    if args.dry_run:
        print(f"would run {result.partition} (changed: {changed}); nothing run, cursor unchanged")
        return 0
    print(f"ran {result.partition} (changed: {changed}): {'SUCCESS' if result.success else 'FAILURE'} "
          f"run {result.run_id}")
    return 0 if result.success else 1


def cmd_campaign(args) -> int:
    """``flit campaign status``: per migration and tenant, wave states, records moved, checks, delta window."""
    from flit_pipelines.reports.campaign import campaign_rows, format_campaign
    from flit_pipelines.spec import load_all_specs

    specs = load_all_specs()
    rows = campaign_rows([specs[m] for m in sorted(specs) if not args.migration or m == args.migration],
                         default_data_dir())
    print(json.dumps(rows, indent=2) if args.json else format_campaign(rows))
    return 1 if any(r["checks_failed"] or "FAILED" in r["waves"].values() for r in rows) else 0


def main(argv: list[str] | None = None) -> int:
    """``flit`` entry point; returns the process exit code (0 ok, 1 a failed run, 2 bad usage)."""
    p = argparse.ArgumentParser(prog="flit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="execute one wave of a migration through Dagster")
    r.add_argument("migration")
    r.add_argument("--wave", required=True, help="sample | full | delta-<start>")
    r.add_argument("--log-level", default="INFO", help="Dagster console log level (DEBUG shows every event)")
    r.add_argument("--tenant", default="default", help=TENANT_HELP)
    r.add_argument("--wait", action="store_true",
                   help="when another run holds the tenant's account, wait for it (default: refuse, exit 1)")
    r.set_defaults(fn=cmd_run)

    rp = sub.add_parser("report", help="print the migration report of a wave")
    rp.add_argument("migration")
    rp.add_argument("--wave", default="full")
    rp.add_argument("--json", action="store_true")
    rp.add_argument("--html", action="store_true", help="(re)write the wave's HTML report and print its path")
    rp.add_argument("--demo", action="store_true", help=DEMO_HELP)
    rp.add_argument("--tenant", default="default", help=TENANT_HELP)
    rp.set_defaults(fn=cmd_report)

    rb = sub.add_parser("rollback", help="plan (and with --execute carry out) a migration's rollback")
    rb.add_argument("migration")
    rb.add_argument("--scope", choices=["all", "wave", "run"], default="all")
    rb.add_argument("--wave", default=None, help="with --scope wave: sample | full | delta-<start>")
    rb.add_argument("--run-id", default=None, help="with --scope run: the Dagster run ID of a migration run")
    rb.add_argument("--execute", action="store_true", help="carry the plan out (default: dry run, plan only)")
    rb.add_argument("--log-level", default="WARNING", help="Dagster console log level")
    rb.add_argument("--demo", action="store_true", help=DEMO_HELP)
    rb.add_argument("--tenant", default="default", help=TENANT_HELP)
    rb.add_argument("--wait", action="store_true", help="with --execute: wait for a run holding the account")
    rb.set_defaults(fn=cmd_rollback)

    dl = sub.add_parser("delta", help="one delta-pickup tick: look at the source, run a delta wave if it changed")
    dl.add_argument("migration")
    dl.add_argument("--dry-run", action="store_true", help="look only: report what changed, run nothing")
    dl.add_argument("--log-level", default="WARNING", help="Dagster console log level")
    dl.add_argument("--demo", action="store_true", help=DEMO_HELP)
    dl.add_argument("--tenant", default="default", help=TENANT_HELP)
    dl.set_defaults(fn=cmd_delta)

    cp = sub.add_parser("campaign", help="every migration's tenants at a glance")
    cps = cp.add_subparsers(dest="action", required=True)
    cst = cps.add_parser("status", help="per migration and tenant: waves, records moved, checks, delta window")
    cst.add_argument("migration", nargs="?", default=None, help="only this migration")
    cst.add_argument("--json", action="store_true")
    cst.add_argument("--demo", action="store_true", help=DEMO_HELP)
    cst.set_defaults(fn=cmd_campaign)

    chk = sub.add_parser("check", help="can the migration's source and destination be reached; are settings complete")
    chk.add_argument("migration")
    chk.add_argument("--tenant", default="default", help=TENANT_HELP)
    chk.set_defaults(fn=cmd_check)

    inv = sub.add_parser("inventory", help="source record counts and estimated extraction time")
    inv.add_argument("migration")
    inv.add_argument("--json", action="store_true")
    inv.set_defaults(fn=cmd_inventory)

    sp = sub.add_parser("spec", help="mapping specs")
    sps = sp.add_subparsers(dest="action", required=True)
    ap = sps.add_parser("approve", help="record a person's approval of a field map")
    ap.add_argument("migration")
    ap.add_argument("--by", required=True, help="name of the person who reviewed the field map")
    ap.add_argument("--at", default=None, help="ISO timestamp (default: now)")
    ap.set_defaults(fn=cmd_spec)
    ck = sps.add_parser("check", help="validate every spec")
    ck.set_defaults(fn=cmd_spec)

    ph = sub.add_parser("phi", help="the PHI review queue: list held records, approve them")
    phs = ph.add_subparsers(dest="action", required=True)
    pl = phs.add_parser("list", help="records held for PHI review and approvals (IDs and pattern names only)")
    pl.add_argument("migration")
    pl.add_argument("--wave", default=None, help="only what this wave's load held (default: every wave)")
    pl.add_argument("--json", action="store_true")
    pl.add_argument("--demo", action="store_true", help=DEMO_HELP)
    pl.add_argument("--tenant", default="default", help=TENANT_HELP)
    pl.set_defaults(fn=cmd_phi)
    pa_ = phs.add_parser("approve", help="approve held records; the next load run sends them")
    pa_.add_argument("migration")
    pa_.add_argument("target")
    which = pa_.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every record of the target held now")
    which.add_argument("--source-id", nargs="+", default=[], help="these held source IDs")
    pa_.add_argument("--by", required=True, help="name of the person who reviewed the records")
    pa_.add_argument("--demo", action="store_true", help=DEMO_HELP)
    pa_.add_argument("--tenant", default="default", help=TENANT_HELP)
    pa_.set_defaults(fn=cmd_phi)

    add_propose_parser(sub)

    for plugin in entry_points(group=CLI_PLUGINS):  # e.g. flit_sandboxes: `flit sandbox ...`, `flit demo`
        plugin.load()(sub)

    args = p.parse_args(argv)
    if getattr(args, "demo", False):
        from flit_pipelines.data_dirs import DEMO_DATA_DIR, demo_command, use_demo_data

        if use_demo_data() is None:
            print(f"The demo has not run ({DEMO_DATA_DIR} does not exist): run `{demo_command()}` first.",
                  file=sys.stderr)
            return 1
    return int(args.fn(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
