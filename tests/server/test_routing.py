"""Routing: the sweep escalates a group's requests that wait past its thresholds, and may move them on."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from server.app import sweep_once
from server.db import Database
from server.models import RequestEvent, ServiceRequest, User, utcnow
from server.routing import escalate_due
from sosqueue import codes as session_codes
from sosqueue.events import EventType
from tests.server.inprocess import in_process
from tests.support.databases import fresh_databases
from tests.support.tenants import Tenant, bearer, make_tenant

REQUESTS = "/api/v1/service-requests"


@pytest.fixture(scope="module")
def client(backend, request, tmp_path_factory) -> TestClient:
    """The app in this process; its own sweeper waits an hour, so only the tests' sweeps escalate."""
    with fresh_databases(backend, request, tmp_path_factory) as make:
        with in_process(make(), sweep_interval_seconds=3600) as running:
            yield running


def database(client: TestClient) -> Database:
    return client.app.state.sosqueue.db


def team(client: TestClient, *, members: int = 3, **routing) -> Tenant:
    """A company whose module files into a group of ``members`` supporters with these routing settings."""
    tenant = make_tenant(database(client).url, supporters=members, group_members=members)
    [group] = client.get("/api/v1/groups", headers=bearer(tenant.admin_token)).json()["items"]
    response = client.patch(f"/api/v1/groups/{group['id']}", json=routing, headers=bearer(tenant.admin_token))
    assert response.status_code == 200, response.text
    return tenant


def supporters(tenant: Tenant) -> list[str]:
    return [tenant.user_ids[email] for email in tenant.supporter_tokens]


def file(client: TestClient, tenant: Tenant, token: str | None = None) -> str:
    response = client.post(REQUESTS, json={"description": "printer on fire"}, headers=bearer(token or tenant.module_token))
    assert response.status_code == 201, response.text
    return response.json()["code"]


def filed_before(client: TestClient, code: str, *, minutes: float) -> None:
    """Move the request's filing, and what happened with it so far, ``minutes`` into the past."""
    earlier = utcnow() - timedelta(minutes=minutes)
    stored_code = session_codes.normalize(code)
    with database(client).write() as session:
        session.execute(update(ServiceRequest).where(ServiceRequest.code == stored_code).values(created_at=earlier))
        session.execute(update(RequestEvent).where(RequestEvent.code == stored_code).values(created_at=earlier))


def assign(client: TestClient, tenant: Tenant, code: str, user: str | None) -> None:
    response = client.post(f"{REQUESTS}/{code}/assign", json={"user": user}, headers=bearer(tenant.admin_token))
    assert response.status_code == 200, response.text


def sweep(client: TestClient, *, minutes_from_now: float) -> int:
    with database(client).write() as session:
        return escalate_due(session, now=utcnow() + timedelta(minutes=minutes_from_now))


def events(client: TestClient, tenant: Tenant, code: str, type: str) -> list[dict]:
    response = client.get(f"{REQUESTS}/{code}/history", headers=bearer(tenant.admin_token))
    assert response.status_code == 200, response.text
    return [event["data"] for event in response.json() if event["type"] == type]


def escalations(client, tenant, code) -> list[dict]:
    return events(client, tenant, code, EventType.ESCALATED)


def stored(client: TestClient, code: str) -> ServiceRequest:
    with database(client).read() as session:
        return session.scalar(select(ServiceRequest).where(ServiceRequest.code == session_codes.normalize(code)))


def assignee(client: TestClient, tenant: Tenant, code: str) -> str | None:
    body = client.get(f"{REQUESTS}/{code}", headers=bearer(tenant.admin_token)).json()
    return body["assignee"] and body["assignee"]["id"]


def set_available(client: TestClient, tenant: Tenant, user_id: str, available: bool) -> None:
    token = next(t for email, t in tenant.supporter_tokens.items() if tenant.user_ids[email] == user_id)
    response = client.put("/api/v1/users/me/availability", json={"available": available}, headers=bearer(token))
    assert response.status_code == 200, response.text


def deactivate(client: TestClient, user_id: str) -> None:
    with database(client).write() as session:
        session.execute(update(User).where(User.id == user_id).values(active=False))


