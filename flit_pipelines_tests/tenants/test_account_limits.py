"""One run per account: the committed instance config's queue limits, the job's tags per partition, and
``flit run``'s wait for a live run holding the account (clock and sleep injected, no real waiting)."""

from __future__ import annotations

import logging
import shutil
import uuid

import dagster as dg
import pytest

from flit_pipelines.runtime import PROJECT_ROOT
from flit_pipelines.runs.accounts import AccountBusyError, wait_for_accounts
from flit_pipelines.spec.load import SPEC_DIR
from flit_pipelines.tenants import DESTINATION_ACCOUNT_TAG, TENANT_TAG

M = "clinic_to_pipedrive"
ACCOUNT = {TENANT_TAG: "north", DESTINATION_ACCOUNT_TAG: "pipedrive-0123456789ab"}


@pytest.mark.parametrize("home", ["dagster_home", "dagster_home/postgres"])
def test_the_committed_instance_queues_one_run_per_account(home, tmp_path, monkeypatch):
    shutil.copy(PROJECT_ROOT / home / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert limits == [{"key": k, "limit": 1, "value": {"applyLimitPerUniqueValue": True}}
                      for k in ("flit/destination_account", "flit/source_account")]


def test_the_migration_job_tags_each_partition_with_its_tenant_and_account(tmp_path, monkeypatch):
    from flit_pipelines.definitions import defs

    shutil.copy(SPEC_DIR / f"{M}.yaml", tmp_path / f"{M}.yaml")
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / f"{M}.yaml").write_text(
        f"migration: {M}\ntenants:\n  north:\n    destination: {{api_base: 'https://north.pipedrive.com'}}\n")
    monkeypatch.setenv("FLIT_SPEC_DIR", str(tmp_path))
    monkeypatch.setenv("PIPEDRIVE_API_BASE", "https://default.pipedrive.com")
    d = defs()
    config = d.resolve_job_def(f"{M}_migration").partitioned_config
    north, default = config.get_tags_for_partition_key("north.full"), config.get_tags_for_partition_key("full")
    assert north[TENANT_TAG] == "north" and default[TENANT_TAG] == "default"
    assert north[DESTINATION_ACCOUNT_TAG].startswith("pipedrive-")
    assert north[DESTINATION_ACCOUNT_TAG] != default[DESTINATION_ACCOUNT_TAG]
    # with tenants the per-migration pool is gone (it would serialise every account of the migration)
    pools = {n.definition.pool for n in d.resolve_job_def(f"{M}_migration").graph.nodes}
    assert pools == {None}


def _holder(instance: dg.DagsterInstance, status=dg.DagsterRunStatus.STARTED) -> dg.DagsterRun:
    run = dg.DagsterRun(job_name=f"{M}_migration", run_id=str(uuid.uuid4()), status=status, tags=ACCOUNT)
    instance.add_run(run)
    return run


def test_a_waiting_run_names_the_holder_and_goes_once_it_ends(caplog):
    with dg.DagsterInstance.ephemeral() as instance:
        holder = _holder(instance)
        _holder(instance, dg.DagsterRunStatus.SUCCESS)  # a finished run of the account holds nothing
        other = dict(ACCOUNT, **{DESTINATION_ACCOUNT_TAG: "pipedrive-ffffffffffff"})
        wait_for_accounts(instance, other, wait=False)  # another account: no wait at all
        with pytest.raises(AccountBusyError, match=f"run {holder.run_id} .*holds flit/destination_account="
                                                   "pipedrive-0123456789ab"):
            wait_for_accounts(instance, ACCOUNT, wait=False)
        sleeps = []

        def sleep(seconds: float) -> None:  # the holder ends while we "sleep"
            sleeps.append(seconds)
            instance.report_run_failed(instance.get_run_by_id(holder.run_id), "ended")

        with caplog.at_level(logging.WARNING, logger="flit_pipelines.runs"):
            wait_for_accounts(instance, ACCOUNT, wait=True, poll=7.0, sleep=sleep)
        assert sleeps == [7.0]
        assert any(f"waiting for the account: run {holder.run_id}" in r.getMessage() for r in caplog.records)


def test_a_wait_gives_up_after_its_timeout():
    with dg.DagsterInstance.ephemeral() as instance:
        holder = _holder(instance)
        now = iter([0.0, 5.0, 11.0])
        with pytest.raises(AccountBusyError, match=f"gave up after 10 s waiting: run {holder.run_id}"):
            wait_for_accounts(instance, ACCOUNT, wait=True, poll=5.0, sleep=lambda _s: None, timeout=10.0,
                              clock=lambda: next(now))
