"""Is the process of a ``flit run`` still there? Recover the runs whose process is gone.

``flit run`` executes a wave in its own process (``JobDefinition.execute_in_process``), outside the
Dagster daemon, so Dagster's run monitoring never looks at it. When that process is killed (SIGKILL,
OOM, a lost machine) the run stays STARTED and keeps the claimed slot of its destination pool
(``<migration>_destination``, limit 1 in ``dagster_home/dagster.yaml``): the next run waits for it
forever. So every run ``flit run`` starts carries run tags saying who runs it:

* ``flit/pid``, ``flit/host``: the process and host name;
* ``flit/process_start``: the process start time in clock ticks (``/proc/<pid>/stat`` field 22),
  so a pid the kernel has given to another process is not taken for the run's;
* ``flit/heartbeat``: unix seconds, refreshed by ``RunWatch`` while the run is in progress.

A run is dead when, on its own host, its process is gone (or is a zombie, or the pid belongs to a
younger process); from another host, when its heartbeat is older than ``stale_after`` seconds.
``recover_dead_runs`` marks such runs failed (a RUN_FAILURE event saying why) and frees their
concurrency slots through the event log storage (``free_concurrency_slots_for_run``, the call the
Dagster UI makes for "free slots"; Dagster 1.13 ``dagster/_core/storage/event_log/base.py``).
Runs without these tags (launched by the daemon) are left to Dagster's run monitoring.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field

import dagster as dg

PID_TAG = "flit/pid"
HOST_TAG = "flit/host"
PROCESS_START_TAG = "flit/process_start"
HEARTBEAT_TAG = "flit/heartbeat"
RECOVERED_TAG = "flit/recovered_runs"  # on a new run: the dead runs it recovered before it started
# Another host's run counts as dead after this long without a heartbeat (RunWatch beats every 10 s
# by default); FLIT_RUN_STALE_SECONDS overrides it.
STALE_AFTER_SECONDS = 120.0
LIVE_STATUSES = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
FINISHED_STATUSES = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]

log = logging.getLogger("flit_pipelines.runs")


@dataclass(frozen=True)
class RecoveredRun:
    """A run ``recover_dead_runs`` cleaned up: why it is dead, its status before, and the slots it
    held per pool (now freed)."""

    run_id: str
    reason: str
    status: str
    slots: dict[str, int] = field(default_factory=dict)
    marked_failed: bool = True

    def message(self) -> str:
        """One line for logs and the dead run's RUN_FAILURE event (IDs, pools, pid and host only)."""
        held = ", ".join(f"{n} slot(s) of pool {p}" for p, n in sorted(self.slots.items())) or "no pool slot"
        done = "marked failed, freed" if self.marked_failed else "freed"
        return (f"recovered run {self.run_id} (was {self.status}): {self.reason}; {done} {held}. "
                "Records it wrote are in the ledger; re-running the wave resumes them without duplicates.")


