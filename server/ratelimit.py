"""Rate limits: a burst, then a steady rate, per caller.

A ``Limit`` is shared by every server process of a deployment and survives restarts: it lives in
the database's ``rate_limits`` table. Each caller's allowance is a token bucket kept as one
number, the time at which its bucket is whole again (the "theoretical arrival time" of the
generic cell rate algorithm): one more call is allowed while that time is at most
``(burst - 1) × interval`` ahead, and moves it one ``interval`` on. So a check is one short
statement, ``INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING`` (SQLite ≥ 3.35 and PostgreSQL
alike), which writes only when it allows; a refusal reads the row once more for its wait. The
time is the database's, read when the statement reaches the row: processes on hosts whose clocks
differ, or that waited for a connection or for the row's lock, all count on one clock. A row
whose bucket is whole again says nothing more: ``prune`` deletes it. Keys are stored as SHA-256,
so the table holds no email or address.

``RateLimiter`` is the same bucket in this process's memory, for what lives in one process
anyway: the input messages of one expert's socket.
"""

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from server import driver_sql
from server.db import Database

_MAX_TRACKED = 100_000
# A refusal always asks for some wait, also when a concurrent call has just changed the row.
_LEAST_WAIT = 0.001


@dataclass(frozen=True)
class Limit:
    """``burst`` calls at once, then ``per_minute``, for each key; 0 per minute turns it off."""

    name: str
    per_minute: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    @property
    def interval(self) -> float:
        """Seconds for one call to come back."""
        return 60.0 / self.per_minute

    @property
    def tolerance(self) -> float:
        """How far ahead of now the bucket's whole-again time may be while one call is left."""
        return (self.burst - 1) * self.interval


# The statements, in the SQL that SQLite (>= 3.35) and PostgreSQL share but for the clock; as text,
# since SQLAlchemy would compile an ON CONFLICT statement again on every call (~1 ms). {now} is the
# time given, else the database's clock, read when the row is reached: after any wait for its lock.
_STATEMENTS = {
    "take": "INSERT INTO rate_limits (name, key_hash, full_at) VALUES (:name, :key_hash, {now} + :interval) "
            "ON CONFLICT (name, key_hash) DO UPDATE "
            "SET full_at = CASE WHEN rate_limits.full_at > {now} THEN rate_limits.full_at ELSE {now} END + :interval "
            "WHERE rate_limits.full_at <= {now} + :tolerance "
            "RETURNING full_at",
    "ahead": "SELECT full_at - {now} FROM rate_limits WHERE name = :name AND key_hash = :key_hash",
    "give_back": "UPDATE rate_limits SET full_at = full_at - :interval WHERE name = :name AND key_hash = :key_hash",
    "forget": "DELETE FROM rate_limits WHERE name = :name AND key_hash = :key_hash",
    "remember": "INSERT INTO rate_limits (name, key_hash, full_at) VALUES (:name, :key_hash, {now} + :seconds) "
                "ON CONFLICT (name, key_hash) DO UPDATE SET full_at = excluded.full_at",
    "remembered": "SELECT 1 FROM rate_limits WHERE name = :name AND key_hash = :key_hash AND full_at > {now}",
    "prune": "DELETE FROM rate_limits WHERE full_at <= {now}",
}
# PostgreSQL's prune leaves the rows that takes hold locked (they are being taken, so not whole):
# it never waits for ``take_many``, which holds several rows at once, and so cannot deadlock with it.
_POSTGRESQL_STATEMENTS = {
    "prune": "DELETE FROM rate_limits WHERE (name, key_hash) IN "
             "(SELECT name, key_hash FROM rate_limits WHERE full_at <= {now} FOR UPDATE SKIP LOCKED)",
}
# Seconds since the epoch, by the database: one clock for every process, on any host.
_CLOCKS = {
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",  # to the millisecond
    "postgresql": "CAST(extract(epoch FROM clock_timestamp()) AS DOUBLE PRECISION)",
}
_COMPILED = {
    dialect: {name: text(sql.format(now=f"COALESCE(:now, {clock})"))
              for name, sql in {**_STATEMENTS, **(_POSTGRESQL_STATEMENTS if dialect == "postgresql" else {})}.items()}
    for dialect, clock in _CLOCKS.items()
}


def take(session: Session | Connection, limit: Limit, key: str, *, now: float | None = None) -> float:
    """Take one call from ``key``'s allowance: 0 when allowed, else the seconds until one comes back.

    ``now`` (seconds since the epoch) is for tests; by default the database's clock counts.
    """
    if not limit.enabled:
        return 0.0
    row = _take_row(limit, key, now)
    statements = _statements(session)
    if session.execute(statements["take"], row).first() is not None:
        return 0.0
    return _refused_wait(limit, session.scalar(statements["ahead"], row))


