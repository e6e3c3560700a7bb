"""Demo workers forked from a process that imported the product once (``multiprocessing`` forkserver).

Each demo worker is ``python -m flit_sandboxes.demo_worker <migration>``. Started as a fresh interpreter,
every worker spends ~3.5 CPU seconds importing Dagster, pandas and the product before its first step:
with six workers on two cores that is ~20 CPU seconds, ~10 s of the demo's wall time. Here the
workers are forked from Python's forkserver after it imported ``preload`` once (the server is a clean
process of its own: no threads, no open database connection, so forking it is safe), and each runs
its module as ``python -m`` would (``runpy``, ``sys.argv``), with its own environment and its stdout
and stderr on a pipe the parent reads, as with ``subprocess.Popen``.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import runpy
import sys
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from typing import TextIO

__all__ = ["ForkedWorker", "forkserver_context"]


def forkserver_context(preload: Sequence[str]) -> multiprocessing.context.ForkServerContext:
    """A forkserver context whose server imports ``preload`` (module names) before it forks anything.
    Modules that fail to import are skipped by ``multiprocessing`` (the worker imports them itself)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(preload))
    return ctx


class ForkedWorker:
    """``python -m <module> <args>`` run in a process forked by ``ctx``'s server, shaped like the
    ``subprocess.Popen`` the demo uses: ``stdout`` (text lines), ``poll``, ``returncode``, ``wait``,
    ``terminate``, ``kill``.

    Args:
        ctx: from ``forkserver_context``.
        argv: ``[python, "-m", module, *args]`` (the interpreter is the server's own).
        env: the worker's whole environment (replaces the server's).

    Raises:
        ValueError: ``argv`` is not a ``-m`` command.
    """

    def __init__(self, ctx: multiprocessing.context.ForkServerContext, argv: Sequence[str],
                 env: Mapping[str, str]):
        if len(argv) < 3 or argv[1] != "-m":
            raise ValueError("ForkedWorker runs `python -m module ...` commands only")
        reader, writer = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_run_module, args=(argv[2], list(argv[3:]), dict(env), writer),
                                 name=f"flit-demo-{argv[3] if len(argv) > 3 else argv[2]}")
        self._proc.start()
        writer.close()  # the child holds the only write end: end of file when it exits
        fd = os.dup(reader.fileno())
        reader.close()
        self.stdout: TextIO = open(fd, encoding="utf-8", errors="replace", newline=None)  # noqa: SIM115

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.exitcode

    def poll(self) -> int | None:
        """The exit code once the worker ended, else None."""
        return self._proc.exitcode

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds; the exit code, or None if it still runs."""
        self._proc.join(timeout)
        return self._proc.exitcode

    def terminate(self) -> None:
        """SIGTERM (the worker unwinds and stops its sandboxes)."""
        self._proc.terminate()

    def kill(self) -> None:
        """SIGKILL."""
        self._proc.kill()


def _run_module(module: str, args: list[str], env: dict[str, str], out: Connection) -> None:
    """In the forked child: environment, stdout/stderr onto the pipe, then ``module`` as ``__main__``."""
    os.environ.clear()
    os.environ.update(env)
    os.dup2(out.fileno(), 1)
    os.dup2(out.fileno(), 2)
    out.close()
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True)
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
