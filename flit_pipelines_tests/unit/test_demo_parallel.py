"""The demo's worker processes (``flit_sandboxes.demo_parallel``): progress and status lines shown as
they come (plain lines off a terminal), everything else kept per migration, a worker that fails or
dies counted as failed."""

from __future__ import annotations

import io
import json
import os
import sys

from flit_pipelines.progress import ProgressSnapshot
from flit_sandboxes.demo_parallel import MARK, run_workers

SNAP = ProgressSnapshot("load persons", "records", 40, 40, 2.0, 20.0, None, 10.0, 3, 4, finished=True)
WORKER = f"""
import json, sys
m = sys.argv[1]
print({MARK!r} + "S sandbox up")
print("summary table of " + m)
print({MARK!r} + "P " + {json.dumps(SNAP.__dict__)!r})
if m != "dies":
    print({MARK!r} + "R " + json.dumps({{"ok": m != "fails"}}))
print("last line of " + m)
sys.exit(3 if m == "dies" else 0)
"""


def test_workers_run_at_once_and_their_output_stays_apart():
    out = io.StringIO()  # not a terminal: plain lines
    names = ["ok_one", "fails", "dies", "ok_two"]
    workers = run_workers(names, lambda m: [sys.executable, "-c", WORKER, m], dict(os.environ), out=out)
    assert [w.migration for w in workers] == names
    assert [w.ok for w in workers] == [True, False, False, True]
    for w in workers:
        assert w.output[:2] == [f"summary table of {w.migration}", f"last line of {w.migration}"]
        assert w.snap == SNAP
    assert workers[2].output[-1] == "(worker exited with code 3)"
    shown = out.getvalue().splitlines()
    for m in names:
        assert f"{m}: sandbox up" in shown
        assert f"{m}: load persons: 40/40 records (100 %), 20.0/s, done in 2 s, 429s 3, retries 4" in shown
    assert any(ln.startswith("fails: finished in") and ln.endswith("FAILED") for ln in shown)
    assert any(ln.startswith("ok_one: finished in") and ln.endswith("all checks passed") for ln in shown)
    assert not any("summary table" in ln or MARK in ln for ln in shown)  # kept for the end, markers hidden


def test_forked_workers_behave_like_fresh_interpreters():
    """``preload``: workers forked from the forkserver run ``python -m`` modules with their own environment,
    stdout and stderr on the parent's pipe, and their exit codes, as the subprocess path does."""
    from flit_pipelines_tests.fake_demo_worker import SNAP as FAKE_SNAP

    out = io.StringIO()
    names = ["ok_one", "fails", "dies"]
    env = {**os.environ, "FAKE_WORKER_SAYS": "hello"}
    workers = run_workers(names, lambda m: [sys.executable, "-m", "flit_pipelines_tests.fake_demo_worker", m],
                          env, out=out, preload=["flit_sandboxes.demo_parallel"])
    assert [w.ok for w in workers] == [True, False, False]
    for w in workers:
        assert w.output[:3] == [f"summary table of {w.migration}", "environment says hello",
                                f"last line of {w.migration}"]
        assert w.snap == FAKE_SNAP
        assert w.proc.pid != os.getpid()
    assert workers[2].output[-1] == "(worker exited with code 3)"
    assert "ok_one: sandbox up" in out.getvalue().splitlines()
