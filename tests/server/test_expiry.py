"""Expiry: a request not closed in time is expired, whether or not the sweeper got to it yet."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from sosqueue import codes
from server.db import Database
from server.models import ServiceRequest, utcnow
from tests.support.queue_api import QueueApi, assert_problem, wait_for
from tests.support.databases import fresh_databases
from tests.support.servers import QueueServer
from tests.support.tenants import make_tenant

SHORT_EXPIRY_HOURS = 0.0005  # 1.8 s


@pytest.fixture(scope="module")
def fresh_database(backend, request, tmp_path_factory):
    """Makes empty databases of this module's backend."""
    with fresh_databases(backend, request, tmp_path_factory) as make:
        yield make


@pytest.fixture(scope="module")
def expiring(fresh_database, tmp_path_factory):
    """A server whose requests expire 1.8 s after creation, and its API client."""
    logs = tmp_path_factory.mktemp("logs")
    with QueueServer(fresh_database(), expiry_hours=SHORT_EXPIRY_HOURS, log_dir=logs) as server:
        api = QueueApi(server.url)
        yield server, api
        api.close_client()


@pytest.fixture(scope="module")
def lapsed(expiring):
    """Two requests of one tenant, one idle and one in progress, both left to run out."""
    server, api = expiring
    tenant = make_tenant(server.database_url, supporters=1)
    idle = api.created(tenant.module_token)
    busy = api.created(tenant.module_token)
    api.action(busy["code"], "join", busy["customer_token"])
    assert api.action(busy["code"], "join", tenant.supporter_token).json()["status"] == "in_progress"
    for body in (idle, busy):
        wait_for(lambda: api.get(body["code"], tenant.supporter_token).json()["status"] == "expired",
                 what=f"{body['code']} to expire")
    return api, tenant, idle, busy


def test_short_expiry_sets_the_deadline(expiring):
    """``--expiry-hours`` takes fractions: the deadline is 1.8 s after creation."""
    server, api = expiring
    body = api.created(make_tenant(server.database_url).supporter_token)
    delta = datetime.fromisoformat(body["valid_until"]) - datetime.fromisoformat(body["created_at"])
    assert delta == timedelta(hours=SHORT_EXPIRY_HOURS)


def test_request_past_its_deadline_reads_as_expired(lapsed):
    """Once its deadline passed, GET serves the request as expired."""
    api, tenant, idle, busy = lapsed
    for body in (idle, busy):
        stored = api.get(body["code"], tenant.supporter_token).json()
        assert stored["status"] == "expired"
        assert datetime.fromisoformat(stored["valid_until"]) <= utcnow()
    assert api.get(idle["code"], idle["customer_token"]).json()["status"] == "expired"


def test_status_filters_see_expired_requests(lapsed):
    """``status=expired`` lists them; the open statuses do not."""
    api, tenant, idle, busy = lapsed
    token = tenant.supporter_token
    assert set(api.codes(token, status="expired")) == {idle["code"], busy["code"]}
    assert api.codes(token, status="new,pending,in_progress") == []
    assert {item["status"] for item in api.all_items(token)} == {"expired"}


@pytest.mark.parametrize("verb", ["join", "leave", "close"])
def test_expired_request_refuses_changes(lapsed, verb):
    """Joining, leaving or closing an expired request is a 409, for experts and customers."""
    api, tenant, idle, busy = lapsed
    for body in (idle, busy):
        assert_problem(api.action(body["code"], verb, tenant.supporter_token), 409, code="request_expired")
        assert_problem(api.action(body["code"], verb, body["customer_token"]), 409, code="request_expired")


def test_expired_request_cannot_be_assigned(lapsed):
    """Assignment of an expired request is a 409."""
    api, tenant, idle, _ = lapsed
    assert_problem(api.assign(idle["code"], tenant.supporter_token, "me"), 409, code="request_expired")
    assert api.get(idle["code"], tenant.supporter_token).json()["assignee"] is None


