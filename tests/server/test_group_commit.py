"""Group commit on a real database: jobs that queued meanwhile share one commit, a failing job
rolls back only itself, a failing commit fails its whole batch, and nobody is answered before the
commit."""

import threading
from concurrent.futures import Future

import psycopg
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from server.db import Database
from server.group_commit import MAX_BATCH, Declined, GroupCommit, Retry
from server.models import InstanceSecret
from tests.support.databases import migrated_database


@pytest.fixture(scope="module")
def database(backend, request, tmp_path_factory):
    with migrated_database(backend, request, tmp_path_factory) as database:
        yield database


@pytest.fixture
def transactions(database):
    """The write transactions that ended (each batch's one; its savepoints do not count)."""
    seen = []

    def ended(_session, transaction):
        if transaction.parent is None:
            seen.append(transaction)

    event.listen(database.writer_factory, "after_transaction_end", ended)
    yield seen
    event.remove(database.writer_factory, "after_transaction_end", ended)


def insert(name: str):
    def job(session):
        session.add(InstanceSecret(name=name, value="v"))
        session.flush()
        return name

    return job


def failing(session):
    session.add(InstanceSecret(name="never-kept", value="v"))
    session.flush()
    raise ValueError("this job fails")


def stored(database: Database, prefix: str) -> set[str]:
    with database.read() as session:
        return set(session.scalars(select(InstanceSecret.name).where(InstanceSecret.name.like(f"{prefix}%"))))


def held_batch(group: GroupCommit, then: list) -> tuple[Future, list[Future]]:
    """A first job that waits until ``then`` are queued behind it, so that those form the next batch."""
    started, release = threading.Event(), threading.Event()

    def hold(_session):
        started.set()
        return release.wait(30)

    first = group.submit(hold)
    assert started.wait(30)
    queued = [group.submit(job) for job in then]
    release.set()
    return first, queued


def test_jobs_queued_during_a_batch_share_the_next_commit_and_each_get_their_result(database, transactions):
    """Ten jobs queued while one runs go into one transaction: two transactions in all, ten results."""
    group = GroupCommit(database.write)
    try:
        first, queued = held_batch(group, [insert(f"shared-{n}") for n in range(10)])
        assert first.result(30) is True
        assert [future.result(30) for future in queued] == [f"shared-{n}" for n in range(10)]
    finally:
        group.stop()
    assert len(transactions) == 2
    assert stored(database, "shared-") == {f"shared-{n}" for n in range(10)}


def test_a_failing_job_rolls_back_only_itself(database):
    """The job that raises gets its error and leaves no row; the jobs around it in its batch are stored."""
    group = GroupCommit(database.write)
    try:
        _, (before, bad, after) = held_batch(group, [insert("alone-a"), failing, insert("alone-b")])
        assert before.result(30) == "alone-a" and after.result(30) == "alone-b"
        with pytest.raises(ValueError, match="this job fails"):
            bad.result(30)
    finally:
        group.stop()
    assert stored(database, "alone-") == {"alone-a", "alone-b"}
    assert stored(database, "never-kept") == set()


def test_a_job_that_asks_to_retry_runs_again_in_a_later_batch(database):
    """``Retry`` sends a job back into the queue; its caller gets the later run's result."""
    runs = []

    def once_more(session):
        runs.append(1)
        if len(runs) == 1:
            raise Retry()
        return insert("retried")(session)

    group = GroupCommit(database.write)
    try:
        assert group.run(once_more) == "retried"
    finally:
        group.stop()
    assert len(runs) == 2
    assert stored(database, "retried") == {"retried"}


class Prepared:
    """A job that notes when it is prepared and when it runs, in one shared log; a ``broken`` one
    raises in both (as a filing with an unknown token does)."""

    def __init__(self, name: str, log: list, broken: bool = False):
        self.name, self.log, self.broken = name, log, broken

    def prepare(self, _session):
        self.log.append(("prepare", self.name))
        self._check()

    def __call__(self, session):
        self.log.append(("run", self.name))
        self._check()
        return insert(self.name)(session)

    def _check(self):
        if self.broken:
            raise ValueError(f"{self.name} is broken")


def test_every_job_of_a_batch_is_prepared_before_the_first_one_runs(database):
    log = []
    group = GroupCommit(database.write)
    try:
        _, queued = held_batch(group, [Prepared(f"prepared-{n}", log) for n in range(3)])
        assert [future.result(30) for future in queued] == [f"prepared-{n}" for n in range(3)]
    finally:
        group.stop()
    assert log == [("prepare", f"prepared-{n}") for n in range(3)] + [("run", f"prepared-{n}") for n in range(3)]


