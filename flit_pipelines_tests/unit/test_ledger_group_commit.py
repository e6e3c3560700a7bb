"""The ledger's group commit: concurrent writers share a transaction, and each returns only once its own
outcome is committed (or raises what that transaction raised)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, text

from flit_pipelines.ledger.ledger import Ledger, RecordOutcome

WRITERS = 5


def _record(ledger: Ledger, sid: str) -> None:
    ledger.record(migration="m", target="persons", run_id="r1", wave="full",
                  outcome=RecordOutcome(sid, "create", dest_id=f"d{sid}", payload_hash="h"))


def _until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "writers never queued"
        time.sleep(0.005)


def _queued_writers(ledger: Ledger) -> list:
    """Start WRITERS threads while the write lock is held, so all of them queue for the next commit."""
    ledger._lock.acquire()
    pool = ThreadPoolExecutor(WRITERS)
    futures = [pool.submit(_record, ledger, str(i)) for i in range(WRITERS)]
    _until(lambda: len(ledger._waiting) == WRITERS)
    pool.shutdown(wait=False)
    return futures


def test_writers_queued_during_a_commit_share_the_next_one(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    commits = []
    event.listen(ledger.engine, "commit", lambda conn: commits.append(threading.get_ident()))
    futures = _queued_writers(ledger)
    ledger._lock.release()
    for f in futures:
        f.result(timeout=30)
    assert len(commits) == 1  # five outcomes, one transaction
    crosswalk = ledger.crosswalk_frame("m", "persons")
    assert sorted(crosswalk["source_id"]) == [str(i) for i in range(WRITERS)]
    assert sorted(crosswalk["dest_id"]) == [f"d{i}" for i in range(WRITERS)]
    with ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_event WHERE target = 'persons'")).scalar() == WRITERS


def test_a_failed_group_commit_raises_in_every_writer_it_held(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    futures = _queued_writers(ledger)
    with ledger.engine.begin() as conn:  # the next transaction cannot insert its audit rows
        conn.execute(text("DROP TABLE audit_event"))
    ledger._lock.release()
    errors = []
    for f in futures:
        with pytest.raises(Exception) as caught:
            f.result(timeout=30)
        errors.append(caught.value)
    assert len(errors) == WRITERS
    assert ledger.crosswalk_frame("m", "persons").empty  # rolled back with the audit rows


def test_a_single_writer_commits_on_its_own(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    _record(ledger, "only")
    assert list(ledger.crosswalk_frame("m", "persons")["dest_id"]) == ["donly"]
