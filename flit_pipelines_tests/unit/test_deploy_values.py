"""The Helm values in deploy/ hold the same run-queue and pool limits as the local Dagster instance."""

from __future__ import annotations

import yaml

from flit_pipelines.cli import PROJECT_ROOT

HELM = PROJECT_ROOT / "deploy" / "helm" / "values.yaml"
INSTANCES = [PROJECT_ROOT / "dagster_home" / "dagster.yaml", PROJECT_ROOT / "dagster_home" / "postgres" / "dagster.yaml"]
ONE_RUN_PER_ACCOUNT = {"key": "flit/destination_account", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}


def test_helm_values_queue_one_run_per_destination_account():
    values = yaml.safe_load(HELM.read_text())
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] is True and coordinator["type"] == "QueuedRunCoordinator"
    limits = coordinator["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert limits == [ONE_RUN_PER_ACCOUNT]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    [code] = values["dagster-user-deployments"]["deployments"]
    assert code["dagsterApiGrpcArgs"] == ["-m", "flit_pipelines.definitions", "-a", "defs"]
    # secrets only by Kubernetes Secret name: no literal value of a secret variable in the file
    assert not any(e["name"].endswith(("_TOKEN", "_SECRET", "_KEY", "_PASSWORD", "_LEDGER_URL")) for e in code["env"])


def test_helm_values_match_the_local_instances():
    values = yaml.safe_load(HELM.read_text())
    helm_limits = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    for path in INSTANCES:
        instance = yaml.safe_load(path.read_text())
        assert instance["concurrency"]["pools"]["default_limit"] == values["concurrency"]["pools"]["defaultLimit"], path
        coordinator = instance.get("run_coordinator")
        if coordinator is not None:  # the run queue of the local instance (tenants): the same limits
            local = coordinator["config"]["tag_concurrency_limits"]
            assert [lim for lim in local if lim["key"] == "flit/destination_account"] == helm_limits, path