def take_alone(db: Database, limit: Limit, key: str) -> float:
    """``take`` outside any other transaction, committed at once: on PostgreSQL one statement on
    an autocommit connection (no BEGIN or COMMIT round trip); on SQLite a write transaction."""
    if not limit.enabled:
        return 0.0
    if db.is_sqlite:
        with db.write() as session:
            return take(session, limit, key)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return take(connection, limit, key)


def take_many(db: Database, limit: Limit, keys: list[str]) -> list[float]:
    """``take_alone`` for one call of each of ``keys`` (a key may come more than once), committed
    at once: the waits in the order of ``keys``.

    On PostgreSQL one round trip for them all (``driver_sql.first_values``): the rows are taken in
    one short transaction, in the order of their keys, so that the batches of two processes, each
    taking the other's keys too, wait for each other instead of deadlocking.
    """
    if not limit.enabled or not keys:
        return [0.0] * len(keys)
    if db.is_sqlite:
        with db.write() as session:
            return [take(session, limit, key) for key in keys]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    statements = _COMPILED["postgresql"]
    calls = []
    for index in order:  # each take, then its row as it left it: a refusal's wait without another round trip
        row = _take_row(limit, keys[index], None)
        calls += [(statements["take"], row), (statements["ahead"], row)]
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        found = driver_sql.first_values(connection, calls)
    waits = [0.0] * len(keys)
    for position, index in enumerate(order):
        full_at, ahead = found[2 * position], found[2 * position + 1]
        if full_at is None:
            waits[index] = _refused_wait(limit, ahead)
    return waits


def give_back(session: Session, limit: Limit, key: str) -> None:
    """Return one call that ``take`` took (the attempt turned out not to count)."""
    if limit.enabled:
        session.execute(_statements(session)["give_back"], {**_row(limit.name, key), "interval": limit.interval})


def forget(session: Session, name: str, key: str) -> None:
    """Make ``key``'s allowance whole again (or forget what ``remember`` kept)."""
    session.execute(_statements(session)["forget"], _row(name, key))


def remember(session: Session, name: str, key: str, *, seconds: float, now: float | None = None) -> None:
    """Keep a mark for ``key`` for ``seconds`` from now, in the same table."""
    session.execute(_statements(session)["remember"], {**_row(name, key), "seconds": seconds, "now": now})


def remembered(session: Session, name: str, key: str, *, now: float | None = None) -> bool:
    """Whether ``remember`` kept a mark for ``key`` that lasts beyond now."""
    return session.scalar(_statements(session)["remembered"], {**_row(name, key), "now": now}) is not None


def prune(session: Session, *, now: float | None = None) -> int:
    """Delete every row that says nothing any more (a whole bucket, a lapsed mark); returns how many."""
    return session.execute(_statements(session)["prune"], {"now": now}).rowcount


def _statements(bind: Session | Connection) -> dict:
    dialect = bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect
    return _COMPILED[dialect.name]


def _take_row(limit: Limit, key: str, now: float | None) -> dict:
    """The parameters of a take of ``key``'s allowance, and of the read of its row after."""
    return {**_row(limit.name, key), "now": now, "interval": limit.interval, "tolerance": limit.tolerance}


def _refused_wait(limit: Limit, ahead: float | None) -> float:
    """A refused take's wait, from how far its row's whole-again time is ahead of now (``None``:
    the row went in the meantime)."""
    return max((ahead or 0.0) - limit.tolerance, _LEAST_WAIT)


def _row(name: str, key: str) -> dict:
    return {"name": name, "key_hash": hashlib.sha256(key.encode()).hexdigest()}


class RateLimiter:
    """The token bucket in this process's memory, per key."""

    def __init__(self, *, per_minute: float, burst: int, clock=time.monotonic):
        self._rate = per_minute / 60.0
        self._burst = burst
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def acquire(self, key: str) -> float:
        """Take one token for ``key``; returns 0 when allowed, else seconds until the next."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self._burst), now))
            tokens = min(float(self._burst), tokens + (now - last) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                allowed = 0.0
            else:
                self._buckets[key] = (tokens, now)
                allowed = (1.0 - tokens) / self._rate
            while len(self._buckets) > _MAX_TRACKED:
                self._buckets.popitem(last=False)
            return allowed
