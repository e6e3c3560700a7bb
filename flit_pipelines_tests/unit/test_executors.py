"""FLIT_EXECUTOR chooses the migration job's executor; Celery's broker is named only by variable."""

from __future__ import annotations

import dagster as dg
import pytest

from flit_pipelines.assets.factory import build_migration, migration_resources
from flit_pipelines.assets.executors import ExecutorChoiceError, job_execution


def test_in_process_by_default():
    execution = job_execution({})
    assert (execution.name, execution.executor_def, execution.in_process) == ("in_process", None, True)
    assert execution.execution_config == {"config": {"in_process": {}}}


def test_multiprocess():
    execution = job_execution({"FLIT_EXECUTOR": "multiprocess"})
    assert execution.in_process is False
    assert execution.execution_config == {"config": {"multiprocess": {}}}


def test_celery_names_broker_and_backend_by_variable_only(monkeypatch):
    broker = "pyamqp://guest:secret-password@10.0.0.5:5672/flit"
    monkeypatch.setenv("FLIT_CELERY_BROKER", broker)
    monkeypatch.setenv("FLIT_CELERY_BACKEND", "rpc://")
    execution = job_execution({"FLIT_EXECUTOR": "celery", "FLIT_CELERY_BROKER": broker,
                               "FLIT_CELERY_BACKEND": "rpc://"})
    assert execution.executor_def.name == "celery"
    assert execution.execution_config == {}  # configured in the executor: a run config cannot drop it
    resolved = execution.executor_def.config_schema.resolve_config({})  # what a run without `execution` gets
    assert resolved.success and resolved.value["config"]["broker"] == broker  # read from the variable at run time
    assert resolved.value["config"]["backend"] == "rpc://"
    # the definition holds the variable's name, not its value (what Dagster stores and shows)
    assert "secret-password" not in repr(execution.executor_def.config_schema.as_field())
    # unset: dagster-celery's defaults (local RabbitMQ, rpc:// results)
    assert job_execution({"FLIT_EXECUTOR": "celery"}).executor_def.name == "celery"


def test_unknown_executor_is_refused_with_the_choices():
    with pytest.raises(ExecutorChoiceError, match="in_process, multiprocess, celery"):
        job_execution({"FLIT_EXECUTOR": "k8s"})



def test_destination_steps_of_a_run_form_one_chain(spec):
    """Every step that writes to the destination waits for the one before it: whatever the executor
    (Celery has no per-step limit), one run never has two writers on its account at once."""
    defs = dg.Definitions.merge(build_migration(spec), dg.Definitions(resources=migration_resources([spec])))
    graph = defs.resolve_asset_graph()
    writers = [k for k in graph.get_all_asset_keys() if k.path[1] in ("load", "dedup", "destination_schema")]

    def ancestors(key: dg.AssetKey) -> set[dg.AssetKey]:
        seen: set[dg.AssetKey] = set()
        stack = [key]
        while stack:
            for parent in graph.get(stack.pop()).parent_keys:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen

    before = {k: ancestors(k) for k in writers}
    assert dg.AssetKey([spec.migration, "destination_schema"]) in writers
    assert len([k for k in writers if k.path[1] == "load"]) == len(spec.targets)
    for a in writers:
        for b in writers:
            if a != b:
                assert a in before[b] or b in before[a], f"{a.to_user_string()} and {b.to_user_string()} may overlap"
