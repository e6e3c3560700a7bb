"""The demo: every migration in ``mapping_specs/`` run end to end into local sandboxes.

* ``clinic_to_pipedrive``: the bundled Synthea sample -> the Pipedrive sandbox;
* ``dentrix_to_highlevel``: a deterministic Dentrix-shaped demo practice (SQLite file, read as schema
  ``admin`` through ``DENTRIX_DB_URL``) -> a HighLevel sandbox location;
* ``henry_schein_one_to_highlevel``: the same practice served by the Dentrix Ascend API sandbox ->
  a second HighLevel sandbox location;
* ``practicehub_to_salesforce``: a PracticeHub sandbox seeded with a demo practice -> the Salesforce
  sandbox (practitioners' e-mails seeded as Salesforce Users, but one, to show the fallback owner);
* ``fhir_clinic_to_pipedrive``: the bundled FHIR Bulk export (13 Synthea patients) served by the FHIR
  sandbox, read with SMART Backend Services (a fresh RS384 key registered as the sandbox's client)
  -> its own Pipedrive sandbox (practitioners' e-mails as users, but the last; a 5x burst limit).

The migrations run at once, one worker process each (``demo_worker``; ``demo_parallel`` shows their
progress as it comes and prints their summaries in a fixed order at the end). The parent writes what
they share first (``prepare_shared``: approved spec copies, the demo practice, the Dagster instance's
and the ledger's tables); they share the Dagster instance in ``DAGSTER_HOME`` and the ledger (SQLite
in WAL mode, so `flit ... --demo` and the Dagster UI see every migration), each with its own sandboxes,
accounts and folders. A worker sets the environment its spec names, starts its sandboxes as child
processes (logging to a file beside their state), runs the sample wave through Dagster, approves its
PHI review queue as "demo reviewer", runs the full wave, prints the report, lets the delta-pickup
sensor take one look at the source (``flit delta``) and stops its sandboxes. Beside the clinic
migration a worker shows the map proposing itself (``clinic_to_pipedrive_v2``, into a Pipedrive
sandbox of its own): an export of another layout is proposed (``flit propose --like``), its Data
Availability Report printed, the proposal approved as "demo reviewer" and migrated. The committed
specs stay unapproved until a person approves them; the demo approves private copies under
``data/demo/specs``. The HighLevel sandboxes run with a 10x burst limit
so the demo takes about a minute; ``benchmarks/load_highlevel_contacts.py`` measures the real
100-per-10-seconds limit.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from flit_pipelines.assets.resources import FlitResource
from flit_pipelines.cli import _print_report, run_wave, summary_reports
from flit_pipelines.data_dirs import DEMO_DATA_DIR
from flit_pipelines.reports.html_report import HTML_NAME
from flit_pipelines.runtime import PROJECT_ROOT, command_prefix, ensure_dagster_home
from flit_pipelines.delta.runner import tick
from flit_pipelines.reports.phi_review import held_frame
from flit_pipelines.spec import load_all_specs
from flit_pipelines.spec.load import SPEC_DIR, approve_spec_file
from flit_sandboxes.demo_parallel import run_workers, say
from flit_sandboxes.dentrix_practice import build_practice
from flit_sandboxes.practicehub import build_practicehub
MIGRATIONS = ("clinic_to_pipedrive", "dentrix_to_highlevel", "henry_schein_one_to_highlevel",
              "practicehub_to_salesforce", "fhir_clinic_to_pipedrive")
DEMO_TOKEN = "demo-token"
DEMO_AGENCY_TOKEN = "demo-agency-token"
DEMO_PATIENTS = 120
ASCEND_CLIENT = ("demo-client", "demo-secret", "demo-org")
SALESFORCE_CLIENT = ("demo-sf-client", "demo-sf-secret")
PRACTICEHUB_PATIENTS = 40
# PracticeHub allows 1 request/s; the demo's sandbox and reader run at 20/s so the demo takes a minute
# (the resumable-extraction tests use the real limit).
PRACTICEHUB_DEMO_RATE = 20.0
LIFECYCLE_PIPELINE = {"name": "Patient Lifecycle", "stages": ["New Patient", "Active", "Recall", "Inactive"]}
ADMIN_EMAIL = "admin@sandbox.example"
DENTAL = ("dentrix_to_highlevel", "henry_schein_one_to_highlevel")
PROPOSED = "clinic_to_pipedrive_v2"  # the map proposing itself (propose_drifted_clinic)
DEMO_REVIEWER = "demo reviewer"  # approves the PHI review queue between the sample and the full wave


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 180.0, proc: subprocess.Popen | None = None) -> None:
    """Block until 127.0.0.1:``port`` accepts. Raises TimeoutError, or RuntimeError if ``proc`` exited.

    The timeout is generous: a sandbox that is still starting (it loads its vendor's OpenAPI documents)
    on a machine busy with other work is slow, not broken; one that crashed is seen at once (``proc``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"sandbox exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"sandbox did not accept connections on port {port} within {timeout} s")


@contextmanager
def sandbox_process(system: str, state: Path, port: int, *extra: str) -> Iterator[str]:
    """Run ``flit sandbox serve <system> --port P --state S <extra>`` as a child process; yields its URL.

    Its output goes to ``<state>.log`` (a pipe nobody reads would fill and stall the server).
    """
    cmd = [sys.executable, "-m", "flit_sandboxes.cli", "sandbox", "serve", system, "--port", str(port),
           "--state", str(state), *extra]
    log = open(state.with_suffix(".log"), "ab")  # noqa: SIM115 - closed below, after the process
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def approve_copies(data_dir: Path, migrations: tuple[str, ...] = MIGRATIONS) -> Path:
    """Copy the specs to ``<data>/specs``, approve the copies, point FLIT_SPEC_DIR there."""
    specs = data_dir / "specs"
    specs.mkdir(parents=True, exist_ok=True)
    for m in migrations:
        shutil.copy(SPEC_DIR / f"{m}.yaml", specs / f"{m}.yaml")
        approve_spec_file(specs / f"{m}.yaml", "flit demo (automatic approval of a private copy)",
                          "2026-11-21T00:00:00+00:00")
    os.environ["FLIT_SPEC_DIR"] = str(specs)
    return specs


def prepare_demo_env(data_dir: Path, *, export_dir: str = "package:sample_data/synthea_csv_sample") -> Path:
    """Approved spec copies + the clinic migration's variables. Returns the spec directory."""
    specs = approve_copies(data_dir)
    os.environ.update({"FLIT_DATA_DIR": str(data_dir), "CLINIC_EXPORT_DIR": export_dir,
                       "PIPEDRIVE_API_TOKEN": DEMO_TOKEN})
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    return specs


def build_demo_practice(folder: Path, patients: int = DEMO_PATIENTS, seed: int = 7) -> tuple[Path, Path]:
    """The demo practice (SQLite) and its Document Center files; returns (database, documents dir)."""
    folder.mkdir(parents=True, exist_ok=True)
    db, docs = folder / "practice.db", folder / "DocCenter"
    build_practice(db, patients=patients, seed=seed, documents_dir=docs)
    return db, docs


def highlevel_users(practice_db: Path) -> list[dict]:
    """HighLevel users of the demo location: the admin plus every provider but the last (so the report
    shows one unmatched provider getting the fallback owner)."""
    with sqlite3.connect(practice_db) as con:
        rows = con.execute("SELECT first_name, last_name, email FROM v_provider ORDER BY provider_id").fetchall()
    users = [{"email": ADMIN_EMAIL, "firstName": "Practice", "lastName": "Admin", "role": "admin"}]
    users += [{"email": e, "firstName": f, "lastName": last, "role": "user"} for f, last, e in rows[:-1] if e]
    return users


def salesforce_users(practicehub_state: Path) -> list[dict]:
    """Salesforce Users of the demo org: the admin plus every practitioner but the last."""
    with sqlite3.connect(practicehub_state) as con:
        rows = con.execute("SELECT first_name, last_name, email FROM practitioners ORDER BY id").fetchall()
    users = [{"Email": ADMIN_EMAIL, "FirstName": "Practice", "LastName": "Admin", "IsActive": True}]
    return users + [{"Email": e, "FirstName": f, "LastName": last, "IsActive": True} for f, last, e in rows[:-1] if e]


def _run_practicehub(stack: ExitStack, data_dir: Path) -> tuple[bool, dict]:
    """PracticeHub sandbox (demo practice) -> Salesforce sandbox; the spec copy reads at the demo rate."""
    state = data_dir / "practicehub_sandbox.db"
    if not state.exists():  # --keep reuses the practice already seeded
        build_practicehub(state, patients=PRACTICEHUB_PATIENTS, seed=7)
    users = data_dir / "salesforce_users.json"
    users.write_text(json.dumps(salesforce_users(state)))
    ph = stack.enter_context(sandbox_process(
        "practicehub", state, free_port(), "--token", DEMO_TOKEN, "--rate-per-second", str(PRACTICEHUB_DEMO_RATE + 5)))
    client_id, secret = SALESFORCE_CLIENT
    sf = stack.enter_context(sandbox_process(
        "salesforce", data_dir / "salesforce_sandbox.db", free_port(), "--client-id", client_id,
        "--client-secret", secret, "--users-file", str(users)))
    say(f"PracticeHub sandbox on {ph} ({PRACTICEHUB_PATIENTS} patients), Salesforce sandbox on {sf}")
    return _run("practicehub_to_salesforce", {
        "PRACTICEHUB_API_BASE": f"{ph}/api", "PRACTICEHUB_API_KEY": DEMO_TOKEN, "SALESFORCE_INSTANCE_URL": sf,
        "SALESFORCE_CLIENT_ID": client_id, "SALESFORCE_CLIENT_SECRET": secret})


def propose_drifted_clinic(data_dir: Path, pipedrive_url: str) -> tuple[bool, dict]:
    """The map proposes itself: another clinic export layout (renamed headers, the birth date split
    into parts, extra columns; built with the synthetic builder) is proposed like clinic_to_pipedrive,
    the Data Availability Report printed, the proposal approved as the demo reviewer and migrated
    (into the Pipedrive sandbox at ``pipedrive_url``)."""
    import re

    from flit_pipelines.cli import main as flit
    from flit_sandboxes.clinic_drift import drifted_export
    from flit_sandboxes.clinic_export import build_clinic_export

    plain, drifted = data_dir / "clinic_v2_source", data_dir / "clinic_v2_export"
    shutil.rmtree(plain, ignore_errors=True)
    shutil.rmtree(drifted, ignore_errors=True)
    build_clinic_export(plain, patients=40, seed=21)
    drifted_export(plain, drifted)
    migration = "clinic_to_pipedrive_v2"
    say(f"a clinic export of another layout in {drifted}; proposing the map like clinic_to_pipedrive")
    if flit(["propose", migration, "--destination", "pipedrive", "--csv", str(drifted), "--like",
             "clinic_to_pipedrive", "--force"]) != 0:
        return False, {}
    spec = Path(os.environ["FLIT_SPEC_DIR"]) / f"{migration}.yaml"
    say(f"Data Availability Report: {data_dir / 'reports' / migration / 'proposal' / 'data_availability.html'}")
    # the demo reviewer accepts each proposal marked for review (a person reads them in the draft)
    spec.write_text(re.sub(r"review: required( \| )?", "", spec.read_text()))
    if flit(["spec", "approve", migration, "--by", DEMO_REVIEWER]) != 0:
        return False, {}
    return _run(migration, {"PIPEDRIVE_API_BASE": pipedrive_url, "CLINIC_EXPORT_DIR": str(drifted)}, delta=False)


FHIR_CLIENT_ID = "flit-demo-backend"
FHIR_SAMPLE = "package:sample_data/fhir_bulk_sample"


def start_fhir_sandboxes(stack: ExitStack, *, key_dir: Path, users_file: Path, fhir_state: Path,
                         pipedrive_state: Path) -> tuple[str, str, Path]:
    """The FHIR sandbox serving the bundled Bulk export to a fresh SMART client (an RS384 key in
    ``key_dir``) and a Pipedrive sandbox whose users are the practitioners' e-mails but the last (a 5x
    burst limit). Returns (FHIR base URL without ``/fhir``, Pipedrive URL, the client's private key)."""
    from flit_pipelines.sources.csv_export import resolve_directory
    from flit_sandboxes.fhir.keys import new_client_key, write_jwks

    sample = resolve_directory(FHIR_SAMPLE)
    key, jwks = new_client_key(key_dir)
    jwks_file = write_jwks(key_dir / "jwks.json", jwks)
    practitioners = [json.loads(line) for line in (sample / "Practitioner.000.ndjson").read_text().splitlines()]
    emails = [t["value"] for p in practitioners for t in p.get("telecom", []) if t.get("system") == "email"]
    users_file.write_text(json.dumps([{"id": 1, "name": "Sandbox Admin", "email": ADMIN_EMAIL, "active_flag": True}] + [
        {"id": i, "name": e.split("@")[0], "email": e, "active_flag": True} for i, e in enumerate(emails[:-1], 2)]))
    fhir = stack.enter_context(sandbox_process(
        "fhir", fhir_state, free_port(), "--data", str(sample), "--client-id", FHIR_CLIENT_ID,
        "--jwks", str(jwks_file), "--export-delay", "1"))
    pd = stack.enter_context(sandbox_process(
        "pipedrive", pipedrive_state, free_port(), "--token", DEMO_TOKEN,
        "--users-file", str(users_file), "--burst-limit", "200"))  # 5x: ~2,500 records load in about a minute
    return fhir, pd, key


def _run_fhir(stack: ExitStack, data_dir: Path) -> tuple[bool, dict]:
    """FHIR sandbox (the bundled Bulk export, SMART Backend Services) -> a Pipedrive sandbox of its own."""
    fhir, pd, key = start_fhir_sandboxes(stack, key_dir=data_dir / "fhir_client",
                                         users_file=data_dir / "pipedrive_fhir_users.json",
                                         fhir_state=data_dir / "fhir_sandbox.db",
                                         pipedrive_state=data_dir / "pipedrive_fhir_sandbox.db")
    say(f"FHIR sandbox on {fhir}/fhir (bundled Bulk export, SMART client {FHIR_CLIENT_ID}), Pipedrive sandbox on {pd}")
    return _run("fhir_clinic_to_pipedrive", {"FHIR_BASE_URL": f"{fhir}/fhir", "FHIR_CLIENT_ID": FHIR_CLIENT_ID,
                                             "FHIR_PRIVATE_KEY_PATH": str(key), "PIPEDRIVE_API_BASE": pd})


def review_phi_queue(migration: str, reviewer: str = DEMO_REVIEWER) -> int:
    """The reviewer's step between the sample and the full wave: print the PHI review queue (counts and
    pattern names per target) and approve every held record as ``reviewer``. Returns how many."""
    spec = load_all_specs()[migration]
    ledger = FlitResource().ledger()
    held = held_frame(ledger, spec)
    say(f"PHI review queue after the sample wave: {len(held)} held"
        + (f"; approved by {reviewer!r} ({command_prefix()} phi approve {migration} <target> --all --by ...)"
           if len(held) else ""))
    for target, rows in held.groupby("target"):
        kinds = ", ".join(f"{p} x{n}" for p, n in rows["patterns"].value_counts().items())
        say(f"  {target}: {len(rows)} held ({kinds})")
        ledger.approve_phi(migration, str(target), dict(zip(rows["source_id"], rows["patterns"], strict=True)),
                           reviewer)
    return len(held)


def _run(migration: str, env: dict[str, str], *, delta: bool = True) -> tuple[bool, dict]:
    os.environ.update(env)
    started = time.monotonic()
    # as a practice would: the sample wave, the PHI review queue approved, then the full wave
    say("sample wave started")
    ok = run_wave(migration, "sample", log_level="WARNING")
    say(f"sample wave: {'SUCCESS' if ok else 'FAILED'} after {time.monotonic() - started:.0f} s")
    review_phi_queue(migration)
    full = run_wave(migration, "full", log_level="WARNING")
    say(f"full wave: {'SUCCESS' if full else 'FAILED'} after {time.monotonic() - started:.0f} s")
    ok = full and ok
    reports = summary_reports(migration, "full")  # the sample wave's creates beside the full wave's counts
    rep = reports[-1]
    _print_report(reports, html_report(migration))
    if delta:  # the delta-pickup window is open now: one sensor tick (what the Dagster daemon does every poll)
        looked = tick(migration)
        say("delta pickup tick: " + (f"skipped ({looked.skip_reason})" if looked.skip_reason else
            f"ran {looked.partition} over {len(looked.changed_objects or [])} objects: "
            f"{'SUCCESS' if looked.success else 'FAILURE'}"))
        ok = ok and looked.success is not False
    print(f"{migration}: {time.monotonic() - started:.1f} s, "
          f"{'all checks passed' if ok and rep['all_checks_passed'] else 'FAILED'}\n")
    return ok and rep["all_checks_passed"], rep


def html_report(migration: str, wave: str = "full") -> Path:
    """Path of a migration's HTML report in the demo's data (written by the wave's report asset)."""
    return DEMO_DATA_DIR / "reports" / migration / wave / HTML_NAME


def _create_stores() -> None:
    """Create the Dagster instance's SQLite storage and the ledger's tables once, before the workers
    start, so they never race to create the same schema."""
    ensure_dagster_home()
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
    FlitResource().ledger()


def read_practicehub_at_demo_rate(specs: Path) -> None:
    """Make the approved PracticeHub spec copy in ``specs`` read at ``PRACTICEHUB_DEMO_RATE`` (and approve it
    again: the approval covers the file's content)."""
    spec = specs / "practicehub_to_salesforce.yaml"
    text = spec.read_text().replace("requests_per_second: 0.9", f"requests_per_second: {PRACTICEHUB_DEMO_RATE}")
    spec.write_text(text)
    approve_spec_file(spec, "flit demo (automatic approval of a private copy)", "2026-11-21T00:00:00+00:00")


def prepare_shared(data_dir: Path, only: tuple[str, ...]) -> None:
    """What the workers share, written once before they start: approved spec copies (the PracticeHub
    copy reading at the demo rate) and, for the dental migrations, the demo practice with its users and
    pipelines files."""
    prepare_demo_env(data_dir)
    _create_stores()
    if "practicehub_to_salesforce" in only:
        read_practicehub_at_demo_rate(data_dir / "specs")
    if any(m in only for m in DENTAL):
        db, docs = build_demo_practice(data_dir / "practice")
        (data_dir / "highlevel_users.json").write_text(json.dumps(highlevel_users(db)))
        (data_dir / "highlevel_pipelines.json").write_text(json.dumps([LIFECYCLE_PIPELINE]))
        print(f"demo practice: {db} ({DEMO_PATIENTS} patients); its Document Center files in {docs} "
              "(the Ascend sandbox serves them; Dentrix G documents are flagged for manual re-upload)")


def _run_dental(stack: ExitStack, data_dir: Path, m: str) -> tuple[bool, dict]:
    """The demo practice (Dentrix database, or the Ascend sandbox serving it) -> a HighLevel location."""
    db = data_dir / "practice" / "practice.db"
    users, pipelines = data_dir / "highlevel_users.json", data_dir / "highlevel_pipelines.json"
    location = f"loc_{m.split('_to_')[0]}"
    hl = stack.enter_context(sandbox_process(
        "highlevel", data_dir / f"highlevel_{location}.db", free_port(), "--token", DEMO_TOKEN,
        "--location-id", location, "--users-file", str(users), "--pipelines-file", str(pipelines),
        "--agency-token", DEMO_AGENCY_TOKEN, "--burst-limit", "1000"))
    env = {"HIGHLEVEL_API_BASE": hl, "HIGHLEVEL_TOKEN": DEMO_TOKEN, "HIGHLEVEL_LOCATION_ID": location,
           "HIGHLEVEL_AGENCY_TOKEN": DEMO_AGENCY_TOKEN}
    if m == "dentrix_to_highlevel":
        env["DENTRIX_DB_URL"] = f"sqlite:///{db}"
    else:
        client_id, secret, org = ASCEND_CLIENT
        api = stack.enter_context(sandbox_process(
            "dentrix-ascend", data_dir / "ascend_sandbox.db", free_port(), "--practice", str(db),
            "--client-id", client_id, "--client-secret", secret, "--organization-id", org))
        env.update({"ASCEND_API_BASE": f"{api}/ascend-gateway/api",
                    "ASCEND_TOKEN_URL": f"{api}/oauth/client_credential/accesstoken",
                    "ASCEND_CLIENT_ID": client_id, "ASCEND_CLIENT_SECRET": secret,
                    "ASCEND_ORGANIZATION_ID": org})
    say(f"HighLevel sandbox location {location} on {hl}")
    return _run(m, env)


def run_one(migration: str, *, port: int = 0) -> bool:
    """One migration end to end, with its own sandboxes (a worker's job; the data directory, spec copies
    and shared inputs are the parent's, see ``prepare_shared``). ``clinic_to_pipedrive_v2`` is the map
    proposing itself (``propose_drifted_clinic``). Returns True when every step and check passed.

    The worker reads its spec from a folder of its own holding only the specs it needs: every command
    loads and validates every spec of its folder (seconds each on a busy machine), and the proposal is
    drafted, edited and approved there while other workers read theirs. An approved proposal joins
    ``specs/`` afterwards in one rename, so ``flit ... --demo`` finds it."""
    data_dir = Path(os.environ.get("FLIT_DATA_DIR") or DEMO_DATA_DIR)
    shared = Path(os.environ.get("FLIT_SPEC_DIR") or data_dir / "specs")
    own = data_dir / "worker_specs" / migration
    own.mkdir(parents=True, exist_ok=True)
    for name in ("clinic_to_pipedrive",) if migration == PROPOSED else (migration,):
        shutil.copy(shared / f"{name}.yaml", own / f"{name}.yaml")
    os.environ["FLIT_SPEC_DIR"] = str(own)
    with ExitStack() as stack:
        if migration in ("clinic_to_pipedrive", PROPOSED):
            state = "pipedrive_sandbox.db" if migration == "clinic_to_pipedrive" else "pipedrive_v2_sandbox.db"
            url = stack.enter_context(sandbox_process(
                "pipedrive", data_dir / state, port or free_port(), "--token", DEMO_TOKEN))
            say(f"Pipedrive sandbox on {url}; data in {data_dir}; Dagster instance {os.environ['DAGSTER_HOME']}")
            if migration == "clinic_to_pipedrive":
                ok, _ = _run(migration, {"PIPEDRIVE_API_BASE": url})
            else:
                ok, _ = propose_drifted_clinic(data_dir, url)
                if (own / f"{PROPOSED}.yaml").exists():
                    tmp = shared / f".{PROPOSED}.yaml.tmp"  # not *.yaml: no reader sees it half written
                    shutil.copy(own / f"{PROPOSED}.yaml", tmp)
                    os.replace(tmp, shared / f"{PROPOSED}.yaml")
        elif migration == "practicehub_to_salesforce":
            ok, _ = _run_practicehub(stack, data_dir)
        elif migration == "fhir_clinic_to_pipedrive":
            ok, _ = _run_fhir(stack, data_dir)
        elif migration in DENTAL:
            ok, _ = _run_dental(stack, data_dir, migration)
        else:
            raise SystemExit(f"flit demo: no demo for {migration!r}")
    return ok


# imported once by the workers' forkserver (~3.5 CPU s per worker otherwise; demo_forkserver)
WORKER_PRELOAD = ("dagster", "pandas", "flit_pipelines.definitions", "flit_sandboxes.demo")


def worker_command(port: int) -> Callable[[str], list[str]]:
    """``python -m flit_sandboxes.demo_worker <migration>`` (the clinic migration gets ``--port``)."""
    def command(migration: str) -> list[str]:
        extra = ["--port", str(port)] if port and migration == "clinic_to_pipedrive" else []
        return [sys.executable, "-m", "flit_sandboxes.demo_worker", migration, *extra]
    return command


def run_demo(*, keep: bool = False, port: int = 0, only: tuple[str, ...] = MIGRATIONS) -> int:
    """Every migration in ``only`` end to end, concurrently (one worker process each, see
    ``demo_parallel``); returns the exit code (0 when every step and check passed). The clinic
    migration brings the map proposing itself (``clinic_to_pipedrive_v2``) as a worker of its own."""
    data_dir = DEMO_DATA_DIR
    if data_dir.exists() and not keep:
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    prepare_shared(data_dir, only)
    runs = [m for m in MIGRATIONS if m in only]
    if "clinic_to_pipedrive" in runs:
        runs.insert(runs.index("clinic_to_pipedrive") + 1, PROPOSED)
    # the workers' tables are printed here afterwards: the same width as this terminal's
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": str(shutil.get_terminal_size((120, 24)).columns)}
    print(f"running {len(runs)} migrations at once: {', '.join(runs)}; data in {data_dir}; Dagster instance "
          f"{os.environ['DAGSTER_HOME']}")
    workers = run_workers(runs, worker_command(port), env, preload=WORKER_PRELOAD)
    for w in workers:  # each migration's summary, in a fixed order
        print(f"\n=== {w.migration} ({w.seconds:.0f} s) ===")
        print("\n".join(w.output))
    ok = all(w.ok for w in workers)
    print()
    for w in workers:
        print(f"  {w.migration}: {'all checks passed' if w.ok else 'FAILED'} in {w.seconds:.0f} s; "
              f"HTML report: {html_report(w.migration)}")
    print(f"demo finished in {time.monotonic() - started:.1f} s: {'all checks passed' if ok else 'FAILED'}")
    print(f"open an HTML report in a browser; the summary again: `{command_prefix()} report <migration> --demo`")
    return 0 if ok else 1
