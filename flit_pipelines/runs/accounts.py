"""One run per account, for runs the run queue does not see (``flit run`` executes in its own process).

The run queue (``QueuedRunCoordinator``, ``dagster_home/dagster.yaml``) starts at most one run per value of
``flit/destination_account`` and ``flit/source_account``. ``flit run`` executes in process, outside the
queue, so before it starts it looks at the instance's live runs (STARTING, STARTED, CANCELING) with the
same account tag: finding one, it refuses (``AccountBusyError``, naming the run) or, asked to, waits until
that run ends. Runs whose ``flit run`` process is gone are recovered first (``liveness.recover_dead_runs``),
so a killed run never holds its account. The queue sees in-process runs too: it counts every STARTED run
with the tag, so a queued run for the account waits for a ``flit run`` that holds it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping

import dagster as dg

from flit_pipelines.errors import FlitError
from flit_pipelines.runs.liveness import LIVE_STATUSES, recover_dead_runs
from flit_pipelines.tenants import DESTINATION_ACCOUNT_TAG, SOURCE_ACCOUNT_TAG

__all__ = ["ACCOUNT_TAGS", "AccountBusyError", "account_holders", "poll_seconds", "wait_for_accounts"]

ACCOUNT_TAGS = (DESTINATION_ACCOUNT_TAG, SOURCE_ACCOUNT_TAG)
log = logging.getLogger("flit_pipelines.runs")


class AccountBusyError(FlitError, RuntimeError):
    """Another live run writes to (or reads from) the same account; the message names it and the tag."""


def poll_seconds() -> float:
    """How often a waiting ``flit run`` looks again: ``FLIT_ACCOUNT_POLL_SECONDS`` (default 5)."""
    return float(os.environ.get("FLIT_ACCOUNT_POLL_SECONDS") or 5.0)


def account_holders(instance: dg.DagsterInstance, tags: Mapping[str, str],
                    exclude_run_id: str | None = None) -> list[tuple[str, str, dg.DagsterRun]]:
    """``(tag key, value, run)`` of every live run holding one of the account tags in ``tags``."""
    out = []
    for key in ACCOUNT_TAGS:
        value = tags.get(key)
        if not value:
            continue
        for rec in instance.get_run_records(filters=dg.RunsFilter(tags={key: value}, statuses=LIVE_STATUSES)):
            if rec.dagster_run.run_id != exclude_run_id:
                out.append((key, value, rec.dagster_run))
    return out


def _sentence(holders: list[tuple[str, str, dg.DagsterRun]]) -> str:
    return "; ".join(f"run {run.run_id} ({run.job_name}, tenant {run.tags.get('flit/tenant', 'default')}, "
                     f"{run.status.value}) holds {key}={value}" for key, value, run in holders)


def wait_for_accounts(instance: dg.DagsterInstance, tags: Mapping[str, str], *, wait: bool,
                      poll: float | None = None, sleep: Callable[[float], None] = time.sleep,
                      timeout: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
    """Return when no live run holds the accounts in ``tags``. With ``wait`` False, raise AccountBusyError
    at once when one does; with ``wait``, log once per holder and look again every ``poll`` seconds
    (recovering runs whose process died) until they end, or raise AccountBusyError after ``timeout``."""
    start, said = clock(), set[str]()
    while True:
        recover_dead_runs(instance)
        holders = account_holders(instance, tags)
        if not holders:
            return
        if not wait:
            raise AccountBusyError(f"not started: {_sentence(holders)}; one account takes one run at a time. "
                                   f"Wait for it (or add --wait), or stop it if it should not run.")
        if timeout is not None and clock() - start > timeout:
            raise AccountBusyError(f"gave up after {timeout:.0f} s waiting: {_sentence(holders)}")
        fresh = [h for h in holders if h[2].run_id not in said]
        if fresh:
            log.warning(f"waiting for the account: {_sentence(fresh)}")
            said.update(h[2].run_id for h in fresh)
        sleep(poll if poll is not None else poll_seconds())
