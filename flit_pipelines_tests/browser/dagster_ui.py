"""A Dagster webserver and daemon on a throw-away instance, and the Chromium that Playwright drives.

The instance is the project's own (``dagster_home/dagster.yaml`` copied into a temporary DAGSTER_HOME):
its queued run coordinator needs the daemon to start the runs the launchpad queues, as under ``dg dev``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # workspace.yaml, dagster_home/
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright downloads no browser


def chromium_executable() -> str:
    """Path of Debian's Chromium for ``chromium.launch(executable_path=...)``.

    Fails the test (no skip: the browser test is part of every run) when the binary is missing.
    """
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run ./scripts/dev (its set-up installs Debian's "
                    "chromium with apt-get), or `apt-get install chromium` as root", pytrace=False)
    return str(CHROMIUM)


def instance_home(folder: Path) -> Path:
    """A DAGSTER_HOME under ``folder`` holding a copy of the project's instance configuration, with
    Dagster's first-visit "Join the Dagster community" dialog off (it opens over whatever page is first
    shown, closing the menu a click just opened)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = (PROJECT_ROOT / "dagster_home" / "dagster.yaml").read_text()
    (folder / "dagster.yaml").write_text(config + "\nnux:\n  enabled: false\n")
    return folder


def _bin(name: str) -> str:
    """A console script of the interpreter running the tests (the project's virtual environment)."""
    return str(Path(sys.executable).with_name(name))


def _stop(procs: list[subprocess.Popen]) -> None:
    """Terminate every process at once (each shuts down in seconds; in turn they would add up), then
    kill whichever has not exited after 30 s."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def wait_for_webserver(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    """Block until ``<url>/server_info`` answers 200 (definitions loaded and served).

    Raises:
        RuntimeError: the webserver exited first (its log is ``log``).
        TimeoutError: no answer within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited with code {proc.returncode}; log: {log}")
        try:
            if requests.get(f"{url}/server_info", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"dagster-webserver did not answer on {url} within {timeout:.0f} s; log: {log}")


@contextmanager
def dagster_ui(env: dict[str, str], port: int, logs: Path) -> Iterator[str]:
    """``dagster-webserver -w workspace.yaml`` on 127.0.0.1:``port`` and ``dagster-daemon run`` with
    ``env`` (DAGSTER_HOME and the migration's variables), both from the project root; yields the UI's
    base URL once it answers.

    Logs go to ``logs/webserver.log`` and ``logs/daemon.log``. Both processes stop on exit.
    Raises as ``wait_for_webserver``.
    """
    logs.mkdir(parents=True, exist_ok=True)
    web_log = logs / "webserver.log"
    procs: list[subprocess.Popen] = []

    def start(cmd: list[str], log: Path) -> subprocess.Popen:
        with open(log, "ab") as out:  # the child keeps its own descriptor
            procs.append(subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
        return procs[-1]

    try:
        web = start([_bin("dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)], web_log)
        url = f"http://127.0.0.1:{port}"
        wait_for_webserver(url, web, web_log)
        # the daemon second: each loads the definitions, and on a busy machine the first page comes sooner
        # when they do not compete; the daemon is needed only once a run is queued
        start([_bin("dagster-daemon"), "run", "-w", "workspace.yaml"], logs / "daemon.log")
        yield url
    finally:
        _stop(procs)
