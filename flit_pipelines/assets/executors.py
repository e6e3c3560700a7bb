"""Which Dagster executor runs a migration job, chosen by ``FLIT_EXECUTOR``.

``FLIT_EXECUTOR`` (read when the definitions load, so every process of one deployment must see the same
value: the webserver, the daemon, ``flit run`` and every Celery worker):

- ``in_process`` (default): every step in the run's own process. Loads are serialised by the
  destination pool anyway, and a process per step costs seconds of imports.
- ``multiprocess``: Dagster's multiprocess executor, a child process per step on this machine.
- ``celery``: ``dagster_celery.celery_executor``; steps go to Celery workers through the broker
  ``FLIT_CELERY_BROKER`` (e.g. ``pyamqp://guest@127.0.0.1:5672//`` for RabbitMQ or
  ``redis://127.0.0.1:6379/0``; unset: dagster-celery's default ``pyamqp://guest@localhost:5672//``)
  with results through ``FLIT_CELERY_BACKEND`` (default ``rpc://``). The executor is configured with
  both only as environment variables (``{env: ...}``), so a broker password never lands in Dagster's run
  storage, and a run config without an ``execution`` block keeps them. Needs the
  optional dependency ``dagster-celery`` (``pip install 'flit_pipelines[celery]'``); workers need the
  same ``DAGSTER_HOME`` (PostgreSQL instance storage), the same environment and a data directory
  they all reach (a shared filesystem, or object storage through UPath).

Pools (``<migration>_destination``) hold under every executor: the orchestrating process claims a
pool slot before it hands a step to a worker (Dagster's ``InstanceConcurrencyContext``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository
from dagster._core.execution.api import execute_run

from flit_pipelines.errors import FlitError

EXECUTOR_ENV = "FLIT_EXECUTOR"
EXECUTORS = ("in_process", "multiprocess", "celery")
CELERY_BROKER_ENV = "FLIT_CELERY_BROKER"
CELERY_BACKEND_ENV = "FLIT_CELERY_BACKEND"
# where workers and out-of-process runs find the code location (the same as workspace.yaml)
DEFINITIONS_MODULE = "flit_pipelines.definitions"
DEFINITIONS_ATTRIBUTE = "defs"
PARTITION_TAG = "dagster/partition"


class ExecutorChoiceError(FlitError):
    """``FLIT_EXECUTOR`` names no known executor, or the chosen one's library is not installed."""


@dataclass(frozen=True)
class JobExecution:
    """How a migration job executes: ``name`` (one of ``EXECUTORS``), ``executor_def`` (None:
    Dagster's default in-process/multiprocess executor) and the job's default ``execution`` run config
    (empty when the executor is configured in its definition)."""

    name: str
    executor_def: dg.ExecutorDefinition | None
    execution_config: dict = field(default_factory=dict)

    @property
    def in_process(self) -> bool:
        """True when the steps run inside the calling process (``execute_in_process`` can run it)."""
        return self.name == "in_process"


def job_execution(env: Mapping[str, str] | None = None) -> JobExecution:
    """The executor ``FLIT_EXECUTOR`` in ``env`` (default ``os.environ``) chooses.

    Raises ExecutorChoiceError for an unknown name, or for ``celery`` without dagster-celery installed.
    """
    env = os.environ if env is None else env
    name = (env.get(EXECUTOR_ENV) or "in_process").strip().lower()
    if name == "in_process":
        return JobExecution(name, None, {"config": {"in_process": {}}})
    if name == "multiprocess":
        return JobExecution(name, None, {"config": {"multiprocess": {}}})
    if name == "celery":
        # configured into the executor, not the job's default run config: a run whose config has no
        # `execution` block (a launched run with only resources) keeps the broker instead of falling
        # back to dagster-celery's default broker, where no worker listens
        config = {key: {"env": var} for key, var in (("broker", CELERY_BROKER_ENV), ("backend", CELERY_BACKEND_ENV))
                  if env.get(var)}
        return JobExecution(name, _celery_executor(config), {})
    raise ExecutorChoiceError(f"{EXECUTOR_ENV} names no executor Flit knows; use one of {', '.join(EXECUTORS)}.")


def _celery_executor(config: dict) -> dg.ExecutorDefinition:
    # an optional dependency: only a deployment that chooses Celery installs it
    try:
        module = importlib.import_module("dagster_celery")
    except ModuleNotFoundError as exc:
        raise ExecutorChoiceError(
            f"{EXECUTOR_ENV}=celery needs the dagster-celery library: pip install 'flit_pipelines[celery]'."
        ) from exc
    return module.celery_executor.configured(config, name="celery") if config else module.celery_executor


def reconstructable_job(job_name: str) -> ReconstructableJob:
    """A pointer to ``job_name`` of the code location that another process (a multiprocess child, a
    Celery worker) loads by importing ``flit_pipelines.definitions``."""
    repo = ReconstructableRepository.for_module(DEFINITIONS_MODULE, DEFINITIONS_ATTRIBUTE)
    return repo.get_reconstructable_job(job_name)


def execute_out_of_process(job_name: str, instance: dg.DagsterInstance, *, wave: str, run_id: str,
                           run_config: Mapping, tags: Mapping[str, str]):
    """Execute one wave partition of ``job_name`` with the job's own executor (multiprocess, Celery)
    and wait for it; the run gets ``run_id``. Returns Dagster's ``JobExecutionResult``.

    The instance must be persistent (``DAGSTER_HOME``; for Celery workers on other machines, PostgreSQL).
    """
    recon = reconstructable_job(job_name)
    # Dagster keeps the last reconstructed job of the process (lru_cache on ReconstructableJob): without
    # this, a second run in one process would get the first run's executor and specs, not today's
    ReconstructableJob.get_repository_definition.cache_clear()
    ReconstructableJob.get_definition.cache_clear()
    job_def = recon.get_definition()
    # a run config replaces the job's default config as a whole: name the executor's config again
    execution = job_execution().execution_config
    run_config = {**({"execution": execution} if execution else {}), **run_config}
    run = instance.create_run_for_job(job_def=job_def, run_id=run_id, run_config=run_config,
                                      tags={**tags, PARTITION_TAG: wave}, job_code_origin=recon.get_python_origin())
    return execute_run(recon, run, instance, raise_on_error=False)
