"""The project's event log storage: Dagster's SQLite files, connections kept open (flit_pipelines.instance)."""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from flit_pipelines.instance import sqlite_event_log
from flit_pipelines.instance.sqlite_event_log import PooledSqliteEventLogStorage
from flit_pipelines_tests.conftest import EVENT_LOG_STORAGE_YAML

WAVES = dg.DynamicPartitionsDefinition(name="waves")


@dg.asset(partitions_def=WAVES)
def upstream(context) -> None:
    context.log.info("a step's own line")


@dg.asset(partitions_def=WAVES, deps=[upstream])
def downstream() -> None:
    pass


@dg.asset_check(asset=downstream)
def downstream_checked() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


JOB = dg.Definitions(assets=[upstream, downstream], asset_checks=[downstream_checked],
                     jobs=[dg.define_asset_job("waves_job", partitions_def=WAVES)]).resolve_job_def("waves_job")


def test_runs_on_the_pooled_event_log(tmp_path, monkeypatch):
    """The tests' instance configuration selects the storage; runs, checks and partitions work on it; the
    same files read back through Dagster's own class; only a bounded number of files stay open."""
    (tmp_path / "dagster.yaml").write_text(EVENT_LOG_STORAGE_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(sqlite_event_log.KEEP_CONNECTIONS_ENV, "1")
    monkeypatch.setattr(sqlite_event_log, "_KEPT_FILES", 3)
    keys = [f"w{i}" for i in range(5)]
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, PooledSqliteEventLogStorage)
        instance.add_dynamic_partitions("waves", keys)
        results = [JOB.execute_in_process(instance=instance, partition_key=k) for k in keys]
        assert all(r.success for r in results)
        assert all(e.passed for r in results for e in r.get_asset_check_evaluations())
        index_engine = storage._engines["index"]
        assert len(storage._engines) == 3  # the index and the two latest runs; older runs' files were closed
        instance.add_dynamic_partitions("waves", ["w5"])
        assert JOB.execute_in_process(instance=instance, partition_key="w5").success
        assert storage._engines["index"] is index_engine  # one engine for the index over every run
        assert storage.has_dynamic_partition("waves", "w5")
        run_id = results[0].run_id

    monkeypatch.delenv(sqlite_event_log.KEEP_CONNECTIONS_ENV)  # a UI process: Dagster's connection per statement
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("waves", ["w6"])
        assert JOB.execute_in_process(instance=instance, partition_key="w6").success
        assert instance.event_log_storage._engines == {}

    plain = SqliteEventLogStorage(str(tmp_path / "history" / "runs"))  # Dagster's class on the same files
    logs = plain.get_logs_for_run(run_id)
    assert [e.user_message for e in logs if not e.is_dagster_event] == ["a step's own line"]
    records = plain.fetch_materializations(dg.AssetKey("downstream"), limit=100).records
    assert sorted(r.partition_key for r in records) == keys + ["w5", "w6"]


def test_an_instance_of_another_directory_keeps_its_events_there(tmp_path, monkeypatch):
    """Without ``base_dir`` the files are the instance's own (``<dir>/history/runs``), not $DAGSTER_HOME's:
    ``DagsterInstance.from_config(dir)`` (the browser test's set-up) once wrote to the wrong instance."""
    home, other = tmp_path / "home", tmp_path / "other"
    for d in (home, other):
        d.mkdir()
        (d / "dagster.yaml").write_text(EVENT_LOG_STORAGE_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.from_config(str(other)) as instance:
        instance.add_dynamic_partitions("waves", ["sample"])
        assert instance.event_log_storage._base_dir.rstrip("/") == str(other / "history" / "runs")
    with dg.DagsterInstance.from_config(str(other)) as instance:
        assert instance.get_dynamic_partitions("waves") == ["sample"]
    with dg.DagsterInstance.get() as instance:
        assert instance.get_dynamic_partitions("waves") == []
