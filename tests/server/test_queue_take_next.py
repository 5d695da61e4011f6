"""Get next (``queue.take_next``) on both backends: the oldest waiting request the supporter may take."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from server import admin, queue
from server.actors import Actor
from server.db import Database
from server.models import RequestEvent, ServiceRequest, User, utcnow
from server.schemas import ServiceRequestCreate
from sosqueue.events import EventType
from tests.support.databases import migrated_database


@pytest.fixture(scope="module")
def database(backend, request, tmp_path_factory):
    with migrated_database(backend, request, tmp_path_factory) as database:
        yield database


class Company:
    """A company with supporters Ada (group Hardware), Bob (group Billing) and Cy (no group)."""

    def __init__(self, database: Database):
        self.database = database
        tag = uuid.uuid4().hex[:8]
        with database.write() as session:
            company = admin.create_company(session, name=f"Company {tag}")
            self.company_id = company.id
            self.users = {name: admin.create_user(session, company=company, email=f"{name}-{tag}@x.test",
                                                  role="supporter").item.id for name in ("ada", "bob", "cy")}
            admin.create_group(session, company=company, name="Hardware", member_emails=[f"ada-{tag}@x.test"])
            admin.create_group(session, company=company, name="Billing", member_emails=[f"bob-{tag}@x.test"])

    def actor(self, session, name: str) -> Actor:
        return Actor(kind="user", company_id=self.company_id, user=session.get(User, self.users[name]))

    def file(self, group: str | None = None, *, expiry: timedelta = timedelta(hours=1)) -> str:
        with self.database.write() as session:
            filed = queue.create_request(session, actor=self.actor(session, "cy"), source="manual", expiry=expiry,
                                         payload=ServiceRequestCreate(description="help", group=group))
            return filed.request.code

    def take(self, name: str) -> str | None:
        with self.database.write() as session:
            taken = queue.take_next(session, actor=self.actor(session, name), now=utcnow())
            return taken and taken.code

    def request(self, code: str) -> ServiceRequest:
        with self.database.read() as session:
            return session.scalar(select(ServiceRequest).where(ServiceRequest.code == code))


@pytest.fixture
def company(database) -> Company:
    return Company(database)


def test_takes_the_oldest_waiting_request_and_assigns_it_to_the_taker(company):
    first, second = company.file(), company.file()
    assert company.take("cy") == first
    taken = company.request(first)
    assert taken.assignee_id == company.users["cy"]
    assert taken.assigned_at is not None
    assert company.take("cy") == second
    assert company.take("cy") is None


def test_records_an_assigned_event_by_the_taker(company):
    code = company.file()
    company.take("ada")
    with company.database.read() as session:
        event = session.scalars(select(RequestEvent).where(RequestEvent.code == code)
                                .order_by(RequestEvent.id.desc())).first()
    assert (event.type, event.actor, event.data) == (EventType.ASSIGNED.value, f"user:{company.users['ada']}",
                                                     {"assignee": company.users["ada"]})


def test_takes_only_requests_of_the_takers_groups_and_of_no_group(company):
    billing, hardware, ungrouped = company.file("Billing"), company.file("Hardware"), company.file()
    assert company.take("ada") == hardware
    assert company.take("ada") == ungrouped
    assert company.take("ada") is None  # Billing's request is not Ada's to take
    assert company.take("bob") == billing
    assert company.take("cy") is None


def test_skips_assigned_joined_closed_and_expired_requests(company):
    assigned, joined, closed = company.file(), company.file(), company.file()
    expired = company.file(expiry=timedelta(seconds=-1))
    waiting = company.file()
    with company.database.write() as session:
        bob = company.actor(session, "bob")
        queue.assign(session, request=queue.find_request(session, company_id=company.company_id, code=assigned),
                     actor=bob, user_id=company.users["bob"])
        queue.join(session, request=queue.find_request(session, company_id=company.company_id, code=joined),
                   party=bob.key, actor=bob)
        queue.close(session, request=queue.find_request(session, company_id=company.company_id, code=closed),
                    actor=bob)
    assert company.take("cy") == waiting
    assert company.take("cy") is None
    assert company.request(expired).assignee_id is None


def test_another_companys_requests_are_never_taken(database, company):
    other = Company(database)
    other.file()
    assert company.take("cy") is None


def test_oldest_means_filed_longest_ago_as_the_queue_page_lists_them(company):
    first, second = company.file(), company.file()
    with company.database.write() as session:
        session.execute(update(ServiceRequest).where(ServiceRequest.code == second)
                        .values(created_at=utcnow() - timedelta(hours=1)))
    assert company.take("cy") == second
    assert company.take("cy") == first
