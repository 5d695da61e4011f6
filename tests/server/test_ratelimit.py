"""The token buckets of the rate limits, on a clock the test moves: the shared ones in the database
(``Limit``), and the one in a process's memory (``RateLimiter``)."""

import pytest
from sqlalchemy import func, select, text

from server import ratelimit
from server.app import sweep_once
from server.models import RateLimit
from server.ratelimit import Limit, RateLimiter
from tests.server.inprocess import in_process
from tests.support.databases import migrated_database
from tests.support.servers import sqlite_url

SIX_A_MINUTE = Limit("test", per_minute=6, burst=3)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_is_allowed_then_the_next_waits_for_one_token():
    """With 6 a minute and a burst of 3, the fourth call waits exactly 10 s."""
    limiter = RateLimiter(per_minute=6, burst=3, clock=Clock())
    assert [limiter.acquire("module:a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("module:a") == 10.0


def test_tokens_come_back_at_the_rate():
    """Four seconds after the burst, a token is 40 % back: the wait is 6 s; a bit later it passes."""
    clock = Clock()
    limiter = RateLimiter(per_minute=6, burst=3, clock=clock)
    for _ in range(3):
        limiter.acquire("module:a")
    clock.now += 4
    assert limiter.acquire("module:a") == pytest.approx(6.0)
    clock.now += 6.5
    assert limiter.acquire("module:a") == 0.0


def test_callers_have_buckets_of_their_own():
    """One caller's flood does not slow another."""
    limiter = RateLimiter(per_minute=6, burst=1, clock=Clock())
    assert limiter.acquire("module:a") == 0.0
    assert limiter.acquire("module:a") == 10.0
    assert limiter.acquire("module:b") == 0.0


def test_a_rate_of_zero_turns_the_limit_off():
    """per_minute=0 never refuses."""
    limiter = RateLimiter(per_minute=0, burst=1, clock=Clock())
    assert not limiter.enabled
    assert [limiter.acquire("module:a") for _ in range(50)] == [0.0] * 50


# -- shared limits, in the database ----------------------------------------------------------


@pytest.fixture(scope="module")
def database(backend, request, tmp_path_factory):
    with migrated_database(backend, request, tmp_path_factory) as db:
        yield db


@pytest.fixture
def key(request) -> str:
    """A key of this test's own, so that tests sharing the database keep apart."""
    return f"module:{request.node.name}"


def take(database, key: str, now: float, limit: Limit = SIX_A_MINUTE) -> float:
    with database.write() as session:
        return ratelimit.take(session, limit, key, now=now)


def test_a_shared_limit_allows_the_burst_then_waits_for_one_call(database, key):
    """With 6 a minute and a burst of 3, the fourth call at once waits exactly 10 s."""
    assert [take(database, key, 1000.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert take(database, key, 1000.0) == pytest.approx(10.0)


def test_a_shared_limit_gives_calls_back_at_its_rate(database, key):
    """Four seconds after the burst the wait is 6 s; a bit later a call passes, and only one."""
    for _ in range(3):
        take(database, key, 1000.0)
    assert take(database, key, 1004.0) == pytest.approx(6.0)
    assert take(database, key, 1010.5) == 0.0
    assert take(database, key, 1010.5) > 0


def test_a_refused_call_takes_nothing(database, key):
    """However many calls are refused, the wait only shrinks with time."""
    for _ in range(3):
        take(database, key, 1000.0)
    assert [take(database, key, 1001.0) for _ in range(20)] == [pytest.approx(9.0)] * 20
    assert take(database, key, 1010.0) == 0.0


def test_keys_and_limits_have_allowances_of_their_own(database, key):
    """One key's flood does not slow another key, nor the same key under another limit."""
    other_limit = Limit("test-other", per_minute=6, burst=1)
    assert [take(database, key, 1000.0) for _ in range(4)][-1] > 0
    assert take(database, f"{key}-b", 1000.0) == 0.0
    assert take(database, key, 1000.0, other_limit) == 0.0


def test_a_shared_limit_of_zero_per_minute_is_off_and_writes_nothing(database, key):
    """per_minute=0 never refuses and stores no row."""
    off = Limit("test-off", per_minute=0, burst=1)
    assert {take(database, key, 1000.0, off) for _ in range(20)} == {0.0}
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(RateLimit).where(RateLimit.name == "test-off")) == 0


def test_give_back_returns_one_call_and_forget_makes_the_allowance_whole(database, key):
    """After the burst, giving one back allows one more; forgetting allows a whole burst."""
    for _ in range(3):
        take(database, key, 1000.0)
    with database.write() as session:
        ratelimit.give_back(session, SIX_A_MINUTE, key)
    assert [take(database, key, 1000.0) for _ in range(2)] == [0.0, pytest.approx(10.0)]
    with database.write() as session:
        ratelimit.forget(session, SIX_A_MINUTE.name, key)
    assert [take(database, key, 1000.0) for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(10.0)]


def test_remembered_marks_last_until_their_time(database, key):
    """A mark is there until its time, then gone; forgetting it ends it at once."""
    with database.write() as session:
        ratelimit.remember(session, "test-mark", key, seconds=1000.0, now=1000.0)
    with database.read() as session:
        assert ratelimit.remembered(session, "test-mark", key, now=1999.0)
        assert not ratelimit.remembered(session, "test-mark", key, now=2000.0)
        assert not ratelimit.remembered(session, "test-mark", f"{key}-b", now=1000.0)


def test_prune_deletes_only_the_rows_that_say_nothing_any_more(database, key):
    """Once a bucket is whole again its row goes; a key still waiting keeps its row and its wait."""
    limit = Limit("test-prune", per_minute=6, burst=3)
    for _ in range(3):
        take(database, key, 5000.0, limit)
    take(database, f"{key}-light", 5000.0, limit)  # whole again at 5010
    with database.write() as session:
        pruned = ratelimit.prune(session, now=5015.0)
    assert pruned >= 1
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(RateLimit).where(RateLimit.name == limit.name)) == 1
    assert take(database, key, 5015.0, limit) == 0.0  # 1.5 calls back: one passes
    assert take(database, key, 5015.0, limit) == pytest.approx(5.0)


def test_prune_on_postgresql_passes_over_the_rows_a_take_holds_instead_of_waiting(request, tmp_path_factory, key):
    """A take in a transaction still open holds its row; prune deletes the other whole buckets at
    once and leaves that one for a later prune (waiting for it could deadlock with ``take_many``).
    PostgreSQL's alone: SQLite runs one writer at a time."""
    limit = Limit("test-prune-locked", per_minute=6, burst=3)
    with migrated_database("postgresql", request, tmp_path_factory) as database:
        for name in (f"{key}-held", f"{key}-free"):
            take(database, name, 7000.0, limit)
        with database.write() as holder:
            ratelimit.take(holder, limit, f"{key}-held", now=7000.0)
            with database.write() as session:
                session.execute(text("SET LOCAL lock_timeout = '5s'"))
                assert ratelimit.prune(session, now=9000.0) == 1
        with database.read() as session:
            left = session.scalars(select(RateLimit.key_hash).where(RateLimit.name == limit.name)).all()
    assert left == [ratelimit._row(limit.name, f"{key}-held")["key_hash"]]


def test_keys_are_stored_as_digests(database):
    """The table keeps no email or address in the clear."""
    take(database, "ada@example.test\n203.0.113.9", 1000.0)
    with database.read() as session:
        stored = session.scalars(select(RateLimit.key_hash).where(RateLimit.name == SIX_A_MINUTE.name)).all()
    assert stored and all(len(value) == 64 and "@" not in value for value in stored)


def test_without_a_time_given_the_databases_clock_counts(database, key):
    """The burst passes, then the next call waits about one interval; pruning now leaves the row."""
    limit = Limit("test-clock", per_minute=60, burst=2)
    with database.write() as session:
        waits = [ratelimit.take(session, limit, key) for _ in range(3)]
    assert waits[:2] == [0.0, 0.0] and 0.5 < waits[2] <= 1.0
    with database.write() as session:
        ratelimit.prune(session)
        assert ratelimit.take(session, limit, key) > 0


def test_take_alone_commits_at_once_and_counts_with_take(database, key):
    """Calls taken on their own count against the same allowance as those taken in a transaction."""
    limit = Limit("test-alone", per_minute=1, burst=2)
    assert ratelimit.take_alone(database, limit, key) == 0.0
    with database.write() as session:
        assert ratelimit.take(session, limit, key) == 0.0
    assert 0 < ratelimit.take_alone(database, limit, key) <= 60


def test_take_many_counts_each_key_once_per_time_it_is_named_and_answers_in_their_order(database, key):
    """Three keys, one named four times: its burst of three passes and its fourth waits; the waits
    come back in the order the keys were given, and the next ``take_alone`` counts what they took."""
    limit = Limit("test-many", per_minute=1, burst=3)
    keys = [f"{key}-z", key, f"{key}-a", key, key, key]
    waits = ratelimit.take_many(database, limit, keys)
    assert waits[:3] == [0.0, 0.0, 0.0] and waits[3:5] == [0.0, 0.0]
    assert 59 < waits[5] <= 60
    assert 0 < ratelimit.take_alone(database, limit, key) <= 60
    assert ratelimit.take_alone(database, limit, f"{key}-a") == 0.0


def test_take_many_of_no_keys_or_with_the_limit_off_writes_nothing(database, key):
    off = Limit("test-many-off", per_minute=0, burst=1)
    assert ratelimit.take_many(database, SIX_A_MINUTE, []) == []
    assert ratelimit.take_many(database, off, [key, key]) == [0.0, 0.0]
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(RateLimit).where(RateLimit.name == off.name)) == 0


def test_the_sweep_prunes_the_limits_that_say_nothing_any_more(tmp_path):
    """A server's periodic sweep deletes buckets that are whole again (taken long ago)."""
    with in_process(sqlite_url(tmp_path)) as client:
        state = client.app.state.sosqueue
        take(state.db, "module:long-ago", 1000.0)
        sweep_once(state)
        with state.db.read() as session:
            assert session.scalar(select(func.count()).select_from(RateLimit)) == 0
