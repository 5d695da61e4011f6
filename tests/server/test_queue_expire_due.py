"""The expiry sweep (``queue.expire_due``) and the listing's status filters on both backends."""

import itertools
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from server import admin, queue
from server.actors import Actor
from server.db import Database
from server.models import Participant, RequestEvent, ServiceRequest, User, utcnow
from server.schemas import ServiceRequestCreate
from sosqueue.events import EventType
from sosqueue.statuses import Status
from tests.support.databases import migrated_database


@pytest.fixture(scope="module")
def database(backend, request, tmp_path_factory):
    with migrated_database(backend, request, tmp_path_factory) as database:
        yield database


class Company:
    """A company of its own (the sweep covers every company; each test counts only its own requests)."""

    def __init__(self, database: Database):
        self.database = database
        tag = uuid.uuid4().hex[:8]
        with database.write() as session:
            company = admin.create_company(session, name=f"Company {tag}")
            self.company_id = company.id
            self.user_id = admin.create_user(session, company=company, email=f"ada-{tag}@x.test",
                                             role="supporter").item.id

    def file(self, *, status: Status = Status.NEW, lapsed: bool = False, assigned: bool = False) -> int:
        """A request with ``status``, its deadline an hour ago when ``lapsed``; returns its id."""
        with self.database.write() as session:
            actor = Actor(kind="user", company_id=self.company_id, user=session.get(User, self.user_id))
            request = queue.create_request(session, actor=actor, source="manual", expiry=timedelta(hours=1),
                                           payload=ServiceRequestCreate(description="help")).request
            request.status = status.value
            request.assignee_id = self.user_id if assigned else None
            if lapsed:
                request.valid_until = utcnow() - timedelta(hours=1)
            session.flush()
            return request.id

    def statuses(self, ids) -> dict[int, str]:
        with self.database.read() as session:
            return dict(session.execute(select(ServiceRequest.id, ServiceRequest.status)
                                        .where(ServiceRequest.id.in_(ids))).all())

    def expired_events(self, ids) -> list[RequestEvent]:
        with self.database.read() as session:
            return list(session.scalars(select(RequestEvent).where(
                RequestEvent.request_id.in_(ids), RequestEvent.type == EventType.EXPIRED.value)))


@pytest.fixture
def company(database) -> Company:
    return Company(database)


def sweep(database: Database, *, batch: int) -> list[tuple[int, list]]:
    """Batches as the server's sweeper runs them, each in its own transaction, until one is short;
    (count, the events handed to publishing) per batch."""
    batches = []
    while True:
        with database.write() as session:
            count = queue.expire_due(session, now=utcnow(), batch=batch)
            batches.append((count, list(session.info.get("events", []))))
        if count < batch:
            return batches


def test_every_due_request_expires_once_with_one_event_each(database, company):
    """Due requests expire over several batches; each gets one expired event, handed to publishing once."""
    due = [company.file(status=status, lapsed=True) for status in (Status.NEW, Status.PENDING, Status.IN_PROGRESS)
           for _ in range(3)]
    untouched = {company.file(status=Status.CLOSED, lapsed=True): Status.CLOSED.value,
                 company.file(): Status.NEW.value}

    batches = sweep(database, batch=4)

    assert [count for count, _ in batches] == [4, 4, 1]
    assert set(company.statuses(due).values()) == {Status.EXPIRED.value}
    assert company.statuses(untouched) == untouched
    stored = {event.id: event for event in company.expired_events(due)}
    assert sorted(event.request_id for event in stored.values()) == sorted(due)
    published = [event for _, events in batches for event in events]
    assert sorted(event.id for event in published) == sorted(stored)
    for event in published:
        row = stored[event.id]
        assert (event.request_id, event.company_id, event.code, event.type, event.actor, event.status, event.data) \
            == (row.request_id, row.company_id, row.code, "expired", "system", "expired", {})
        assert (row.actor, row.status, row.data) == ("system", "expired", {})


def test_a_batch_holds_the_oldest_deadlines_and_its_events_follow_them(database, company):
    """The first batch takes the requests whose deadlines passed first; their events are numbered in that order."""
    due = [company.file(lapsed=True) for _ in range(3)]
    with database.write() as session:
        for minutes, request_id in zip((10, 30, 20), due):
            session.execute(update(ServiceRequest).where(ServiceRequest.id == request_id)
                            .values(valid_until=utcnow() - timedelta(days=400, minutes=minutes)))
    with database.write() as session:
        queue.expire_due(session, now=utcnow(), batch=2)
        events = session.info["events"]
    assert [event.request_id for event in events] == [due[1], due[2]]
    assert events[0].id < events[1].id
    sweep(database, batch=5000)  # leave nothing due for the other tests


def test_expiry_ends_the_requests_session(database, company):
    """The expired request's participants leave; another request's stay."""
    lapsed, running = company.file(lapsed=True), company.file()
    with database.write() as session:
        session.add_all([Participant(request_id=lapsed, party="customer"),
                         Participant(request_id=running, party="customer")])
    sweep(database, batch=5000)
    with database.read() as session:
        left = session.scalars(select(Participant.request_id).where(Participant.request_id.in_([lapsed, running])))
        assert list(left) == [running]


def test_a_request_another_transaction_holds_waits_for_the_next_sweep(database, company, backend):
    """PostgreSQL: a due request locked by a concurrent write is skipped, not waited for, and expires later."""
    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    held, free = company.file(lapsed=True), company.file(lapsed=True)
    with database.write() as holder:
        holder.execute(select(ServiceRequest.id).where(ServiceRequest.id == held).with_for_update())
        sweep(database, batch=5000)
        assert company.statuses([held, free]) == {held: "new", free: "expired"}
    sweep(database, batch=5000)
    assert company.statuses([held]) == {held: "expired"}
    assert len(company.expired_events([held, free])) == 2


STATUS_SETS = [set(combination) for size in (1, 2, 3) for combination in itertools.combinations(Status, size)]


@pytest.fixture(scope="module")
def listed(database):
    """A company with a request of every stored status, lapsed or not, assigned or not (nothing swept)."""
    company = Company(database)
    for status, lapsed, assigned in itertools.product(Status, (False, True), (False, True)):
        company.file(status=status, lapsed=lapsed, assigned=assigned)
    return company


@pytest.mark.parametrize("statuses", STATUS_SETS, ids=lambda s: ",".join(sorted(x.value for x in s)))
@pytest.mark.parametrize("assignee", [None, "none", "me"])
def test_listing_finds_exactly_the_requests_of_the_effective_statuses_newest_first(database, listed, statuses,
                                                                                   assignee):
    """Every status filter, with and without an assignee filter, pages through the same requests as the
    effective status picks from all of them, newest first."""
    now = utcnow()
    assignee_id = listed.user_id if assignee == "me" else assignee
    with database.read() as session:
        everything, _ = queue.list_requests(session, company_id=listed.company_id, statuses=None, assignee=None,
                                            group_id=None, limit=200, before_id=None, now=now)
        expected = [request.id for request in everything if queue.effective_status(request, now) in statuses
                    and (assignee is None or request.assignee_id == (None if assignee == "none" else assignee_id))]
        found, before = [], None
        while True:
            page, before = queue.list_requests(session, company_id=listed.company_id, statuses=statuses,
                                               assignee=assignee_id, group_id=None, limit=3, before_id=before, now=now)
            found += [request.id for request in page]
            if before is None:
                break
    assert found == expected
    assert expected == sorted(expected, reverse=True)