def stale_after_seconds() -> float:
    """``FLIT_RUN_STALE_SECONDS`` or ``STALE_AFTER_SECONDS``."""
    return float(os.environ.get("FLIT_RUN_STALE_SECONDS") or STALE_AFTER_SECONDS)


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) of a Linux process, or None where /proc is not readable."""
    try:
        text = open(f"/proc/{pid}/stat", encoding="ascii", errors="replace").read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()  # the command name may hold spaces and parentheses
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    stat = _proc_stat(pid)
    return not (stat and stat[0] in ("Z", "X"))  # a zombie or dead entry has released nothing we need


def process_tags(now: float | None = None) -> dict[str, str]:
    """The run tags identifying this process (pid, host, process start) plus a first heartbeat."""
    pid = os.getpid()
    stat = _proc_stat(pid)
    tags = {PID_TAG: str(pid), HOST_TAG: socket.gethostname(), HEARTBEAT_TAG: str(int(now or time.time()))}
    if stat:
        tags[PROCESS_START_TAG] = stat[1]
    return tags


def dead_reason(tags: dict[str, str], *, now: float, host: str | None = None,
                stale_after: float | None = None) -> str | None:
    """Why the run with these tags has no live process, or None (alive, or not a ``flit run``).

    On its own host the pid decides (a live process with an old heartbeat is slow, not dead); from
    another host the heartbeat does (older than ``stale_after`` seconds: dead).
    """
    pid = tags.get(PID_TAG)
    if not pid or not pid.isdigit():
        return None
    host = host or socket.gethostname()
    run_host = tags.get(HOST_TAG, "")
    if run_host == host:
        if not _pid_alive(int(pid)):
            return f"its process {pid} on {run_host} is gone"
        stat, started = _proc_stat(int(pid)), tags.get(PROCESS_START_TAG)
        if stat and started and stat[1] != started:
            return f"its process {pid} on {run_host} is gone (the pid now belongs to another process)"
        return None
    beat = tags.get(HEARTBEAT_TAG)
    limit = stale_after if stale_after is not None else stale_after_seconds()
    try:
        age = now - float(beat) if beat else None
    except ValueError:
        age = None
    if age is not None and age > limit:
        return f"no heartbeat from its process {pid} on {run_host} for {int(age)} s (limit {int(limit)} s)"
    return None


def slots_held(instance: dg.DagsterInstance, run_id: str) -> dict[str, int]:
    """Pool -> number of slots ``run_id`` holds now."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    infos = storage.get_concurrency_infos(sorted(storage.get_concurrency_keys()))
    held = {key: sum(1 for s in info.claimed_slots if s.run_id == run_id) for key, info in infos.items()}
    return {k: n for k, n in held.items() if n}


def recover_run(instance: dg.DagsterInstance, run: dg.DagsterRun, reason: str) -> RecoveredRun:
    """Mark ``run`` failed (saying why) and free every concurrency slot and pending claim it holds."""
    recovered = RecoveredRun(run.run_id, reason, run.status.value, slots_held(instance, run.run_id))
    instance.report_run_failed(run, recovered.message())
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    log.warning(recovered.message())
    return recovered


def recover_dead_runs(instance: dg.DagsterInstance, *, now: float | None = None, host: str | None = None,
                      stale_after: float | None = None) -> list[RecoveredRun]:
    """Fail every in-progress ``flit run`` run of ``instance`` whose process is gone (``dead_reason``)
    and free its slots; also free the slots still held by runs that already finished (a run marked
    failed by hand while no daemon frees slots). Returns the recovered runs; each is logged (WARNING,
    logger ``flit_pipelines.runs``) with its ID, pid, host and pools."""
    now = time.time() if now is None else now
    out = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=LIVE_STATUSES)):
        run = record.dagster_run
        reason = dead_reason(dict(run.tags), now=now, host=host, stale_after=stale_after)
        if reason is not None:
            out.append(recover_run(instance, run, reason))
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holders = sorted(storage.get_concurrency_run_ids())
        finished = instance.get_run_records(filters=dg.RunsFilter(run_ids=holders, statuses=FINISHED_STATUSES)) \
            if holders else []
        out += [r for r in (free_finished_run(instance, rec.dagster_run) for rec in finished) if r is not None]
    return out


def free_finished_run(instance: dg.DagsterInstance, run: dg.DagsterRun | None,
                      run_id: str | None = None) -> RecoveredRun | None:
    """Free the slots a finished (or deleted: ``run`` None, ``run_id`` given) run still holds;
    returns what was freed, or None when it held nothing."""
    run_id = run.run_id if run is not None else str(run_id)
    slots = slots_held(instance, run_id)
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    if not slots:
        return None
    done = RecoveredRun(run_id, "it had finished" if run is not None else "it no longer exists in the instance",
                        run.status.value if run is not None else "deleted", slots, marked_failed=False)
    log.warning(done.message())
    return done