def test_sweeper_records_expiry_by_the_system(lapsed):
    """The history gains exactly one ``expired`` event, by the system, and nothing after it."""
    api, tenant, idle, busy = lapsed
    for body in (idle, busy):
        history = wait_for(
            lambda: (h := api.history(body["code"], tenant.supporter_token)) and h[-1]["type"] == "expired" and h,
            what="the expired event",
        )
        expired = [e for e in history if e["type"] == "expired"]
        assert len(expired) == 1
        assert expired[0]["actor"] == {"type": "system", "id": None}
        assert expired[0]["status"] == "expired"


def test_expiry_ends_the_session(lapsed):
    """After the sweep, nobody is left in an expired request's session."""
    api, tenant, _, busy = lapsed
    wait_for(lambda: api.history(busy["code"], tenant.supporter_token)[-1]["type"] == "expired", what="the sweep")
    assert api.get(busy["code"], tenant.supporter_token).json()["session"] == {"customer_joined": False,
                                                                                "experts_joined": 0}


# -- before the sweeper ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def unswept(fresh_database, tmp_path_factory):
    """A server with a 24 h window whose sweeper runs only at start-up, and a database handle."""
    env = {"SOSQUEUE_SWEEP_INTERVAL_SECONDS": "3600"}
    with QueueServer(fresh_database(), env=env, log_dir=tmp_path_factory.mktemp("logs")) as server:
        database = Database(server.database_url)
        api = QueueApi(server.url)
        yield server, api, database
        api.close_client()
        database.dispose()


def run_out(database: Database, code: str) -> None:
    """Move the request's deadline into the past, as if 24 h had gone by."""
    with database.write() as session:
        session.execute(update(ServiceRequest).where(ServiceRequest.code == codes.normalize(code))
                        .values(valid_until=utcnow() - timedelta(minutes=1)))


def stored_status(database: Database, code: str) -> str:
    with database.read() as session:
        return session.scalar(select(ServiceRequest.status).where(ServiceRequest.code == codes.normalize(code)))


def test_unswept_request_past_deadline_is_served_as_expired(unswept):
    """Even while the stored status is still open, GET and the filters say expired."""
    server, api, database = unswept
    tenant = make_tenant(server.database_url)
    code = api.created(tenant.supporter_token)["code"]
    run_out(database, code)
    assert api.get(code, tenant.supporter_token).json()["status"] == "expired"
    assert api.codes(tenant.supporter_token, status="expired") == [code]
    assert api.codes(tenant.supporter_token, status="new") == []
    assert api.codes(tenant.supporter_token, status="new,pending,in_progress") == []
    assert stored_status(database, code) == "new"


def test_unswept_request_past_deadline_refuses_changes(unswept):
    """Changes to a request past its deadline are 409 before any sweep, and store nothing."""
    server, api, database = unswept
    tenant = make_tenant(server.database_url)
    body = api.created(tenant.module_token)
    run_out(database, body["code"])
    history = api.history(body["code"], tenant.supporter_token)
    assert_problem(api.action(body["code"], "join", body["customer_token"]), 409, code="request_expired")
    assert_problem(api.action(body["code"], "close", tenant.supporter_token), 409, code="request_expired")
    assert_problem(api.assign(body["code"], tenant.supporter_token, "me"), 409, code="request_expired")
    assert api.history(body["code"], tenant.supporter_token) == history
    assert stored_status(database, body["code"]) == "new"


def test_closed_request_never_turns_expired(unswept):
    """A request closed in time stays closed after its deadline."""
    server, api, database = unswept
    tenant = make_tenant(server.database_url)
    code = api.created(tenant.supporter_token)["code"]
    api.action(code, "close", tenant.supporter_token)
    run_out(database, code)
    assert api.get(code, tenant.supporter_token).json()["status"] == "closed"
    assert api.codes(tenant.supporter_token, status="closed") == [code]
    assert api.codes(tenant.supporter_token, status="expired") == []
