"""The demo's migrations run concurrently: one worker process per migration, output kept readable.

Each worker (``python -m flit_sandboxes.demo_worker <migration>``) runs one migration end to end
against its own sandboxes; they share the Dagster instance (SQLite in WAL mode, 30 s busy timeout),
the ledger (SQLite, WAL) and ``data/demo`` (each migration writes its own sub-folders). A worker's
stdout carries three kinds of lines:

* ``MARK P {json}``: a step's progress (``flit_pipelines.progress.ProgressSnapshot``), at most twice a
  second per step plus its last reading;
* ``MARK S text``: a short status line ("sample wave: SUCCESS in 41 s"), shown at once;
* anything else (the summary tables, Dagster warnings): kept and printed after every worker ended,
  migration by migration in a fixed order.

The parent shows one live line per migration on a terminal (its current step: records done / total,
rate, ETA, 429s, retries, elapsed), or, when stdout is not a terminal, plain lines: status lines,
each finished load, and a migration's latest progress when it said nothing for ``QUIET_SECONDS``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console

from flit_pipelines.progress import ProgressSnapshot, format_duration
from flit_sandboxes.demo_forkserver import ForkedWorker, forkserver_context
from flit_pipelines.progress_terminal import live_progress, progress_fields

__all__ = ["MARK", "MachineLines", "Worker", "report_result", "run_workers", "say"]

MARK = "\x1e"  # ASCII record separator: a line for the parent, not for the reader
QUIET_SECONDS = 10.0  # plain mode: the longest a running migration stays silent
_MACHINE_GAP = 0.5  # seconds between two progress lines of one step from a worker


def say(text: str) -> None:
    """A worker's status line (shown by the parent at once, prefixed with the migration)."""
    print(f"{MARK}S {text}", flush=True)


def report_result(ok: bool) -> None:
    """A worker's last word: whether every step and check passed."""
    print(f"{MARK}R {json.dumps({'ok': bool(ok)})}", flush=True)


class MachineLines:
    """Progress listener of a worker: snapshots as ``MARK P {json}`` lines on stdout (throttled)."""

    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stdout
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, snap: ProgressSnapshot) -> None:
        now = time.monotonic()
        with self._lock:
            if not snap.finished and now - self._last.get(snap.step, -1e9) < _MACHINE_GAP:
                return
            self._last[snap.step] = now
            print(f"{MARK}P {json.dumps(snap.__dict__)}", file=self.out, flush=True)


@dataclass
class Worker:
    """One migration's worker process and what it said."""

    migration: str
    proc: subprocess.Popen | ForkedWorker
    started: float
    output: list[str] = field(default_factory=list)  # kept for the end, in order
    ok: bool | None = None  # from its result line; None: it never said
    ended: float | None = None
    last_heard: float = 0.0
    snap: ProgressSnapshot | None = None
    status: str | None = None  # its latest status line

    @property
    def seconds(self) -> float:
        """Wall time so far, or until it ended."""
        return (self.ended or time.monotonic()) - self.started


