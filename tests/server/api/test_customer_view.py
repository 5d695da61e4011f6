"""What a customer's token and a module's token see of the supporter a request is assigned to: who
it is (the id), never their email address; the company's users see both."""

import httpx
import pytest

from tests.support.sse import EventStream
from tests.support.tenants import bearer, file_request, make_tenant

API = "/api/v1/service-requests"


@pytest.fixture(scope="module")
def tenant(server):
    return make_tenant(server.database_url)


@pytest.fixture(scope="module")
def assigned(server, tenant):
    """A request a module filed, assigned to the supporter: (its creation answer, the supporter's id)."""
    created = file_request(server.url, tenant.module_token)
    answer = httpx.post(f"{server.url}{API}/{created['code']}/assign", json={"user": "me"},
                        headers=bearer(tenant.supporter_token), timeout=30)
    assert answer.status_code == 200, answer.text
    return created, tenant.user_ids[tenant.supporter_email]


def test_the_customer_sees_who_is_assigned_but_not_their_email_address(server, assigned):
    created, supporter_id = assigned
    seen = httpx.get(f"{server.url}{API}/{created['code']}", headers=bearer(created["customer_token"]), timeout=30)
    assert seen.json()["assignee"] == {"id": supporter_id, "email": None}
    joined = httpx.post(f"{server.url}{API}/{created['code']}/join", headers=bearer(created["customer_token"]),
                        timeout=30)
    assert joined.json()["assignee"] == {"id": supporter_id, "email": None}


def test_the_customer_s_event_stream_snapshot_leaves_the_email_address_out(server, assigned):
    created, supporter_id = assigned
    with EventStream(f"{server.url}{API}/{created['code']}/events", created["customer_token"]).open() as stream:
        snapshot = stream.next_event()
    assert snapshot.event == "snapshot"
    assert snapshot.json()["assignee"] == {"id": supporter_id, "email": None}


def test_the_company_s_users_see_the_email_address(server, tenant, assigned):
    created, supporter_id = assigned
    seen = httpx.get(f"{server.url}{API}/{created['code']}", headers=bearer(tenant.admin_token), timeout=30)
    assert seen.json()["assignee"] == {"id": supporter_id, "email": tenant.supporter_email}


def test_a_module_s_creation_answer_leaves_the_email_address_out(server, tenant):
    """A module's creation answer goes to the customer's computer, whatever the module's assignment."""
    module = httpx.post(f"{server.url}/api/v1/modules", json={
        "name": "Fixed desk", "assignment": f"fixed:{tenant.supporter_email}"}, headers=bearer(tenant.admin_token),
        timeout=30).json()
    created = file_request(server.url, module["token"])
    assert created["assignee"] == {"id": tenant.user_ids[tenant.supporter_email], "email": None}