def test_a_job_whose_preparing_fails_fails_alone_and_the_batch_runs_again_unprepared(database):
    """The batch runs again with a savepoint per job, where no job is prepared: the others are stored."""
    log = []
    group = GroupCommit(database.write)
    try:
        jobs = [Prepared("unprepared-a", log), Prepared("unprepared-bad", log, broken=True),
                Prepared("unprepared-b", log)]
        _, (first, bad, last) = held_batch(group, jobs)
        assert (first.result(30), last.result(30)) == ("unprepared-a", "unprepared-b")
        with pytest.raises(ValueError, match="unprepared-bad is broken"):
            bad.result(30)
    finally:
        group.stop()
    assert stored(database, "unprepared-") == {"unprepared-a", "unprepared-b"}
    assert log[-3:] == [("run", "unprepared-a"), ("run", "unprepared-bad"), ("run", "unprepared-b")]


def test_a_job_that_declines_fails_alone_and_the_others_run_once_without_savepoints(database):
    """``Declined`` (raised before writing anything) answers only its caller; the batch commits as it is."""
    log = []

    def declining(_session):
        log.append(("run", "declining"))
        raise Declined("over its allowance")

    group = GroupCommit(database.write)
    try:
        _, (first, declined, last) = held_batch(group, [Prepared("declined-a", log), declining,
                                                        Prepared("declined-b", log)])
        assert (first.result(30), last.result(30)) == ("declined-a", "declined-b")
        with pytest.raises(Declined, match="over its allowance"):
            declined.result(30)
    finally:
        group.stop()
    assert stored(database, "declined-") == {"declined-a", "declined-b"}
    assert [entry for entry in log if entry[0] == "run"] == [
        ("run", "declined-a"), ("run", "declining"), ("run", "declined-b")]


@pytest.mark.parametrize("error", [
    psycopg.errors.DeadlockDetected("deadlock detected"),  # as the driver raises it (server.driver_sql)
    DBAPIError("INSERT …", {}, psycopg.errors.SerializationFailure("could not serialize")),  # as SQLAlchemy wraps it
], ids=["driver", "wrapped"])
def test_a_job_that_postgresql_picked_as_a_deadlock_s_victim_runs_again(database, error):
    """PostgreSQL's deadlock and serialization failures send the job back, whether the driver's error reaches
    the writer as it is or wrapped by SQLAlchemy; its caller gets the later run's result."""
    runs, name = [], f"victim-{type(error).__name__}"

    def victim_once(session):
        runs.append(1)
        if len(runs) == 1:
            raise error
        return insert(name)(session)

    group = GroupCommit(database.write)
    try:
        assert group.run(victim_once) == name
    finally:
        group.stop()


@pytest.mark.parametrize("backend", ["sqlite"], scope="module")  # deferring every foreign key is SQLite's PRAGMA
def test_a_failed_commit_fails_every_job_of_its_batch(backend, database):
    """A foreign key checked only at commit (SQLite's deferred checks) fails the commit: every caller of
    the batch gets the error, and none of its rows is stored."""

    def breaks_the_commit(session):
        session.execute(text("PRAGMA defer_foreign_keys = ON"))
        session.execute(text("INSERT INTO request_participants (request_id, party, joined_at) "
                             "VALUES (-1, 'customer', '2026-01-01 00:00:00')"))

    group = GroupCommit(database.write)
    try:
        _, queued = held_batch(group, [insert("doomed-a"), breaks_the_commit, insert("doomed-b")])
        for future in queued:
            with pytest.raises(Exception, match="FOREIGN KEY"):
                future.result(30)
        assert group.run(insert("after-doom")) == "after-doom"  # the writer carries on
    finally:
        group.stop()
    assert stored(database, "doomed-") == set()


def test_a_caller_is_answered_only_once_its_batch_committed(database):
    """When a job's future is done, its row is visible to a new session: the commit came first."""
    group = GroupCommit(database.write)
    try:
        futures = [group.submit(insert(f"visible-{n}")) for n in range(MAX_BATCH + 5)]
        for n, future in enumerate(futures):
            future.result(30)
            with database.read() as session:
                assert session.scalar(select(func.count()).where(InstanceSecret.name == f"visible-{n}")) == 1
    finally:
        group.stop()
