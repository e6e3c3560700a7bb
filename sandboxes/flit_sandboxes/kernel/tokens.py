"""Access tokens of an OAuth token endpoint (client credentials), with their expiry.

In memory only: tokens do not survive a restart (clients fetch a new one on the 401). Expired
tokens are still recognised, as expired, for ``PURGE_AFTER_SECONDS``, so a sandbox can answer
"expired" rather than "invalid" like the vendors' gateways do.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

PURGE_AFTER_SECONDS = 3600.0


def _random_token() -> str:
    return secrets.token_urlsafe(32)


class TokenStore:
    """Issued bearer tokens and when they expire; thread-safe.

    Args:
        ttl_seconds: lifetime of a new token.
        clock: monotonic seconds; injectable for tests.
        make_token: a new random token string (the vendor's format; default 43 URL-safe characters).
    """

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic,
                 make_token: Callable[[], str] = _random_token):
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._make_token = make_token
        self._lock = threading.Lock()
        self._expires: dict[str, float] = {}
        self.issued = 0

    def issue(self) -> str:
        """A new token valid for ``ttl_seconds`` (long-expired ones are forgotten on the way)."""
        token = self._make_token()
        with self._lock:
            now = self._clock()
            self._expires = {t: e for t, e in self._expires.items() if e + PURGE_AFTER_SECONDS > now}
            self._expires[token] = now + self.ttl_seconds
            self.issued += 1
        return token

    def check(self, token: str | None) -> str:
        """``"valid"``, ``"expired"`` (known but past its expiry) or ``"invalid"``."""
        if not token:
            return "invalid"
        with self._lock:
            expires = self._expires.get(token)
        if expires is None:
            return "invalid"
        return "valid" if self._clock() < expires else "expired"

    def valid(self, token: str | None) -> bool:
        """The token was issued and has not expired."""
        return self.check(token) == "valid"

    def expire_all(self, only: str | None = None) -> int:
        """Make every issued token (or just ``only``, if known) expired now; returns how many."""
        with self._lock:
            now = self._clock()
            chosen = [only] if only is not None and only in self._expires else [] if only else list(self._expires)
            for token in chosen:
                self._expires[token] = min(self._expires[token], now)
            return len(chosen)

    def active(self) -> int:
        """Tokens currently valid."""
        with self._lock:
            now = self._clock()
            return sum(1 for e in self._expires.values() if e > now)
