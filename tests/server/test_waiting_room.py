"""The waiting room's position, expected wait and assignee, from requests written at known times, on both backends."""

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, update

from server import admin, waiting_room
from server.db import Database, upgrade
from server.models import ServiceRequest
from sosqueue.statuses import Status
from sosqueue.waiting_room import (HISTORY_CACHE_SECONDS, HISTORY_DAYS, HISTORY_SIZE, MAX_WAITING_MESSAGE_CHARS,
                                   MIN_HISTORY)
from tests.support.databases import migrated_database
from tests.support.servers import sqlite_url

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="module")
def database(backend, request, tmp_path_factory):
    with migrated_database(backend, request, tmp_path_factory) as database:
        yield database


class Queue:
    """One company's requests, written at the times a test gives."""

    def __init__(self, database: Database):
        self.database = database
        with database.write() as session:
            company = admin.create_company(session, name=f"Company {uuid.uuid4().hex[:8]}")
            self.company_id = company.id
            self.users = {}
            for name in ("Ada", ""):
                created = admin.create_user(session, company=company, email=f"u{uuid.uuid4().hex[:8]}@x.test",
                                            role="supporter")
                created.item.name = name
                self.users[name] = created.item
            self.groups = {name: admin.create_group(session, company=company, name=name).id
                           for name in ("Hardware", "Billing")}

    def request(self, *, created: datetime = NOW - 10 * MINUTE, group: str | None = "Hardware",
                status: Status = Status.NEW, valid_for: timedelta = timedelta(hours=24),
                assignee: str | None = None, joined_after: timedelta | None = None) -> int:
        """A request created at ``created``; ``joined_after``: when after creation a supporter first joined."""
        with self.database.write() as session:
            row = ServiceRequest(
                code=uuid.uuid4().hex[:9], company_id=self.company_id, group_id=self.groups.get(group),
                source="module", status=status.value, description="test", created_by="system",
                assignee_id=self.users[assignee].id if assignee is not None else None,
                created_at=created, valid_until=created + valid_for,
                first_joined_at=created + joined_after if joined_after is not None else None,
            )
            session.add(row)
            session.flush()
            return row.id

    def history(self, *seconds: float, group: str | None = "Hardware", joined_ago: timedelta = timedelta(days=1)):
        """Closed requests whose first join came ``seconds`` after their creation, ``joined_ago`` before NOW."""
        for wait in seconds:
            joined = NOW - joined_ago
            self.request(created=joined - timedelta(seconds=wait), group=group, status=Status.CLOSED,
                         assignee="Ada", joined_after=timedelta(seconds=wait))

    def change(self, request_id: int, **values) -> None:
        with self.database.write() as session:
            session.execute(update(ServiceRequest).where(ServiceRequest.id == request_id).values(**values))

    def room(self, request_id: int, now: datetime = NOW):
        with self.database.read() as session:
            return waiting_room.waiting_room(session, session.get(ServiceRequest, request_id), now)

    def position(self, request_id: int, now: datetime = NOW) -> int | None:
        return self.room(request_id, now).position


@pytest.fixture
def queue(database) -> Queue:
    return Queue(database)


# -- position --------------------------------------------------------------------------------


def test_position_is_one_plus_the_older_waiting_requests_of_the_group(queue):
    """Oldest first: the first request waits in position 1, the third in position 3."""
    ids = [queue.request() for _ in range(3)]
    assert [queue.position(i) for i in ids] == [1, 2, 3]


def test_position_counts_only_the_same_group_of_the_same_company(queue, database):
    """Another group's, the ungrouped queue's and another company's requests are other queues."""
    queue.request(group="Billing")
    queue.request(group=None)
    Queue(database).request()
    mine = queue.request()
    ungrouped = queue.request(group=None)
    assert queue.position(mine) == 1
    assert queue.position(ungrouped) == 2


def test_position_leaves_out_assigned_joined_closed_and_expired_requests(queue):
    """Only open requests that nobody is assigned to and no supporter joined count, deadlines included."""
    queue.request(assignee="Ada")
    queue.request(joined_after=MINUTE, status=Status.PENDING)
    queue.request(status=Status.CLOSED)
    queue.request(status=Status.EXPIRED)
    queue.request(created=NOW - timedelta(hours=25))  # past its deadline, not swept yet
    queue.request(status=Status.PENDING)  # only the customer joined: still waiting for a supporter
    mine = queue.request()
    assert queue.position(mine) == 2


