"""Timestamp formats of the Pipedrive APIs (notes/pipedrive.md §5).

- v2 uses RFC 3339 UTC, e.g. ``2024-01-01T00:00:00Z``.
- v1 uses ``YYYY-MM-DD HH:MM:SS`` in UTC.

The sandbox stores every timestamp in the v2 form (fixed width, UTC, so string order is time
order) and converts to v1 when rendering v1 responses.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

V2_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
V1_FORMAT = "%Y-%m-%d %H:%M:%S"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2}))?$")


def utc_now() -> datetime:
    """Current UTC time truncated to whole seconds (Pipedrive timestamps carry no fraction)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def now_v2() -> str:
    """Current UTC time as a stored/v2 timestamp string."""
    return utc_now().strftime(V2_FORMAT)


def to_v2(moment: datetime) -> str:
    """Format an aware or naive-UTC datetime as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(V2_FORMAT)


def v2_to_v1(stamp: str | None) -> str | None:
    """Convert a stored v2 timestamp to the v1 ``YYYY-MM-DD HH:MM:SS`` form (None stays None)."""
    if not stamp:
        return None
    return stamp.replace("T", " ").rstrip("Z")


def parse_rfc3339(text: str) -> str:
    """Parse an RFC 3339 timestamp (``Z`` or offset) and return it normalised to stored v2 form.

    Raises:
        ValueError: not a string, or not RFC 3339 with an explicit zone.
    """
    if not isinstance(text, str) or "T" not in text.upper():
        raise ValueError("not an RFC 3339 timestamp")
    moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("RFC 3339 timestamps need a zone designator")
    return to_v2(moment)


def parse_v1_datetime(text: str) -> str:
    """Parse a v1 ``YYYY-MM-DD HH:MM:SS`` (UTC) timestamp to stored v2 form.

    Raises:
        ValueError: wrong type or format.
    """
    if not isinstance(text, str):
        raise ValueError("not a string")
    moment = datetime.strptime(text, V1_FORMAT).replace(tzinfo=timezone.utc)
    return to_v2(moment)


def parse_date(text: str) -> str:
    """Check a ``YYYY-MM-DD`` calendar date and return it unchanged.

    Raises:
        ValueError: wrong type, format, or an impossible date.
    """
    if not isinstance(text, str) or not _DATE.match(text):
        raise ValueError("not YYYY-MM-DD")
    date.fromisoformat(text)
    return text


def parse_clock_time(text: str) -> str:
    """Check ``HH:MM`` or ``HH:MM:SS`` and return it normalised to ``HH:MM:SS``.

    The v2 spec example shows ``due_time: "15:00:00"`` and ``duration: "01:00:00"``; clients
    send ``HH:MM`` (notes §4.5). Normalising to seconds follows the spec example (UNCONFIRMED).

    Raises:
        ValueError: wrong type or format, or out-of-range components.
    """
    match = _TIME.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError("not HH:MM[:SS]")
    hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError("time out of range")
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"