def test_an_unassigned_request_escalates_once_when_it_waited_past_the_group_threshold(client):
    tenant = team(client, unassigned_alert_minutes=5)
    code = file(client, tenant)

    sweep(client, minutes_from_now=4)
    assert escalations(client, tenant, code) == []
    sweep(client, minutes_from_now=6)
    sweep(client, minutes_from_now=60)  # it stays unassigned: still one alert

    assert escalations(client, tenant, code) == [{"reason": "unassigned", "minutes": 5}]
    assert stored(client, code).escalated_at is not None
    assert assignee(client, tenant, code) is None


def test_an_assigned_request_nobody_joined_escalates_naming_who_let_it_lapse(client):
    tenant = team(client, unjoined_alert_minutes=10)
    first = supporters(tenant)[0]
    code = file(client, tenant)
    assign(client, tenant, code, first)

    sweep(client, minutes_from_now=9)
    assert escalations(client, tenant, code) == []
    sweep(client, minutes_from_now=11)
    sweep(client, minutes_from_now=30)

    assert escalations(client, tenant, code) == [{"reason": "not_joined", "minutes": 10, "lapsed_by": first}]
    assert assignee(client, tenant, code) == first  # the group does not reassign


def test_a_request_a_supporter_joined_does_not_escalate(client):
    tenant = team(client, unjoined_alert_minutes=1)
    code = file(client, tenant)
    assign(client, tenant, code, supporters(tenant)[0])
    response = client.post(f"{REQUESTS}/{code}/join", headers=bearer(tenant.supporter_token))
    assert response.status_code == 200, response.text

    sweep(client, minutes_from_now=60)

    assert escalations(client, tenant, code) == []


def test_requests_without_a_group_or_of_a_group_without_thresholds_never_escalate(client):
    tenant = team(client)  # no thresholds
    grouped = file(client, tenant)
    ungrouped = file(client, tenant, tenant.admin_token)  # filed by hand, for no group
    team(client, unassigned_alert_minutes=1, unjoined_alert_minutes=1)  # another company's thresholds

    sweep(client, minutes_from_now=24 * 60)

    assert escalations(client, tenant, grouped) == escalations(client, tenant, ungrouped) == []


def test_an_unassigned_wait_starts_again_when_the_request_is_unassigned(client):
    tenant = team(client, unassigned_alert_minutes=10)
    code = file(client, tenant)
    filed_before(client, code, minutes=30)
    assign(client, tenant, code, supporters(tenant)[0])
    assign(client, tenant, code, None)  # unassigned just now

    sweep(client, minutes_from_now=9)
    assert escalations(client, tenant, code) == []
    sweep(client, minutes_from_now=11)
    assert escalations(client, tenant, code) == [{"reason": "unassigned", "minutes": 10}]


def test_a_lapsed_request_moves_to_the_least_busy_available_member_and_never_back(client):
    tenant = team(client, members=4, unjoined_alert_minutes=10, reassign_on_lapse=True)
    first, away, busy, idle = supporters(tenant)
    set_available(client, tenant, away, False)
    load = file(client, tenant)  # busy works on another request already
    assign(client, tenant, load, busy)
    token = next(t for email, t in tenant.supporter_tokens.items() if tenant.user_ids[email] == busy)
    assert client.post(f"{REQUESTS}/{load}/join", headers=bearer(token)).status_code == 200
    code = file(client, tenant)
    assign(client, tenant, code, first)

    sweep(client, minutes_from_now=11)

    assert assignee(client, tenant, code) == idle
    assert events(client, tenant, code, EventType.ASSIGNED)[-1] == {
        "assignee": idle, "reason": "lapsed: the group's next available supporter"}
    request = stored(client, code)
    assert request.lapsed_by == [first]
    assert request.escalated_at is None  # a new assignee: a new wait
    assert request.assigned_at is not None

    sweep(client, minutes_from_now=22)  # idle lets it lapse too: busy is left
    assert assignee(client, tenant, code) == busy
    assert stored(client, code).lapsed_by == [first, idle]


