"""FLIT_EXECUTOR chooses the migration job's executor; Celery's broker is named only by variable."""

from __future__ import annotations

import pytest

from flit_pipelines.assets.executors import ExecutorChoiceError, job_execution


def test_in_process_by_default():
    execution = job_execution({})
    assert (execution.name, execution.executor_def, execution.in_process) == ("in_process", None, True)
    assert execution.execution_config == {"config": {"in_process": {}}}


def test_multiprocess():
    execution = job_execution({"FLIT_EXECUTOR": "multiprocess"})
    assert execution.in_process is False
    assert execution.execution_config == {"config": {"multiprocess": {}}}


def test_celery_names_broker_and_backend_by_variable_only():
    broker = "pyamqp://guest:secret-password@10.0.0.5:5672/flit"
    execution = job_execution({"FLIT_EXECUTOR": "celery", "FLIT_CELERY_BROKER": broker,
                               "FLIT_CELERY_BACKEND": "rpc://"})
    assert execution.executor_def.name == "celery"
    assert execution.execution_config == {"config": {"broker": {"env": "FLIT_CELERY_BROKER"},
                                                     "backend": {"env": "FLIT_CELERY_BACKEND"}}}
    assert "secret-password" not in repr(execution.execution_config)
    # unset: dagster-celery's defaults (local RabbitMQ, rpc:// results)
    assert job_execution({"FLIT_EXECUTOR": "celery"}).execution_config == {"config": {}}


def test_unknown_executor_is_refused_with_the_choices():
    with pytest.raises(ExecutorChoiceError, match="in_process, multiprocess, celery"):
        job_execution({"FLIT_EXECUTOR": "k8s"})
