"""Delta waves: partition names, the sensor cursor, and the pickup window (issue 5 "Delta pickup").

A delta wave is a dynamic partition ``delta-<YYYYMMDDTHHMMSS>``; the timestamp is the ``since`` its
extracts apply (the sensor's cursor minus the spec's overlap), in the source's own convention: naive
wall time for databases (Dentrix timestamps carry no zone, notes sources.md §1.2), UTC for the APIs
(``Source.read``). Sources without any modification timestamp (CSV exports) name the partition after
the tick instead; their objects are read whole and compared by payload hash.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import pandas as pd

PREFIX = "delta-"
_FORMAT = "%Y%m%dT%H%M%S"


def is_delta(wave: str) -> bool:
    """True for a ``delta-...`` wave partition."""
    return wave.startswith(PREFIX)


def partition_for(moment: datetime) -> str:
    """``delta-YYYYMMDDTHHMMSS`` for a naive datetime (seconds precision, floor)."""
    return PREFIX + moment.strftime(_FORMAT)


def since_of(wave: str) -> datetime:
    """The naive ``since`` a delta partition stands for (a ``-<n>`` suffix, see ``next_partition``, is
    ignored). Raises ValueError for another wave name."""
    if not is_delta(wave):
        raise ValueError(f"{wave!r} is not a delta wave")
    return datetime.strptime(wave.removeprefix(PREFIX).split("-", 1)[0], _FORMAT)


def next_partition(since: datetime, exists) -> str:
    """``partition_for(since)``, or with ``-002``, ``-003``, ... when ``exists(name)`` says a tick already used
    it (the cursor did not move: the change was a deletion or in an object without timestamps). The
    suffixes sort after the plain name, so each snapshot still builds on the one before."""
    name = partition_for(since)
    n = 1
    while exists(name if n == 1 else f"{name}-{n:03d}"):  # zero-padded: sorts in tick order
        n += 1
    return name if n == 1 else f"{name}-{n:03d}"


def naive_newest(values: pd.Series) -> datetime | None:
    """The newest timestamp of a column (text or datetime; aware values to naive UTC, naive kept as
    they are), or None when it holds none."""
    text = values.dtype == object or pd.api.types.is_string_dtype(values)
    ts = pd.to_datetime(values, errors="coerce", utc=True, **({"format": "ISO8601"} if text else {}))
    newest = ts.max()
    if pd.isna(newest):
        return None
    return newest.tz_convert(None).to_pydatetime()


@dataclass
class DeltaCursor:
    """The delta sensor's cursor (JSON in Dagster's sensor cursor).

    ``full_at``: the full wave's completion (epoch seconds) this window belongs to; a new full wave
    resets the cursor. ``since``: the newest source modification seen (naive ISO text, the source's
    convention). ``fingerprints``: object -> content hash of objects without ``modified_at``.
    ``ticks_with_changes``: delta runs requested in this window.
    """

    full_at: float | None = None
    since: str | None = None
    fingerprints: dict[str, str] = field(default_factory=dict)
    ticks_with_changes: int = 0

    @classmethod
    def parse(cls, text: str | None) -> DeltaCursor:
        """From the sensor cursor text (None or empty: a fresh cursor)."""
        return cls(**json.loads(text)) if text else cls()

    def dump(self) -> str:
        """JSON text for ``SensorResult(cursor=...)``."""
        return json.dumps(asdict(self), sort_keys=True)

    def since_dt(self) -> datetime | None:
        """``since`` as a naive datetime."""
        return datetime.fromisoformat(self.since) if self.since else None


def window_end(full_at: float, hours: float) -> float:
    """Epoch seconds at which the pickup window closes."""
    return full_at + timedelta(hours=hours).total_seconds()
