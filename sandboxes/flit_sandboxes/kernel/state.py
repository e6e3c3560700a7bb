"""The base of every sandbox's state object, the one at ``app.state.sandbox``.

The kernel's gateway and admin endpoints use three services of it (``faults``, ``stats``,
``limiter``); ``serving`` closes it on shutdown. A sandbox subclass adds its settings and data
(store, practice, tokens, ...) and releases them in ``release``.
"""

from __future__ import annotations

from collections.abc import Callable

from flit_sandboxes.kernel.faults import FaultInjector
from flit_sandboxes.kernel.ratelimit import RateLimiter
from flit_sandboxes.kernel.stats import RequestStats


class SandboxState:
    """Fault rules, request counters, the rate limiter, and an idempotent ``close``.

    Args:
        limiter: the sandbox's limiter (limits and key are the vendor's).
        fault_paths: how fault rule prefixes are normalised (``FaultInjector``); None: as given.
    """

    def __init__(self, limiter: RateLimiter, fault_paths: Callable[[str], str] | None = None):
        self.limiter = limiter
        self.faults = FaultInjector(fault_paths)
        self.stats = RequestStats()
        self._closed = False

    def close(self) -> None:
        """Release the sandbox's resources (``release``) the first time; later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        self.release()

    def release(self) -> None:
        """Persist what must survive a restart and close files; subclasses override."""
