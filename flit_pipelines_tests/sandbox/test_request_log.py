"""The sandboxes' per-account request log and the overlap test the benchmarks and tests prove with."""

from __future__ import annotations

import requests

from flit_pipelines_tests.conftest import TOKEN
from flit_sandboxes.kernel.stats import overlapping_clients


def row(started, ended, client):
    return {"started": started, "ended": ended, "method": "POST", "path": "/api/v2/persons", "status": "201",
            "client": client}


def test_overlap_only_between_different_clients():
    one = [row(0.0, 1.0, "a"), row(0.5, 1.5, "a"), row(1.5, 2.0, "b")]  # b starts as a's last one ends
    assert overlapping_clients(one) == []
    two = [row(0.0, 1.0, "a"), row(2.0, 3.0, "b"), row(0.9, 1.2, "b")]
    assert overlapping_clients(two) == [(two[0], two[2])]


def test_sandbox_logs_each_request_with_its_client(sandbox):
    for agent in ("flit-pipelines/pipedrive-client (pid 1)", "other"):
        resp = requests.get(f"{sandbox}/api/v1/users", headers={"x-api-token": TOKEN, "User-Agent": agent},
                            timeout=10)
        assert resp.status_code == 200
    log = requests.get(f"{sandbox}/__sandbox/requests", headers={"x-api-token": TOKEN}, timeout=10).json()["data"]
    assert [(r["method"], r["path"], r["status"], r["client"]) for r in log] == [
        ("GET", "/api/v1/users", "200", "flit-pipelines/pipedrive-client (pid 1)"),
        ("GET", "/api/v1/users", "200", "other")]
    assert all(0 <= r["ended"] - r["started"] < 5 for r in log)
