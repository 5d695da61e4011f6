"""One creation operation for the API and the dashboard: the same rate limit, expiry and checks."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from server.db import Database
from server.models import ServiceRequest
from tests.server.inprocess import dashboard, in_process
from tests.support.dashboard import PASSWORD
from tests.support.queue_api import assert_problem
from tests.support.servers import sqlite_url
from tests.support.tenants import Tenant, bearer, make_tenant

BURST = 3
PER_MINUTE = 6
FORM = {"name": "Ada", "email": "ada@example.test", "description": "Printer jams"}


@pytest.fixture(scope="module")
def database_url(tmp_path_factory) -> str:
    return sqlite_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="module")
def client(database_url) -> TestClient:
    with in_process(database_url, create_rate_per_minute=PER_MINUTE, create_burst=BURST,
                    login_attempts_per_minute=0, expiry_hours=5) as running:
        yield running


@pytest.fixture
def tenant(client, database_url) -> Tenant:
    return make_tenant(database_url, password=PASSWORD, supporters=1)


def stored(database_url: str, tenant: Tenant) -> list[ServiceRequest]:
    database = Database(database_url)
    try:
        with database.read() as session:
            return list(session.query(ServiceRequest).filter(ServiceRequest.created_by == f"user:{tenant.user_ids[tenant.supporter_email]}"))
    finally:
        database.dispose()


def test_the_dashboards_creation_is_rate_limited_like_the_apis(client, database_url, tenant):
    """The supporter's burst of manual requests, then 429 on the page; nothing more is stored."""
    supporter = dashboard(client, tenant.supporter_email)
    for _ in range(BURST):
        assert supporter.post("/requests/new", data=FORM).status_code == 303
    refused = supporter.post("/requests/new", data=FORM)
    assert refused.status_code == 429
    assert "Too many requests were created lately; try again in" in refused.text
    assert len(stored(database_url, tenant)) == BURST


def test_the_api_and_the_dashboard_share_a_users_allowance(client, database_url, tenant):
    """One user, one allowance: what the dashboard used up, the API refuses, and the other way round."""
    supporter = dashboard(client, tenant.supporter_email)
    for _ in range(BURST):
        assert supporter.post("/requests/new", data=FORM).status_code == 303
    response = client.post("/api/v1/service-requests", headers=bearer(tenant.supporter_token),
                           json={"description": "x", "end_customer": {"name": "Ada"}})
    problem = assert_problem(response, 429, code="rate_limited")
    assert problem["detail"] == f"too many requests created; try again in {response.headers['Retry-After']} s"


def test_the_dashboards_creation_takes_the_expiry_of_the_server(client, database_url, tenant):
    supporter = dashboard(client, tenant.supporter_email)
    assert supporter.post("/requests/new", data=FORM).status_code == 303
    (request,) = stored(database_url, tenant)
    assert request.source == "manual"
    assert request.valid_until - request.created_at == timedelta(hours=5)


def test_a_form_the_payload_refuses_is_shown_again_and_uses_no_allowance(client, database_url, tenant):
    supporter = dashboard(client, tenant.supporter_email)
    for _ in range(BURST + 1):
        assert supporter.post("/requests/new", data={**FORM, "email": "not an email"}).status_code == 422
    assert supporter.post("/requests/new", data=FORM).status_code == 303
