"""The demo: the bundled Synthea sample migrated end to end into a local Pipedrive sandbox.

It sets the environment the spec names itself (CLINIC_EXPORT_DIR, PIPEDRIVE_API_BASE,
PIPEDRIVE_API_TOKEN, FLIT_DATA_DIR, DAGSTER_HOME), starts the sandbox as a child process, runs the
full wave through Dagster, prints the report, and stops the sandbox. The committed spec stays
unapproved until a person approves it; the demo approves a private copy under data/demo/specs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from flit_pipelines.spec.load import SPEC_DIR, approve_spec_file

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MIGRATION = "clinic_to_pipedrive"
DEMO_TOKEN = "demo-token"


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    """Block until 127.0.0.1:``port`` accepts. Raises TimeoutError, or RuntimeError if ``proc`` exited."""
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
def sandbox_process(state: Path, port: int, token: str = DEMO_TOKEN, *extra: str):
    """Run ``flit sandbox serve pipedrive`` as a child process; yields its base URL.

    Its output goes to ``<state>.log`` (a pipe nobody reads would fill and stall the server).
    """
    cmd = [sys.executable, "-m", "flit_pipelines.cli", "sandbox", "serve", "pipedrive", "--port", str(port),
           "--state", str(state), "--token", token, *extra]
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


def prepare_demo_env(data_dir: Path, *, export_dir: str = "package:sample_data/synthea_csv_sample") -> Path:
    """Approved spec copy + environment variables. Returns the spec directory."""
    specs = data_dir / "specs"
    specs.mkdir(parents=True, exist_ok=True)
    shutil.copy(SPEC_DIR / f"{MIGRATION}.yaml", specs / f"{MIGRATION}.yaml")
    approve_spec_file(specs / f"{MIGRATION}.yaml", "flit demo (automatic approval of a private copy)",
                      "2026-11-21T00:00:00+00:00")
    os.environ.update({
        "FLIT_SPEC_DIR": str(specs),
        "FLIT_DATA_DIR": str(data_dir),
        "CLINIC_EXPORT_DIR": export_dir,
        "PIPEDRIVE_API_TOKEN": DEMO_TOKEN,
    })
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    return specs


def run_demo(*, keep: bool = False, port: int = 0) -> int:
    """The demo end to end; returns the exit code (0 when every step and check passed)."""
    from flit_pipelines.cli import _print_report, report, run_wave

    data_dir = PROJECT_ROOT / "data" / "demo"
    if data_dir.exists() and not keep:
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    prepare_demo_env(data_dir)
    port = port or free_port()
    started = time.monotonic()
    with sandbox_process(data_dir / "pipedrive_sandbox.db", port) as base_url:
        os.environ["PIPEDRIVE_API_BASE"] = base_url
        print(f"Pipedrive sandbox on {base_url}; data in {data_dir}; Dagster instance {os.environ['DAGSTER_HOME']}")
        ok = run_wave(MIGRATION, "full", log_level="WARNING")
        rep = report(MIGRATION, "full")
    _print_report(rep)
    print(f"report: {data_dir / 'reports' / MIGRATION / 'full' / 'migration_report.json'}")
    print(f"demo finished in {time.monotonic() - started:.1f} s: {'all checks passed' if ok and rep['all_checks_passed'] else 'FAILED'}")
    return 0 if ok and rep["all_checks_passed"] else 1
