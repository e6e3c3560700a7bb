"""Timestamps as HighLevel renders them: ISO 8601 UTC with milliseconds, e.g.
``2021-06-23T03:30:00.000Z`` (``dateAdded``/``dateUpdated`` examples in spec:contacts)."""

from __future__ import annotations

from datetime import datetime, timezone


def now_iso() -> str:
    """Current UTC time, ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    moment = datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 timestamp with ``Z`` or an offset into an aware datetime.

    Raises:
        ValueError: not a string or no zone designator.
    """
    if not isinstance(text, str):
        raise ValueError("not a string")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("timestamp needs a zone designator")
    return moment


def epoch_ms(text: str) -> int:
    """Milliseconds since the epoch of an ISO timestamp (search cursors, overlap checks)."""
    return int(parse_iso(text).timestamp() * 1000)
