"""The retry policy of every client (tenacity), and the exactly-once rule for creates.

What happens to a failed attempt depends only on what the answer says (``errors`` markers):

* **429** (:class:`RateLimitedError`): the request was not executed. The client's limiter has
  already paused every thread for the vendor's wait (``RateLimiter.on_429``, charged to the wave's
  patience), so the attempt is simply repeated: always, even a create, with no retry count.
* **5xx, 408, 409, no answer** (:class:`TransientError`): repeated only when the request is
  idempotent (GET, PUT, PATCH, DELETE, read-only searches) or was never sent, after an exponential
  backoff with jitter (0.5, 1, 2 ... 30 s), at most ``max_retries`` times per request; then the last
  error is raised. A create whose answer was lost is *not* repeated here: :func:`send_once` first
  looks for what it may have created.
* anything else (a 4xx saying the request is wrong, 401/403): raised at once.

Waits run on the client's :class:`~flit_pipelines.http.clock.Clock`; each repeat adds 1 to
``stats.retries``. Log lines name the request's label (a path template) and the status only.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, retry_if_exception_type, stop_after_attempt

from flit_pipelines.http.clock import SYSTEM_CLOCK, Clock
from flit_pipelines.http.errors import RateLimitedError, TransientError

__all__ = ["LookupFailed", "RetryPolicy", "TRANSIENT_STATUSES", "call_with_retries", "is_transient_status",
           "send_once"]

T = TypeVar("T")


class RetryCounter(Protocol):
    """Where retries are counted: ``http.stats.Counters`` or a client's own stats with ``add``."""

    def add(self, name: str, delta: int = 1) -> None: ...
log = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({408, 409})  # plus every 5xx
_RATE_LIMIT_JITTER = 0.1  # seconds: spreads the threads released together after a 429 pause


def is_transient_status(status: int) -> bool:
    """5xx, 408 (request timeout) and 409 (conflict): the record is not what is wrong."""
    return status >= 500 or status in TRANSIENT_STATUSES


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of transient failures (the module docstring); 429s are not counted.

    Attributes:
        max_retries: transient failures repeated per request (0: none).
        backoff_initial / backoff_max / jitter: exponential wait ``initial * 2**(n-1)`` plus up to
            ``jitter``, capped at ``backoff_max`` (seconds; tenacity's ``wait_exponential_jitter``).
    """

    max_retries: int = 8
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    jitter: float = 0.5

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th transient failure (1-based)."""
        step = self.backoff_initial * 2 ** min(max(failures, 1) - 1, 30)
        return min(self.backoff_max, step + random.uniform(0.0, self.jitter))


def call_with_retries(attempt: Callable[[], T], *, policy: RetryPolicy, repeatable: bool, clock: Clock = SYSTEM_CLOCK,
                      stats: RetryCounter | None = None, label: str = "", logger: logging.Logger | None = None) -> T:
    """``attempt()`` under the policy; returns its result.

    ``attempt`` sends one request and raises a :class:`RateLimitedError` (after the limiter's
    pause was set) or a :class:`TransientError` (with ``sent``) for the failures to repeat;
    ``repeatable`` says whether a transient failure may be repeated although sent.

    Raises:
        The last exception of ``attempt``: a transient failure after ``policy.max_retries``
        repeats, or at once when not repeatable; any other exception at once.
        ``PatienceExhausted`` propagates from the limiter (the wave's patience is spent).
    """
    logger = logger or log
    transient = 0

    def retry(exc: BaseException) -> bool:
        if isinstance(exc, RateLimitedError):
            return True
        return isinstance(exc, TransientError) and (repeatable or not exc.sent)

    def stop(state: RetryCallState) -> bool:
        nonlocal transient
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError):
            return False
        transient += 1
        return transient > policy.max_retries

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError):
            return random.uniform(0.0, _RATE_LIMIT_JITTER)  # the limiter's pause is the real wait
        return policy.backoff(transient)

    def before_sleep(state: RetryCallState) -> None:
        if stats is not None:
            stats.add("retries")
        exc = state.outcome.exception() if state.outcome else None
        if not isinstance(exc, RateLimitedError):
            status = getattr(exc, "status", None) or "no response"
            logger.warning("%s: %s, retry %d of %d", label, status, transient, policy.max_retries)

    return Retrying(retry=retry_if_exception(retry), stop=stop, wait=wait, sleep=clock.sleep,
                    before_sleep=before_sleep, reraise=True)(attempt)


class LookupFailed(RuntimeError):
    """The lookup after a create's lost answer got no answer itself: whether the record exists is
    unknown, so the create is not sent again (``send_once``). The message is the lookup's error."""


def send_once(send: Callable[[], T], find: Callable[[], T | None], *, policy: RetryPolicy,
              clock: Clock = SYSTEM_CLOCK, stats: RetryCounter | None = None) -> tuple[T, bool]:
    """A non-idempotent request (a create) whose effect must happen exactly once.

    ``send()`` performs it and raises a :class:`TransientError` when its outcome is unknown (the
    answer was lost, a timeout, a 5xx). Unless the request was never sent, ``find()`` then looks for
    what it would have made (by the record's source key): found -> that is the result; not found
    -> nothing was created, so after the policy's backoff it is sent again, at most
    ``policy.max_retries`` times.

    Returns:
        ``(result, adopted)``: adopted is True when ``find`` supplied the result.

    Raises:
        The last :class:`TransientError` when every send's outcome stayed unknown and ``find``
        found nothing; :class:`LookupFailed` when ``find`` itself got no answer (a transient error
        after its own retries); whatever else ``send``/``find`` raise.
    """

    def attempt() -> tuple[T, bool]:
        try:
            return send(), False
        except TransientError as exc:
            if not exc.sent:
                raise
            try:
                found = find()
            except TransientError as lookup_error:
                raise LookupFailed(str(lookup_error)) from None
            if found is not None:
                return found, True
            raise

    def before_sleep(_state: RetryCallState) -> None:
        if stats is not None:
            stats.add("retries")

    return Retrying(retry=retry_if_exception_type(TransientError), stop=stop_after_attempt(policy.max_retries + 1),
                    wait=lambda state: policy.backoff(state.attempt_number), sleep=clock.sleep,
                    before_sleep=before_sleep, reraise=True)(attempt)
