"""PostgreSQL's listener renders only the events somebody in this process watches (an expiry
sweep's NOTIFY names thousands)."""

import asyncio
import uuid
from datetime import timedelta

import pytest

from server import admin, queue
from server.actors import Actor
from server.event_ids import EventIds
from server.events import Broker, PostgresListener
from server.models import User
from server.schemas import ServiceRequestCreate
from tests.support.databases import migrated_database
from tests.support.loops import run_apart


@pytest.fixture(scope="module")
def database(request, tmp_path_factory):
    with migrated_database("postgresql", request, tmp_path_factory) as database:
        yield database


def filed_event(database) -> tuple[str, int, int]:
    """A new company's request: (company id, request id, its `created` event's number)."""
    tag = uuid.uuid4().hex[:8]
    with database.write() as session:
        company = admin.create_company(session, name=f"Company {tag}")
        user = admin.create_user(session, company=company, email=f"ada-{tag}@x.test", role="supporter").item
        actor = Actor(kind="user", company_id=company.id, user=session.get(User, user.id))
        request = queue.create_request(session, actor=actor, source="manual", expiry=timedelta(hours=1),
                                       payload=ServiceRequestCreate(description="help")).request
        session.flush()
        return company.id, request.id, session.info["events"][-1].id


def test_the_listener_renders_the_events_of_watched_companies_and_requests_only(database):
    async def scenario():
        broker = Broker(EventIds(""))
        broker.bind(asyncio.get_running_loop())
        listener = PostgresListener(database, broker)
        watched_company, _, by_company = filed_event(database)
        _, watched_request, by_request = filed_event(database)
        _, _, unwatched = filed_event(database)
        broker.subscribe(company_id=watched_company)
        broker.subscribe(company_id="another company", request_id=watched_request)
        return [event.id for event in listener._load([by_company, by_request, unwatched])], [by_company, by_request]

    loaded, expected = run_apart(scenario())
    assert loaded == expected
