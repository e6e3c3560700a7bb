"""Runs started by ``flit run``: who runs them (process, host, heartbeat as run tags), recovery of
runs whose process is gone (marked failed, their pool slots freed), and what a waiting run waits for."""

from flit_pipelines.runs.liveness import (
    HEARTBEAT_TAG,
    HOST_TAG,
    PID_TAG,
    RECOVERED_TAG,
    RecoveredRun,
    dead_reason,
    process_tags,
    recover_dead_runs,
)
from flit_pipelines.runs.watch import RunWatch

__all__ = ["HEARTBEAT_TAG", "HOST_TAG", "PID_TAG", "RECOVERED_TAG", "RecoveredRun", "RunWatch", "dead_reason",
           "process_tags", "recover_dead_runs"]
