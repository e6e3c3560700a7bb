"""The Helm values in deploy/ hold the same run-queue and pool limits as the local Dagster instance."""

from __future__ import annotations

import yaml

from flit_pipelines.runtime import PROJECT_ROOT

HELM = PROJECT_ROOT / "deploy" / "helm" / "values.yaml"
INSTANCES = [PROJECT_ROOT / "dagster_home" / "dagster.yaml", PROJECT_ROOT / "dagster_home" / "postgres" / "dagster.yaml"]
ONE_RUN_PER_ACCOUNT = [{"key": f"flit/{side}_account", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
                       for side in ("destination", "source")]


def test_helm_values_queue_one_run_per_destination_account():
    values = yaml.safe_load(HELM.read_text())
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] is True and coordinator["type"] == "QueuedRunCoordinator"
    # the chart refuses limits in both places; Dagster 1.13 takes them only under concurrency.runs
    assert "config" not in coordinator
    assert values["concurrency"]["enabled"] is True
    assert values["concurrency"]["runs"]["tagConcurrencyLimits"] == ONE_RUN_PER_ACCOUNT
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    [code] = values["dagster-user-deployments"]["deployments"]
    assert code["dagsterApiGrpcArgs"] == ["-m", "flit_pipelines.definitions", "-a", "defs"]
    # secrets only by Kubernetes Secret name: no literal value of a secret variable in the file
    assert not any(e["name"].endswith(("_TOKEN", "_SECRET", "_KEY", "_PASSWORD", "_LEDGER_URL")) for e in code["env"])


def test_helm_values_match_the_local_instances():
    """The chart renders camelCase values into dagster.yaml's snake_case keys: the same limits."""
    concurrency = yaml.safe_load(HELM.read_text())["concurrency"]
    for path in INSTANCES:
        local = yaml.safe_load(path.read_text())["concurrency"]
        assert local["pools"]["default_limit"] == concurrency["pools"]["defaultLimit"], path
        if "runs" in local:  # the run queue's per-account limits (tenants)
            limits = [lim for lim in local["runs"]["tag_concurrency_limits"] if lim["key"].startswith("flit/")]
            assert sorted(limits, key=str) == sorted(concurrency["runs"]["tagConcurrencyLimits"], key=str), path
