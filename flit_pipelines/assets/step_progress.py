"""Progress lines in a Dagster step's log: a :class:`~flit_pipelines.progress.StepProgress` whose due
lines go to ``context.log.info`` (every 10 % or 5 s, see ``flit_pipelines.progress``), so a run's
event log shows how far a long load or extract has got, at what rate, and how many 429s and retries
it met. Numbers and names only; never a record's value.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from flit_pipelines.progress import StepProgress, write_requests_per_second

__all__ = ["step_progress"]


def step_progress(context: dg.AssetExecutionContext, step: str, total: int | None = None, *,
                  unit: str = "records", client: Any = None) -> StepProgress:
    """A progress reporter for the running step that logs due lines at INFO.

    Args:
        context: the asset's execution context (its log receives the lines).
        step: the name shown, e.g. ``load persons``.
        total: units to do (None: unknown, e.g. rows an extract will read).
        unit: ``records`` (loads) or ``rows`` (extracts).
        client: the destination client: its ``write_limiter`` gives the ETA's rate, its ``stats`` the
            429 and retry counts (None: neither).
    """
    stats = getattr(client, "stats", None)
    return StepProgress(step, total, unit=unit, emit=lambda snap: context.log.info(snap.text()),
                        limit_per_second=(lambda: write_requests_per_second(client)) if client is not None else None,
                        counters=stats.snapshot if stats is not None else None)