def test_position_moves_up_as_the_requests_before_it_are_taken(queue):
    """Assigning, a supporter's join, closing or the deadline of an older request each move it up by one."""
    assigned, joined, closed, lapsing = (queue.request() for _ in range(4))
    mine = queue.request()
    assert queue.position(mine) == 5
    queue.change(assigned, assignee_id=queue.users["Ada"].id, assigned_at=NOW)
    assert queue.position(mine) == 4
    queue.change(joined, first_joined_at=NOW, status=Status.PENDING.value)
    assert queue.position(mine) == 3
    queue.change(closed, status=Status.CLOSED.value, closed_at=NOW)
    assert queue.position(mine) == 2
    queue.change(lapsing, valid_until=NOW)
    assert queue.position(mine) == 1


def test_position_goes_back_when_an_older_request_is_unassigned(queue):
    """Unassigning puts an older request back into the queue, ahead of this one."""
    older = queue.request(assignee="Ada")
    mine = queue.request()
    assert queue.position(mine) == 1
    queue.change(older, assignee_id=None, assigned_at=None)
    assert queue.position(mine) == 2


@pytest.mark.parametrize("state", [
    {"assignee": "Ada"},
    {"joined_after": MINUTE, "status": Status.PENDING},
    {"status": Status.CLOSED},
    {"status": Status.EXPIRED},
    {"created": NOW - timedelta(hours=25)},
], ids=["assigned", "joined", "closed", "expired", "past-deadline"])
def test_no_position_once_the_request_is_out_of_the_queue(queue, state):
    """An assigned, joined or no longer open request has no position and no expected wait."""
    queue.history(*[60] * (2 * MIN_HISTORY))
    queue.request()
    room = queue.room(queue.request(**state))
    assert (room.position, room.expected_wait_seconds) == (None, None)


def test_status_is_the_effective_one(queue):
    """A request past its deadline reads as expired before any sweep."""
    assert queue.room(queue.request(created=NOW - timedelta(hours=25))).status == "expired"
    assert queue.room(queue.request()).status == "new"


# -- expected wait ---------------------------------------------------------------------------


def test_no_expected_wait_below_the_minimum_history(queue):
    """With fewer first joins than MIN_HISTORY the room says nothing rather than guess."""
    queue.history(*[300] * (MIN_HISTORY - 1))
    assert queue.room(queue.request(created=NOW - MINUTE)).expected_wait_seconds is None
    queue.history(300)
    assert queue.room(queue.request(created=NOW - MINUTE)).expected_wait_seconds == 240


def test_expected_wait_is_the_conditional_median_less_the_time_waited(queue):
    """Of the first joins that took at least as long as this request waited, the median, less that wait."""
    queue.history(30, 90, 200, 300, 400, 500, 5000)
    # Waited 100 s: the five that took longer (200, 300, 400, 500, 5000) have the median 400.
    assert queue.room(queue.request(created=NOW - timedelta(seconds=100))).expected_wait_seconds == 300
    # Waited 10 s: all seven count, median 300.
    assert queue.room(queue.request(created=NOW - timedelta(seconds=10))).expected_wait_seconds == 290
    # Waited 250 s: only four took longer; too few to say.
    assert queue.room(queue.request(created=NOW - timedelta(seconds=250))).expected_wait_seconds is None


def test_a_history_cache_reuses_a_group_s_first_joins_for_its_seconds_then_reads_them_again(queue):
    """Every waiting customer of a group polls: a server process reads the group's history once per
    HISTORY_CACHE_SECONDS, and what joined meanwhile counts from the next read on."""
    clock = [1000.0]
    history = waiting_room.HistoryCache(clock=lambda: clock[0])

    def expected(request_id: int) -> int | None:
        with queue.database.read() as session:
            request = session.get(ServiceRequest, request_id)
            return waiting_room.waiting_room(session, request, NOW, history=history).expected_wait_seconds

    waiting = queue.request(created=NOW - MINUTE)
    queue.history(*[300] * (MIN_HISTORY - 1))
    assert expected(waiting) is None
    queue.history(300)
    clock[0] += HISTORY_CACHE_SECONDS - 1
    assert expected(waiting) is None
    assert queue.room(waiting).expected_wait_seconds == 240  # read afresh without the cache
    clock[0] += 1
    assert expected(waiting) == 240


