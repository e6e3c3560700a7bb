"""``RunWatch``: the heartbeat of a ``flit run`` and what its waiting steps wait for.

While ``flit run`` executes a wave in process, a background thread refreshes the run's
``flit/heartbeat`` tag (so another host can tell it is alive, see ``liveness.dead_reason``). When a
step of the run waits for a slot of a pool (Dagster pools, ``dagster/_core/execution/plan/
instance_concurrency_context.py``: the in-process executor polls ``claim_concurrency_slot`` and says
only "Step blocked by limit for pool X"), it says which run holds the slot: one WARNING log line
and one engine event on the waiting run, naming the pool, the holding run, its step, pid and host.
A holder whose process is gone is recovered there and then (marked failed, slots freed), so a run
that started before the crash was noticed does not wait forever either.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence

import dagster as dg

from flit_pipelines.runs.liveness import (
    HEARTBEAT_TAG,
    HOST_TAG,
    LIVE_STATUSES,
    PID_TAG,
    dead_reason,
    free_finished_run,
    recover_run,
)

HEARTBEAT_SECONDS = 10.0  # FLIT_RUN_HEARTBEAT_SECONDS overrides it

log = logging.getLogger("flit_pipelines.runs")


def heartbeat_seconds() -> float:
    """``FLIT_RUN_HEARTBEAT_SECONDS`` or ``HEARTBEAT_SECONDS``."""
    return float(os.environ.get("FLIT_RUN_HEARTBEAT_SECONDS") or HEARTBEAT_SECONDS)


class RunWatch:
    """Context manager around one in-process run ``run_id`` whose steps use ``pools``.

    ``interval`` seconds between rounds (default ``heartbeat_seconds()``); ``clock`` gives unix
    seconds (inject one in tests). ``tick()`` is one round and may be called directly. ``waits``
    lists the (pool, holding run) pairs reported so far.
    """

    def __init__(self, instance: dg.DagsterInstance, run_id: str, pools: Sequence[str], *,
                 interval: float | None = None, clock: Callable[[], float] = time.time):
        self.instance = instance
        self.run_id = run_id
        self.pools = sorted(set(pools))
        self.interval = heartbeat_seconds() if interval is None else interval
        self.clock = clock
        self.waits: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"flit-run-watch-{run_id[:8]}", daemon=True)

    def __enter__(self) -> RunWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=max(self.interval * 2, 5.0))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception as exc:  # a storage hiccup must not end the watch; no values in these errors
                log.warning(f"run watch of {self.run_id}: {type(exc).__name__}")

    def tick(self) -> None:
        """Refresh the heartbeat; report (once per pool and holder) and, if dead, recover the runs
        holding the slots our waiting steps need."""
        run = self.instance.get_run_by_id(self.run_id)
        if run is None or run.status not in (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED):
            return  # not created yet, or finished
        now = self.clock()
        self.instance.add_run_tags(self.run_id, {HEARTBEAT_TAG: str(int(now))})
        storage = self.instance.event_log_storage
        if not self.pools or not storage.supports_global_concurrency_limits:
            return
        for pool, info in storage.get_concurrency_infos(self.pools).items():
            waiting = sorted(p.step_key for p in info.pending_steps
                             if p.run_id == self.run_id and p.assigned_timestamp is None)
            if not waiting:
                continue
            holders: dict[str, list[str]] = {}
            for slot in info.claimed_slots:
                if slot.run_id != self.run_id:
                    holders.setdefault(slot.run_id, []).append(slot.step_key)
            for holder, steps in sorted(holders.items()):
                self._report(run, pool, info.limit, waiting, holder, steps, now)

    def _report(self, run: dg.DagsterRun, pool: str, limit: int | None, waiting: list[str], holder: str,
                steps: list[str], now: float) -> None:
        other = self.instance.get_run_by_id(holder)
        if (pool, holder) not in self.waits:
            self.waits.append((pool, holder))
            who = ""
            if other is not None and other.tags.get(PID_TAG):
                beat = other.tags.get(HEARTBEAT_TAG)
                age = f", heartbeat {int(now - float(beat))} s ago" if beat and beat.isdigit() else ""
                who = f", pid {other.tags[PID_TAG]} on {other.tags.get(HOST_TAG, '?')}{age}"
            status = other.status.value if other is not None else "not in this instance"
            msg = (f"run {self.run_id}: step(s) {', '.join(waiting)} wait for pool {pool} (limit {limit}); "
                   f"its slot is held by run {holder} ({status}; step {', '.join(sorted(steps))}{who})")
            log.warning(msg)
            self.instance.report_engine_event(msg, run)
        if other is None:
            free_finished_run(self.instance, None, holder)
        elif other.status not in LIVE_STATUSES:
            free_finished_run(self.instance, other)
        else:
            reason = dead_reason(dict(other.tags), now=now)
            if reason is not None:
                recovered = recover_run(self.instance, other, reason)
                self.instance.report_engine_event(f"run {self.run_id}: {recovered.message()}", run)