class _Display:
    """Where the parent shows workers' news: live lines on a terminal, plain lines otherwise."""

    def __init__(self, out: TextIO, migrations: Sequence[str]):
        self.out = out
        self.live = out.isatty()
        self.width = max(len(m) for m in migrations)
        self._lock = threading.Lock()
        self._printed: dict[str, float] = {}
        if self.live:
            self.progress = live_progress(Console(file=out))
            self.tasks = {m: self.progress.add_task(f"{m:{self.width}}  starting", total=None,
                                                    count="", rate="", eta="", retries="")
                          for m in migrations}
            self.progress.start()

    def line(self, migration: str, text: str) -> None:
        with self._lock:
            self._printed[migration] = time.monotonic()
            if self.live:
                self.progress.console.print(f"{migration}: {text}", markup=False, highlight=False)
            else:
                print(f"{migration}: {text}", file=self.out, flush=True)

    def update(self, w: Worker, snap: ProgressSnapshot) -> None:
        if self.live:
            self.progress.update(self.tasks[w.migration], description=f"{w.migration:{self.width}}  {snap.step}",
                                 completed=snap.done, total=snap.total, **progress_fields(snap))
        if snap.finished and snap.total is not None:  # a finished load keeps its line
            self.line(w.migration, snap.text())

    def quiet_check(self, workers: Sequence[Worker]) -> None:
        """Plain mode: a line for every running migration silent for QUIET_SECONDS."""
        if self.live:
            return
        now = time.monotonic()
        for w in workers:
            if w.ended is None and now - self._printed.get(w.migration, w.started) >= QUIET_SECONDS:
                news = (f"latest step {w.snap.text()}" if w.snap is not None
                        else f"since: {w.status.strip()}" if w.status else "starting")
                self.line(w.migration, f"{news} ({format_duration(w.seconds)} since the worker started)")

    def ended(self, w: Worker) -> None:
        verdict = "all checks passed" if w.ok else "FAILED"
        if self.live:
            self.progress.update(self.tasks[w.migration], description=f"{w.migration:{self.width}}  {verdict}",
                                 eta="done", completed=1, total=1)
            self.progress.stop_task(self.tasks[w.migration])
        self.line(w.migration, f"finished in {format_duration(w.seconds)}: {verdict}")

    def close(self) -> None:
        if self.live:
            self.progress.stop()


def _read(w: Worker, display: _Display) -> None:
    assert w.proc.stdout is not None
    for raw in w.proc.stdout:
        line = raw.rstrip("\n")
        w.last_heard = time.monotonic()
        if line.startswith(f"{MARK}P "):
            w.snap = ProgressSnapshot(**json.loads(line[3:]))
            display.update(w, w.snap)
        elif line.startswith(f"{MARK}S "):
            w.status = line[3:]
            display.line(w.migration, w.status)
        elif line.startswith(f"{MARK}R "):
            w.ok = bool(json.loads(line[3:])["ok"])
        else:
            w.output.append(line)


def run_workers(migrations: Sequence[str], command: Callable[[str], list[str]], env: dict[str, str], *,
                out: TextIO | None = None, preload: Sequence[str] = ()) -> list[Worker]:
    """Start ``command(migration)`` for every migration at once (environment ``env``), show their
    progress and status as they come, and wait for all; returns the workers in ``migrations`` order.
    A worker that exits non-zero or never reports a result counts as failed. With ``preload`` (module
    names), each ``python -m`` command is forked from a server that imported them once
    (``demo_forkserver``) instead of starting a fresh interpreter."""
    out = out or sys.stdout
    ctx = forkserver_context(preload) if preload else None
    display = _Display(out, migrations)
    workers: list[Worker] = []
    readers = []
    try:
        for m in migrations:
            proc: subprocess.Popen | ForkedWorker
            if ctx is not None:
                proc = ForkedWorker(ctx, command(m), env)
            else:
                proc = subprocess.Popen(command(m), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, bufsize=1, encoding="utf-8", errors="replace")
            w = Worker(m, proc, started=time.monotonic())
            workers.append(w)
            t = threading.Thread(target=_read, args=(w, display), name=f"demo-{m}", daemon=True)
            t.start()
            readers.append(t)
        while any(w.ended is None for w in workers):
            for w, t in zip(workers, readers, strict=True):
                if w.ended is None and w.proc.poll() is not None:
                    t.join(timeout=5)  # the rest of its output
                    w.ended = time.monotonic()
                    w.ok = bool(w.ok) and w.proc.returncode == 0
                    if w.proc.returncode:
                        w.output.append(f"(worker exited with code {w.proc.returncode})")
                    display.ended(w)
            display.quiet_check(workers)
            time.sleep(0.2)
    finally:
        for w in workers:  # interrupted: no worker outlives the demo
            if w.proc.poll() is None:
                w.proc.terminate()
                try:
                    w.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    w.proc.kill()
        display.close()
    return workers
