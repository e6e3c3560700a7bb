"""The progress reporter (``flit_pipelines.progress``) on a manual clock: ETA from the destination's
rate limit, when a line is due, 429 and retry counts from the client's counters, listeners."""

from __future__ import annotations

from flit_pipelines.http.rate_limit import RateLimiter
from flit_pipelines.http.stats import ClientStats
from flit_pipelines.progress import StepProgress, format_duration, listen, write_requests_per_second
from flit_pipelines_tests.http_layer.clock import ManualClock


class _Client:
    def __init__(self, limit: int, window: float, clock: ManualClock):
        self.stats = ClientStats()
        self.write_limiter = RateLimiter(limit, window, clock=clock)


def test_eta_comes_from_the_rate_limit_and_counts_from_the_client():
    clock = ManualClock()
    client = _Client(limit=20, window=2.0, clock=clock)  # 10 requests/s
    client.stats.add("requests", 7)  # an earlier step's requests are not this step's
    lines = []
    p = StepProgress("load persons", 480, emit=lines.append, clock=clock,
                     limit_per_second=lambda: write_requests_per_second(client), counters=client.stats.snapshot)
    p.update(0)
    assert lines[0].eta == 48.0  # 480 records at 10 requests/s before anything was measured
    assert lines[0].text() == ("load persons: 0/480 records (0 %), ETA 48 s (limit 10.0 req/s), "
                               "429s 0, retries 0")
    assert p.limit_per_second == 10.0
    clock.advance(12.0)
    client.stats.add("requests", 150)  # 120 records took 150 requests (30 repeated after 429s)
    client.stats.add("retries", 30)
    client.stats.add("responses_429", 30)
    p.update(120)
    snap = lines[-1]
    assert (snap.done, snap.rate, snap.responses_429, snap.retries) == (120, 10.0, 30, 30)
    assert snap.eta == 360 * 1.25 / 10.0  # 1.25 requests per record at the limit: slower than measured
    assert snap.text() == ("load persons: 120/480 records (25 %), 10.0/s, ETA 45 s (limit 10.0 req/s), "
                           "429s 30, retries 30")
    client.write_limiter.set_limit(40)  # the server's header states a higher limit: read at every update
    snap = p.snapshot()
    assert snap.limit_per_second == 20.0
    assert snap.eta == 360 / 10.0  # at 20 requests/s the limit allows 22.5 s; the measured 10 records/s is slower


def test_the_measured_rate_sets_the_eta_when_slower_than_the_limit_or_without_one():
    clock = ManualClock()
    p = StepProgress("load Contact", 100, clock=clock)  # no limit to read (bulk API)
    assert p.snapshot().eta is None
    clock.advance(10.0)
    p.update(20)  # 2 records/s
    assert p.snapshot().eta == 40.0
    q = StepProgress("load persons", 100, clock=clock, limit_per_second=50.0)
    clock.advance(10.0)
    q.update(10)  # 1 record/s, far below the limit of 50/s
    assert q.snapshot().eta == 90.0


def test_lines_are_due_every_tenth_at_most_once_a_second_and_every_five_seconds():
    clock = ManualClock()
    lines = []
    p = StepProgress("load persons", 1000, emit=lines.append, clock=clock)
    p.update(0)
    assert len(lines) == 1  # the first update
    for done in range(1, 1001):  # a fast step: 256 records a second (an exact binary step)
        clock.advance(1 / 256)
        p.update(done)
    assert [s.done for s in lines] == [0, 256, 512, 768]  # 10 % boundaries, but at most one line a second
    p.finish()
    assert lines[-1].finished and lines[-1].text().startswith("load persons: 1000/1000 records (100 %)")
    assert "done in 4 s" in lines[-1].text()
    p.finish()
    assert len(lines) == 5  # idempotent

    slow = []
    s = StepProgress("load persons", 1_000_000, emit=slow.append, clock=clock)
    s.update(0)
    for _ in range(30):  # a stalled step (429 pauses) repeats its count every second
        clock.advance(1.0)
        s.update(0)
    assert len(slow) == 1 + 6  # one line per 5 s while nothing moves: never silent for longer


def test_tick_and_unknown_totals():
    clock = ManualClock()
    lines = []
    p = StepProgress("extract patients", unit="rows", emit=lines.append, clock=clock)
    p.advance(1000)
    clock.advance(2.0)
    p.tick()  # interval not up
    assert len(lines) == 1
    clock.advance(3.0)
    p.tick()
    assert len(lines) == 2
    assert lines[-1].eta is None and lines[-1].fraction is None
    assert lines[-1].text() == "extract patients: 1000 rows, 200.0/s, 5 s so far, 429s 0, retries 0"


def test_listeners_see_every_update_only_while_listening():
    clock = ManualClock()
    seen = []
    p = StepProgress("load persons", 10, clock=clock)
    with listen(seen.append):
        for done in range(1, 11):
            p.update(done)
    p.update(10)
    assert [s.done for s in seen] == list(range(1, 11))


def test_format_duration():
    assert [format_duration(x) for x in (None, 4.4, 65, 3725)] == ["?", "4 s", "1 min 05 s", "1 h 02 min"]
