"""How long a wave may be held by a vendor's rate limit before it stops cleanly (issue 9.6).

A 429 is not an error: the request was not executed, so it is repeated, after the wait the vendor
asks for (``Retry-After``, Pipedrive's ``x-ratelimit-reset``, else a backoff), for as long as it
takes, with no per-request retry count. What bounds a storm is the wave's **patience**: the total
time every thread of the wave's clients was held by 429 pauses (the union of the pauses, so eight
threads waiting the same two seconds cost two seconds). When the next pause would take the total
over the budget, :class:`~flit_pipelines.http.errors.PatienceExhausted` is raised *before*
waiting: the load stops with a message that says what to do, and a re-run continues from the ledger.

The budget is a spec setting, ``rate_limit_patience_seconds`` (default 1800 = 30 minutes), of the
destination (``destination.settings``) and of API sources (``source.rate_limit_patience_seconds``).
``for_wave`` shares one budget between the clients opened for the same run, so the load steps of a
wave draw on one patience in the (default) in-process executor; a step in its own process has its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from flit_pipelines.http.errors import PatienceExhausted

__all__ = ["DEFAULT_PATIENCE_SECONDS", "PATIENCE_SETTING", "Patience", "for_wave"]

DEFAULT_PATIENCE_SECONDS = 1800.0
PATIENCE_SETTING = "rate_limit_patience_seconds"
_KEPT_WAVES = 32  # shared budgets remembered per process (older runs are long finished)


class Patience:
    """A thread-safe budget of seconds of rate-limit waiting.

    Args:
        budget_seconds: the total allowed (> 0).
        setting: the spec setting that sets it (named in the stop message).
        who: the vendor or side being waited on ("Pipedrive", "the PracticeHub API").

    Raises:
        ValueError: ``budget_seconds`` not positive.
    """

    def __init__(self, budget_seconds: float = DEFAULT_PATIENCE_SECONDS, *,
                 setting: str = f"settings.{PATIENCE_SETTING}", who: str = "the API"):
        if not budget_seconds > 0:
            raise ValueError("the rate-limit patience must be a positive number of seconds")
        self.budget = float(budget_seconds)
        self.setting = setting
        self.who = who
        self._spent = 0.0
        self._lock = threading.Lock()

    @property
    def spent(self) -> float:
        """Seconds charged so far."""
        return self._spent

    def charge(self, seconds: float) -> None:
        """Take ``seconds`` (>= 0) from the budget.

        Raises:
            PatienceExhausted: the budget would be exceeded; nothing is charged then.
        """
        with self._lock:
            if self._spent + seconds > self.budget:
                raise PatienceExhausted(self._spent, self.budget, self.setting, self.who)
            self._spent += max(0.0, seconds)


_WAVES: OrderedDict[Hashable, Patience] = OrderedDict()
_WAVES_LOCK = threading.Lock()


def for_wave(key: Hashable | None, budget_seconds: float | None, *, setting: str, who: str) -> Patience:
    """The patience of wave run ``key`` (e.g. ``(migration, "destination", run_id)``), created with
    ``budget_seconds`` (None: the default) on first use; a fresh one for every call when ``key`` is
    None (a client opened outside a wave run)."""
    budget = DEFAULT_PATIENCE_SECONDS if budget_seconds is None else float(budget_seconds)
    if key is None:
        return Patience(budget, setting=setting, who=who)
    with _WAVES_LOCK:
        patience = _WAVES.get(key)
        if patience is None:
            patience = _WAVES[key] = Patience(budget, setting=setting, who=who)
            while len(_WAVES) > _KEPT_WAVES:
                _WAVES.popitem(last=False)
        return patience
