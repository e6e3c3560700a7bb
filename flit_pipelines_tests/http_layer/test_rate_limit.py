"""The shared limiter, the wave's patience and the retry policy, on a manual clock (no sleeping)."""

from __future__ import annotations

import pickle

import pytest

from flit_pipelines.http.errors import PatienceExhausted, RateLimitedError, TransientError
from flit_pipelines.http.patience import Patience, for_wave
from flit_pipelines.http.rate_limit import MIN_RATE_LIMIT_PAUSE, RateLimiter
from flit_pipelines.http.retry import RetryPolicy, call_with_retries, send_once
from flit_pipelines.http.stats import ClientStats
from flit_pipelines_tests.http_layer.clock import ManualClock


def test_window_admits_limit_then_waits_for_the_oldest_slot():
    clock = ManualClock()
    limiter = RateLimiter(5, 2.0, safety_ms=0, clock=clock)
    for _ in range(5):
        limiter.acquire()
    assert clock.slept == []
    limiter.acquire()  # the 6th waits until the first leaves the 2 s window
    assert 1.99 <= clock.total_slept <= 2.01
    assert limiter.own_in_window() == 1  # the first five left the window while it waited


def test_lowering_the_limit_keeps_the_requests_already_in_the_window():
    clock = ManualClock()
    limiter = RateLimiter(100, 0.4, safety_ms=0, clock=clock)
    for _ in range(5):
        limiter.acquire()
    assert limiter.set_limit(5) is True and limiter.set_limit(5) is False
    limiter.acquire()  # the 6th must wait for the oldest of the 5 to leave the window
    assert clock.total_slept >= 0.4
    before = clock.total_slept
    limiter.pause(0.3)
    limiter.acquire()
    assert clock.total_slept - before >= 0.299


def test_a_wider_window_from_the_server_is_adopted():
    clock = ManualClock()
    limiter = RateLimiter(2, 1.0, safety_ms=0, clock=clock)
    assert limiter.set_window(10.0) is True and limiter.window_seconds == 10.0
    limiter.acquire()
    limiter.acquire()
    limiter.acquire()
    assert clock.total_slept >= 10.0


def test_latency_widens_the_margin():
    clock = ManualClock()
    limiter = RateLimiter(2, 1.0, safety_ms=0, clock=clock)
    limiter.observe_latency(0.3)
    for _ in range(3):
        limiter.acquire()
    assert clock.total_slept >= 1.3  # window + worst round trip


def test_429_pauses_are_charged_once_for_all_threads_and_the_patience_stops_the_wave():
    clock = ManualClock()
    stats = ClientStats()
    patience = Patience(10.0, setting="destination.settings.rate_limit_patience_seconds", who="Pipedrive")
    limiter = RateLimiter(100, 2.0, clock=clock, patience=patience, stats=stats)
    assert limiter.on_429(4.0) == 4.0
    limiter.on_429(4.0)  # a second thread's 429 from the same window: the pause is already in force
    assert patience.spent == pytest.approx(4.0) and stats.rate_limit_wait_seconds == pytest.approx(4.0)
    limiter.acquire()
    assert clock.total_slept == pytest.approx(4.0)
    limiter.on_429(5.0)
    with pytest.raises(PatienceExhausted) as info:
        limiter.on_429(5.0 + 2.0)  # extends the pause by 2 s more than the 1 s left
    exc = info.value
    assert exc.spent == pytest.approx(9.0) and exc.budget == 10.0
    assert "rate_limit_patience_seconds" in str(exc) and "Re-run the wave" in str(exc)
    assert pickle.loads(pickle.dumps(exc)).budget == 10.0


