"""The database dependencies: one write transaction per route, committed before the answer; one read
session for the caller and the route where the route asks for it."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, select

from server.db import Database
from server.models import ServiceRequest, User
from tests.server.inprocess import in_process
from tests.support.servers import sqlite_url
from tests.support.tenants import bearer, make_tenant


@pytest.fixture(scope="module")
def database_url(tmp_path_factory) -> str:
    return sqlite_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="module")
def client(database_url):
    with in_process(database_url) as running:
        yield running


def available(database_url: str, user_id: str) -> bool:
    database = Database(database_url)
    try:
        with database.read() as session:
            return session.get(User, user_id).available
    finally:
        database.dispose()


def request_id_of(database_url: str, code: str) -> int:
    database = Database(database_url)
    try:
        with database.read() as session:
            return session.scalar(select(ServiceRequest.id).where(ServiceRequest.code == code))
    finally:
        database.dispose()


def test_the_change_is_committed_when_the_answer_arrives(client, database_url):
    tenant = make_tenant(database_url)
    user_id = tenant.user_ids[tenant.supporter_email]
    for wanted in (False, True, False):
        response = client.put("/api/v1/users/me/availability", headers=bearer(tenant.supporter_token),
                              json={"available": wanted})
        assert response.status_code == 200 and response.json()["available"] is wanted
        assert available(database_url, user_id) is wanted


@pytest.mark.timeout(120)  # a writer lock that a thread cannot release hangs the writers that follow
def test_concurrent_writes_on_sqlite_all_succeed(client, database_url):
    """The dependency enters and leaves in different threadpool threads; SQLite's writer lock allows that."""
    tenant = make_tenant(database_url, supporters=4)

    def flip(index: int) -> int:
        token = list(tenant.supporter_tokens.values())[index % 4]
        return client.put("/api/v1/users/me/availability", headers=bearer(token),
                          json={"available": bool(index % 2)}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(flip, range(80))) == {200}


def test_a_refused_change_is_rolled_back(client, database_url):
    """Assigning to someone unknown is refused inside the transaction: no event is stored."""
    tenant = make_tenant(database_url)
    code = client.post("/api/v1/service-requests", headers=bearer(tenant.module_token),
                       json={"description": "x", "end_customer": {"name": "Ada"}}).json()["code"]
    response = client.post(f"/api/v1/service-requests/{code}/assign", headers=bearer(tenant.admin_token),
                           json={"user": "00000000-0000-0000-0000-000000000000"})
    assert response.status_code == 404
    history = client.get(f"/api/v1/service-requests/{code}/history", headers=bearer(tenant.admin_token)).json()
    assert [event["type"] for event in history] == ["created", "assigned"]  # the module's own assignment


def test_a_waiting_room_poll_reads_the_caller_and_the_room_in_one_session_without_participants(client, database_url):
    """The agent's most frequent call: the customer token, the request and its position, three
    statements on one connection, and never the request's participants."""
    tenant = make_tenant(database_url)
    created = client.post("/api/v1/service-requests", headers=bearer(tenant.module_token),
                          json={"description": "waiting", "end_customer": {"name": "Ada"}}).json()
    poll = f"/api/v1/service-requests/{created['code']}/waiting-room"
    assert client.get(poll, headers=bearer(created["customer_token"])).status_code == 200  # the history, now cached
    canonical = created["code"].replace("-", "")
    request_id = request_id_of(database_url, canonical)
    seen = []

    def note(connection, _cursor, statement, parameters, _context, _many):
        values = parameters.values() if isinstance(parameters, dict) else parameters
        if any(value in (canonical, request_id) for value in values):
            seen.append((connection, statement))  # the connection kept, so no other gets its id

    engine = client.app.state.sosqueue.db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        response = client.get(poll, headers=bearer(created["customer_token"]))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert response.status_code == 200 and response.json()["position"] == 1
    assert len(seen) == 3, [statement for _, statement in seen]
    assert len({id(connection) for connection, _ in seen}) == 1
    assert not any("request_participants" in statement for _, statement in seen)