def test_with_nobody_left_a_lapsed_request_stays_unassigned_for_the_group_and_alerts_once(client):
    tenant = team(client, members=3, unassigned_alert_minutes=5, unjoined_alert_minutes=10, reassign_on_lapse=True)
    first, away, gone = supporters(tenant)
    set_available(client, tenant, away, False)
    deactivate(client, gone)
    code = file(client, tenant)
    assign(client, tenant, code, first)

    sweep(client, minutes_from_now=11)

    assert assignee(client, tenant, code) is None
    assert events(client, tenant, code, EventType.ASSIGNED)[-1] == {
        "assignee": None, "reason": "no other supporter of the group is available; left unassigned for the group"}
    assert stored(client, code).lapsed_by == [first]

    set_available(client, tenant, first, True)  # back, but it was first who let it lapse
    for minutes in (17, 30, 60):  # unassigned past its own threshold: one more alert, then quiet
        sweep(client, minutes_from_now=minutes)
    assert [e["reason"] for e in escalations(client, tenant, code)] == ["not_joined", "unassigned"]
    assert assignee(client, tenant, code) is None


def test_an_unassigned_lapse_goes_to_an_available_member(client):
    tenant = team(client, members=2, unassigned_alert_minutes=5, reassign_on_lapse=True)
    away, ready = supporters(tenant)
    set_available(client, tenant, away, False)
    code = file(client, tenant)

    sweep(client, minutes_from_now=6)

    assert escalations(client, tenant, code) == [{"reason": "unassigned", "minutes": 5}]
    assert assignee(client, tenant, code) == ready
    assert stored(client, code).lapsed_by == []


def test_expired_and_closed_requests_do_not_escalate(client):
    tenant = team(client, unassigned_alert_minutes=5)
    closed = file(client, tenant)
    assert client.post(f"{REQUESTS}/{closed}/close", headers=bearer(tenant.admin_token)).status_code == 200
    expired = file(client, tenant)
    with database(client).write() as session:
        session.execute(update(ServiceRequest).where(ServiceRequest.code == session_codes.normalize(expired))
                        .values(valid_until=utcnow() + timedelta(minutes=3)))

    sweep(client, minutes_from_now=6)

    assert escalations(client, tenant, closed) == escalations(client, tenant, expired) == []


def test_the_server_sweeper_escalates_with_the_expiry_sweep(client):
    tenant = team(client, unassigned_alert_minutes=5)
    code = file(client, tenant)
    filed_before(client, code, minutes=10)
    events_before = len(client.get(f"{REQUESTS}/{code}/history", headers=bearer(tenant.admin_token)).json())

    sweep_once(client.app.state.sosqueue)
    sweep_once(client.app.state.sosqueue)

    assert escalations(client, tenant, code) == [{"reason": "unassigned", "minutes": 5}]
    assert len(client.get(f"{REQUESTS}/{code}/history", headers=bearer(tenant.admin_token)).json()) == events_before + 1


# -- several server processes on one PostgreSQL ---------------------------------------------------


@pytest.fixture
def postgres_client(postgres, request, tmp_path_factory):
    with fresh_databases("postgresql", request, tmp_path_factory) as make:
        with in_process(make(), sweep_interval_seconds=3600) as running:
            yield running


def test_two_concurrent_sweeps_on_postgresql_escalate_each_request_once(postgres_client):
    client = postgres_client
    tenant = team(client, unassigned_alert_minutes=5)
    codes = [file(client, tenant) for _ in range(20)]
    later = utcnow() + timedelta(minutes=6)
    one, other = Database(database(client).url), Database(database(client).url)
    try:
        with one.write() as first:
            assert escalate_due(first, now=later, batch=10) == 10  # holds its rows' locks until it commits
            with other.write() as second:
                second.execute(text("SET LOCAL lock_timeout = '5s'"))  # waiting on a lock would be a bug
                assert escalate_due(second, now=later, batch=50) == 10  # skips the locked ten
        with other.write() as again:
            assert escalate_due(again, now=later) == 0
        with one.read() as session:
            counts = dict(session.execute(
                select(RequestEvent.code, func.count()).where(RequestEvent.type == EventType.ESCALATED)
                .group_by(RequestEvent.code)).all())
    finally:
        one.dispose()
        other.dispose()
    assert counts == {session_codes.normalize(code): 1 for code in codes}
