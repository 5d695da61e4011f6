"""``queue.amend`` on both backends: a request's texts and group change with one ``updated`` event, or not at all."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from server import admin, lifecycle, queue
from server.actors import Actor
from server.models import RequestEvent, ServiceRequest, User, utcnow
from server.schemas import ServiceRequestCreate
from sosqueue.events import EventType
from tests.support.databases import migrated_database


@pytest.fixture(scope="module")
def database(backend, request, tmp_path_factory):
    with migrated_database(backend, request, tmp_path_factory) as database:
        yield database


@pytest.fixture
def filed(database):
    """A company's supporter, its groups Hardware and Billing, and a request of Hardware: (user id, groups, code)."""
    tag = uuid.uuid4().hex[:8]
    with database.write() as session:
        company = admin.create_company(session, name=f"Company {tag}")
        user = admin.create_user(session, company=company, email=f"ada-{tag}@x.test", role="supporter").item
        groups = {name: admin.create_group(session, company=company, name=name, member_emails=[]).id
                  for name in ("Hardware", "Billing")}
        session.flush()
        created = queue.create_request(session, actor=actor(session, user.id), source="manual",
                                       expiry=timedelta(hours=1),
                                       payload=ServiceRequestCreate(description="help", group="Hardware"))
        return user.id, groups, created.request.code


def actor(session, user_id: str) -> Actor:
    user = session.get(User, user_id)
    return Actor(kind="user", company_id=user.company_id, user=user)


def amend(database, filed, changes: dict) -> None:
    user_id, _, code = filed
    with database.write() as session:
        request = queue.find_request(session, company_id=session.get(User, user_id).company_id, code=code, lock=True)
        queue.amend(session, request=request, actor=actor(session, user_id), changes=changes)


def stored(database, code: str) -> tuple[ServiceRequest, list[RequestEvent]]:
    with database.read() as session:
        request = session.scalar(select(ServiceRequest).where(ServiceRequest.code == code))
        request.group  # loaded before the session ends
        events = list(session.scalars(select(RequestEvent).where(RequestEvent.request_id == request.id)
                                      .order_by(RequestEvent.id)))
        return request, events


def test_changed_fields_are_stored_and_named_in_one_event_without_their_values(database, filed):
    """Every field of the change is stored; the event lists their names, and the new group's id, not the texts."""
    user_id, groups, code = filed
    amend(database, filed, {"description": "help with the printer", "end_customer_name": "Ann",
                            "end_customer_email": "ann@example.com", "waiting_message": "soon",
                            "custom_api": "secret", "group_id": groups["Billing"]})
    request, events = stored(database, code)
    assert (request.description, request.end_customer_name, request.end_customer_email) == (
        "help with the printer", "Ann", "ann@example.com")
    assert (request.waiting_message, request.custom_api, request.group.name) == ("soon", "secret", "Billing")
    assert [event.type for event in events] == [EventType.CREATED, EventType.UPDATED]
    assert events[-1].actor == f"user:{user_id}"
    assert events[-1].data == {"fields": ["custom_api", "description", "end_customer_email", "end_customer_name",
                                          "group_id", "waiting_message"], "group": groups["Billing"]}


def test_values_it_already_has_change_nothing_and_record_nothing(database, filed):
    """The same description again: no event."""
    amend(database, filed, {"description": "help", "custom_api": ""})
    assert [event.type for event in stored(database, filed[2])[1]] == [EventType.CREATED]


def test_a_move_starts_the_wait_in_the_new_group_afresh(database, filed):
    """An alert of the old group's lapse no longer holds in the new group."""
    user_id, groups, code = filed
    with database.write() as session:
        request = session.scalar(select(ServiceRequest).where(ServiceRequest.code == code))
        request.escalated_at = utcnow()
    amend(database, filed, {"group_id": groups["Billing"]})
    assert stored(database, code)[0].escalated_at is None


def test_a_closed_request_refuses_a_change_and_keeps_its_values(database, filed):
    """Closed: IllegalTransition, the description as it was, no event."""
    user_id, _, code = filed
    with database.write() as session:
        request = session.scalar(select(ServiceRequest).where(ServiceRequest.code == code))
        queue.close(session, request=request, actor=actor(session, user_id))
    with pytest.raises(lifecycle.IllegalTransition):
        amend(database, filed, {"description": "too late"})
    request, events = stored(database, code)
    assert request.description == "help" and events[-1].type == EventType.CLOSED


def test_columns_outside_the_amendable_ones_are_refused(database, filed):
    """status, assignee_id and the like have operations of their own."""
    with pytest.raises(ValueError, match="status"):
        amend(database, filed, {"status": "closed", "description": "and this"})
    request, events = stored(database, filed[2])
    assert (request.status, request.description, len(events)) == ("new", "help", 1)
