"""Group commit's savepoints: none while every job succeeds; after a job fails, its batch runs again
with one per job, and each job's outcome is the same as if it had run alone."""

import pytest
from sqlalchemy import event

from server.group_commit import GroupCommit
from tests.server.test_group_commit import failing, held_batch, insert, stored
from tests.support.databases import migrated_database


@pytest.fixture(scope="module")
def database(backend, request, tmp_path_factory):
    with migrated_database(backend, request, tmp_path_factory) as database:
        yield database


@pytest.fixture
def savepoints(database):
    """The savepoints the engine opened."""
    seen = []

    def opened(_connection, name):
        seen.append(name)

    event.listen(database.engine, "savepoint", opened)
    yield seen
    event.remove(database.engine, "savepoint", opened)


def test_a_batch_whose_jobs_all_succeed_opens_no_savepoint(database, savepoints):
    group = GroupCommit(database.write)
    try:
        _, queued = held_batch(group, [insert(f"plain-{n}") for n in range(8)])
        assert [future.result(30) for future in queued] == [f"plain-{n}" for n in range(8)]
    finally:
        group.stop()
    assert savepoints == []
    assert stored(database, "plain-") == {f"plain-{n}" for n in range(8)}


def test_a_failing_job_sends_its_batch_again_one_savepoint_per_job_then_batches_trust_again(database, savepoints):
    group = GroupCommit(database.write)
    try:
        _, (before, bad, after) = held_batch(group, [insert("again-a"), failing, insert("again-b")])
        assert before.result(30) == "again-a" and after.result(30) == "again-b"
        with pytest.raises(ValueError, match="this job fails"):
            bad.result(30)
        assert len(savepoints) == 3
        _, queued = held_batch(group, [insert(f"trusted-{n}") for n in range(3)])
        assert [future.result(30) for future in queued] == [f"trusted-{n}" for n in range(3)]
    finally:
        group.stop()
    assert len(savepoints) == 3  # the hold and the batch after it: none
    assert stored(database, "again-") == {"again-a", "again-b"}
    assert stored(database, "never-kept") == set()


def test_a_lone_failing_job_gets_its_error_and_keeps_nothing_without_a_savepoint(database, savepoints):
    group = GroupCommit(database.write)
    try:
        with pytest.raises(ValueError, match="this job fails"):
            group.run(failing)
        assert group.run(insert("lone-after")) == "lone-after"
    finally:
        group.stop()
    assert savepoints == []
    assert stored(database, "never-kept") == set()
