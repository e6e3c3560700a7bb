"""RabbitMQ and Celery workers for the tests and benchmarks of the Celery executor.

- ``ensure_rabbitmq()``: RabbitMQ on 127.0.0.1:5672, started with ``rabbitmq-server -detached`` when it
  is installed but not running; returns why not when it cannot be had (the caller skips with it).
- ``rabbitmq_vhost()``: a virtual host of its own per test run (``rabbitmqctl``), so two runs on one
  machine never take each other's tasks from the shared ``dagster`` queue; yields the broker URL.
- ``celery_workers(n, env, log_dir)``: ``n`` workers started with dagster-celery's own CLI
  (``dagster-celery worker start``, the command the docs name) with the project's executor config
  (``deploy/celery/executor.yaml``); waits until each answers a ping; stops them (their process group)
  on exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from celery import Celery

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXECUTOR_YAML = REPO / "deploy" / "celery" / "executor.yaml"
RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672
START_TIMEOUT_SECONDS = 90.0


def rabbitmq_reachable(timeout: float = 1.0) -> bool:
    """True when a TCP connection to RabbitMQ's AMQP port opens."""
    try:
        with socket.create_connection((RABBIT_HOST, RABBIT_PORT), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_rabbitmq(timeout: float = 60.0) -> str | None:
    """None when RabbitMQ is reachable (started here if it is installed and was not running), else the
    reason it cannot be had."""
    if rabbitmq_reachable():
        return None
    server = shutil.which("rabbitmq-server") or ("/usr/sbin/rabbitmq-server" if Path("/usr/sbin/rabbitmq-server")
                                                 .exists() else None)
    if server is None:
        return "RabbitMQ is not running on 127.0.0.1:5672 and rabbitmq-server is not installed"
    subprocess.run([server, "-detached"], capture_output=True, timeout=60, check=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rabbitmq_reachable():
            return None
        time.sleep(0.5)  # polling a server's start-up, not a rate limit
    return f"rabbitmq-server -detached did not open 127.0.0.1:5672 within {timeout:.0f} s"


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A fresh RabbitMQ virtual host for the guest user; yields its broker URL, deletes it on exit."""
    name = f"flit_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", name)
    try:
        _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"pyamqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/{name}"
    finally:
        _rabbitmqctl("delete_vhost", name)


@dataclass
class Worker:
    """One started worker: its Celery node name, the ``dagster-celery`` process and its log file."""

    name: str
    process: subprocess.Popen
    log: Path

    def pids(self) -> list[int]:
        """The worker's processes: the CLI and the ``celery worker`` it runs (same process group)."""
        out = subprocess.run(["pgrep", "-g", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]


def _ping(broker: str, backend: str) -> set[str]:
    app = Celery(broker=broker, backend=backend)
    try:
        return {name for reply in app.control.ping(timeout=1.0) or [] for name in reply}
    finally:
        app.close()


@contextmanager
def celery_workers(n: int, env: Mapping[str, str], log_dir: Path, *, prefix: str = "flit",
                   concurrency: int | None = None) -> Iterator[list[Worker]]:
    """Start ``n`` workers with ``env`` (it must hold DAGSTER_HOME, FLIT_EXECUTOR=celery,
    FLIT_CELERY_BROKER and FLIT_CELERY_BACKEND); yield them once all answer a ping. Each runs one step
    at a time in its own process (solo pool), or ``concurrency`` steps in as many child processes
    (prefork pool). Raises RuntimeError (with the tail of the logs) when they do not start in time."""
    pool = ["--pool=solo"] if concurrency is None else ["--pool=prefork", f"--concurrency={concurrency}"]
    log_dir.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:6]
    workers: list[Worker] = []
    # the CLI runs `celery` by name: this interpreter's scripts first
    worker_env = {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"}
    try:
        for i in range(n):
            name = f"{prefix}-{tag}-w{i + 1}"
            log = log_dir / f"{name}.log"
            cmd = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(EXECUTOR_YAML),
                   "-n", name, "-l", "INFO", "--", *pool, "--without-gossip", "--without-mingle"]
            with log.open("wb") as out:
                proc = subprocess.Popen(cmd, env=worker_env, stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True, cwd=REPO)
            workers.append(Worker(name, proc, log))
        wanted = {w.name for w in workers}
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        answered: set[str] = set()
        while time.monotonic() < deadline:
            answered = {r.split("@", 1)[0] for r in _ping(env["FLIT_CELERY_BROKER"], env["FLIT_CELERY_BACKEND"])}
            if wanted <= answered:
                break
            if any(w.process.poll() is not None for w in workers):
                break
        if not wanted <= answered:
            tails = "\n".join(f"--- {w.name}\n{w.log.read_text(errors='replace')[-2000:]}" for w in workers)
            raise RuntimeError(f"Celery workers did not start: answered {sorted(answered)}\n{tails}")
        yield workers
    finally:
        for w in workers:
            _stop(w.process)


def _stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the CLI and its celery child share this group
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