def test_expected_wait_reads_only_the_group_s_recent_history(queue):
    """Another group's first joins and those older than HISTORY_DAYS are left out."""
    queue.history(*[600] * MIN_HISTORY, group="Billing")
    queue.history(*[600] * MIN_HISTORY, group=None)
    queue.history(*[600] * MIN_HISTORY, joined_ago=timedelta(days=HISTORY_DAYS, hours=1))
    queue.history(*[120] * (MIN_HISTORY - 1))
    assert queue.room(queue.request(created=NOW)).expected_wait_seconds is None
    queue.history(120)
    assert queue.room(queue.request(created=NOW)).expected_wait_seconds == 120


def test_expected_wait_reads_the_latest_history_size_first_joins(queue):
    """Only the HISTORY_SIZE latest first joins count: older ones, still within HISTORY_DAYS, do not."""
    queue.history(*[900] * HISTORY_SIZE, joined_ago=timedelta(days=2))
    queue.history(*[60] * HISTORY_SIZE, joined_ago=timedelta(days=1))
    assert queue.room(queue.request(created=NOW)).expected_wait_seconds == 60


def test_ungrouped_requests_have_their_own_history(queue):
    """The company's ungrouped queue reads the first joins of its ungrouped requests."""
    queue.history(*[180] * MIN_HISTORY, group=None)
    assert queue.room(queue.request(created=NOW, group=None)).expected_wait_seconds == 180
    assert queue.room(queue.request(created=NOW)).expected_wait_seconds is None


# -- assignee --------------------------------------------------------------------------------


def test_assignee_is_the_supporter_s_display_name(queue):
    assert queue.room(queue.request(assignee="Ada")).assignee == "Ada"
    assert queue.room(queue.request()).assignee is None


def test_assignee_without_a_display_name_is_null_never_the_email(queue):
    """A supporter without a name shows as no name at all: the customer never sees an email address."""
    room = queue.room(queue.request(assignee=""))
    assert room.assignee is None
    assert queue.users[""].email not in str(room.to_json())
    assert room.position is None  # the agent still tells that someone has it


# -- the waiting message -------------------------------------------------------------------


def test_the_room_carries_the_request_s_waiting_message_as_stored(queue):
    request_id = queue.request()
    assert queue.room(request_id).message == ""
    queue.change(request_id, waiting_message="Back at 3 pm.\n<i>Sorry!</i>")
    assert queue.room(request_id).message == "Back at 3 pm.\n<i>Sorry!</i>"
    assert queue.room(request_id).to_json()["message"] == "Back at 3 pm.\n<i>Sorry!</i>"


def test_the_message_is_no_longer_than_the_agent_takes(queue):
    """A longer one (stored by other means than the API's checks) is cut, never refused."""
    request_id = queue.request()
    queue.change(request_id, waiting_message="y" * (MAX_WAITING_MESSAGE_CHARS + 1))
    assert len(queue.room(request_id).message) == MAX_WAITING_MESSAGE_CHARS


# -- query plans ---------------------------------------------------------------------------


def test_position_and_history_use_their_indexes_on_sqlite(tmp_path):
    """SQLite (without statistics, as the server runs it) reads the position from the partial index
    ix_requests_open_group_id, and the history from ix_requests_group_first_joined."""
    database = Database(sqlite_url(tmp_path))
    upgrade(database)
    try:
        queue = Queue(database)
        queue.history(*[60] * MIN_HISTORY)
        mine, ungrouped = queue.request(), queue.request(group=None)
        plans = []
        for request_id in (mine, ungrouped):
            with database.read() as session:
                request = session.get(ServiceRequest, request_id)
                statements = _statements(database, lambda: waiting_room.waiting_room(session, request, NOW))
                connection = session.connection()
                plans += [" ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
                          for sql, params in statements]
    finally:
        database.dispose()
    assert len(plans) == 4, plans
    assert all("USING INDEX ix_requests_open_group_id" in plan for plan in plans[0::2]), plans
    assert all("USING INDEX ix_requests_group_first_joined" in plan for plan in plans[1::2]), plans


def _statements(database: Database, run) -> list[tuple[str, tuple]]:
    seen = []

    def note(_connection, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", note)
    try:
        run()
    finally:
        event.remove(database.engine, "before_cursor_execute", note)
    return seen