def test_429_without_a_wait_backs_off_and_zero_waits_still_use_patience():
    clock = ManualClock()
    limiter = RateLimiter(100, 2.0, clock=clock, patience=Patience(100.0), max_backoff=4.0)
    assert [limiter.on_429(None) for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    limiter.on_success()
    assert limiter.on_429(None) == 0.5
    storm = RateLimiter(100, 2.0, clock=clock, patience=Patience(1.0))
    with pytest.raises(PatienceExhausted):
        for _ in range(10_000):  # "Retry-After: 0" forever still ends
            storm.on_429(0.0)
            storm.acquire()
    assert clock.total_slept >= 1.0 - MIN_RATE_LIMIT_PAUSE


def test_remaining_zero_pauses_only_when_our_own_traffic_does_not_explain_it():
    clock = ManualClock()
    limiter = RateLimiter(2, 2.0, safety_ms=0, clock=clock, patience=Patience(0.001))
    limiter.acquire()
    limiter.hold_if_exhausted(0, 10.0)  # one of ours, the server says 0 left: foreign traffic
    limiter.acquire()
    assert clock.slept == [pytest.approx(10.0)]  # not charged to the patience (pacing, not a 429)
    clock.slept.clear()
    clock.advance(2.5)
    limiter.acquire()
    limiter.acquire()
    limiter.hold_if_exhausted(0, 10.0)  # our own burst explains the 0: no pause on top
    clock.advance(2.5)
    limiter.acquire()
    assert clock.slept == []


def test_patience_is_shared_by_the_clients_of_one_wave():
    a = for_wave(("m", "destination", "run-1"), 60, setting="s", who="x")
    assert for_wave(("m", "destination", "run-1"), 60, setting="s", who="x") is a
    assert for_wave(("m", "destination", "run-2"), 60, setting="s", who="x") is not a
    assert for_wave(None, 60, setting="s", who="x") is not for_wave(None, 60, setting="s", who="x")
    with pytest.raises(ValueError):
        Patience(0)


class _Limited(RateLimitedError):
    pass


class _Lost(TransientError):
    def __init__(self, sent: bool = True, status: int = 0):
        super().__init__("lost")
        self.sent, self.status = sent, status


def test_429s_are_repeated_without_a_count_and_transients_only_when_repeatable():
    clock = ManualClock()
    stats = ClientStats()
    answers = iter([_Limited()] * 300 + ["done"])

    def attempt():
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a

    policy = RetryPolicy(max_retries=2)
    assert call_with_retries(attempt, policy=policy, repeatable=False, clock=clock, stats=stats) == "done"
    assert stats.retries == 300
    calls = []

    def flaky():
        calls.append(1)
        raise _Lost(status=503)

    with pytest.raises(_Lost):
        call_with_retries(flaky, policy=policy, repeatable=True, clock=clock)
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(_Lost):
        call_with_retries(flaky, policy=policy, repeatable=False, clock=clock)
    assert len(calls) == 1
    calls.clear()

    def never_sent():
        calls.append(1)
        if len(calls) < 2:
            raise _Lost(sent=False)
        return "ok"

    assert call_with_retries(never_sent, policy=policy, repeatable=False, clock=clock) == "ok"


def test_transient_backoff_grows_and_is_capped():
    policy = RetryPolicy(backoff_initial=0.5, backoff_max=3.0, jitter=0.0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_send_once_looks_up_before_sending_again():
    clock = ManualClock()
    created: list[str] = []
    sends = iter(["lost-after-executing", "lost-before-executing", "ok"])

    def send():
        what = next(sends)
        if what == "lost-after-executing":
            created.append("r1")
            raise _Lost()
        if what == "lost-before-executing":
            raise _Lost()
        created.append("r2")
        return "r2"

    found = iter([None, None])
    # the first loss had executed, but the lookup comes back empty (e.g. index lag): sent again
    result, adopted = send_once(send, lambda: next(found, None), policy=RetryPolicy(), clock=clock)
    assert (result, adopted) == ("r2", False)
    records = {"k": None}

    def send_executing():
        records["k"] = "r9"
        raise _Lost()

    assert send_once(send_executing, lambda: records["k"], policy=RetryPolicy(), clock=clock) == ("r9", True)
    with pytest.raises(_Lost):
        send_once(lambda: (_ for _ in ()).throw(_Lost()), lambda: None, policy=RetryPolicy(max_retries=2),
                  clock=clock)
