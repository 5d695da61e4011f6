"""``queue.create_request`` on both backends: the request and its first events are stored as the
session recorded them (PostgreSQL writes them in one statement, SQLite one row at a time), also when
the first code drawn is taken."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from server import admin, queue
from server.actors import Actor
from server.models import Module, RequestEvent, ServiceRequest
from server.schemas import ServiceRequestCreate
from sosqueue import codes
from sosqueue.events import EventType
from tests.support.databases import migrated_database


@pytest.fixture(scope="module")
def database(backend, request, tmp_path_factory):
    with migrated_database(backend, request, tmp_path_factory) as database:
        yield database


@pytest.fixture
def module_id(database) -> str:
    with database.write() as session:
        company = admin.create_company(session, name=f"Company {uuid.uuid4().hex[:8]}")
        return admin.create_module(session, company=company, name="SOS").item.id


def file(database, module_id: str, description: str) -> tuple[ServiceRequest, list[RequestEvent]]:
    """A module's filing: the request as ``create_request`` returned it, and the events it recorded."""
    with database.write() as session:
        module = session.get(Module, module_id)
        module.group  # the token's check loads it too
        created = queue.create_request(session, actor=Actor(kind="module", company_id=module.company_id, module=module),
                                       source="sos", expiry=timedelta(hours=1),
                                       payload=ServiceRequestCreate(description=description,
                                                                    diagnostics={"os": "Debian 12"}),
                                       attach=False)
        recorded = list(session.info["events"])
        return created.request, [(event.id, event.type, event.actor, event.data) for event in recorded]


def stored_events(database, request_id: int) -> list[tuple]:
    with database.read() as session:
        events = session.scalars(select(RequestEvent).where(RequestEvent.request_id == request_id)
                                 .order_by(RequestEvent.id))
        return [(event.id, event.type, event.actor, event.data) for event in events]


def stored_request(database, code: str) -> ServiceRequest | None:
    with database.read() as session:
        return session.scalar(select(ServiceRequest).where(ServiceRequest.code == code))


def test_a_module_filing_stores_its_request_and_both_first_events_in_order(database, module_id):
    """created, then assigned (with why nobody): stored under the ids the session recorded, with their data."""
    request, recorded = file(database, module_id, "printer prints blank pages")
    assert [(type, actor) for _, type, actor, _ in recorded] == [
        (EventType.CREATED, f"module:{module_id}"), (EventType.ASSIGNED, "system")]
    assert recorded[0][0] < recorded[1][0]
    assert recorded[0][3] == {"source": "sos"}
    assert recorded[1][3] == {"assignee": None, "strategy": "none", "reason": "module assigns nobody"}
    assert stored_events(database, request.id) == recorded
    row = stored_request(database, request.code)
    assert (row.id, row.description, row.diagnostics, row.module_id) == (
        request.id, "printer prints blank pages", {"os": "Debian 12"}, module_id)
    assert row.created_at == request.created_at


def test_a_taken_code_is_drawn_again_and_leaves_the_holder_of_it_alone(database, module_id, monkeypatch):
    """The first code drawn belongs to another request: the filing goes in under the next code, with
    its events; the other request keeps its own events and nothing more."""
    holder, holder_events = file(database, module_id, "first")
    fresh = codes.generate()
    drawn = iter([holder.code, fresh])
    monkeypatch.setattr(codes, "generate", lambda: next(drawn))
    request, recorded = file(database, module_id, "second")
    assert request.code == fresh and request.id != holder.id
    assert stored_events(database, request.id) == recorded and len(recorded) == 2
    assert stored_events(database, holder.id) == holder_events
    assert stored_request(database, holder.code).description == "first"


def test_a_code_space_with_no_free_code_fails_with_nothing_stored(database, module_id, monkeypatch):
    holder, holder_events = file(database, module_id, "first")
    monkeypatch.setattr(codes, "generate", lambda: holder.code)
    with pytest.raises(RuntimeError, match="could not find a free session code"):
        file(database, module_id, "never stored")
    with database.read() as session:
        assert session.scalar(select(ServiceRequest.id).where(ServiceRequest.description == "never stored")) is None
    assert stored_events(database, holder.id) == holder_events
