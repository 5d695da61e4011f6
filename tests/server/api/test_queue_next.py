"""POST /api/v1/queue/next: Get next over the API."""

import pytest

from tests.support.queue_api import assert_problem
from tests.support.tenants import make_tenant

NEXT = "/api/v1/queue/next"


@pytest.fixture
def tenant(server):
    """A module filing into a group of the first supporter; the second is in no group."""
    return make_tenant(server.database_url, supporters=2, group_members=1)


def test_answers_the_taken_request_assigned_to_the_caller(api, tenant):
    code = api.created(tenant.module_token)["code"]
    response = api.call("POST", NEXT, tenant.supporter_token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == code
    assert body["assignee"]["id"] == tenant.user_ids[tenant.supporter_email]
    assert response.headers["location"] == f"/api/v1/service-requests/{code}"
    assert api.get(code, tenant.admin_token).json()["assignee"]["id"] == body["assignee"]["id"]


def test_answers_204_without_a_body_when_nothing_waits(api, tenant):
    response = api.call("POST", NEXT, tenant.supporter_token)
    assert (response.status_code, response.content) == (204, b"")


def test_a_supporter_outside_the_group_gets_nothing_of_it(api, tenant):
    outsider = list(tenant.supporter_tokens.values())[1]
    code = api.created(tenant.module_token)["code"]
    assert api.call("POST", NEXT, outsider).status_code == 204
    assert api.get(code, tenant.admin_token).json()["assignee"] is None


@pytest.mark.parametrize("who", ["module", "customer", "nobody"])
def test_only_users_may_take(api, tenant, who):
    created = api.created(tenant.module_token)
    token = {"module": tenant.module_token, "customer": created["customer_token"], "nobody": None}[who]
    assert_problem(api.call("POST", NEXT, token), (401, 403))
    assert api.get(created["code"], tenant.admin_token).json()["assignee"] is None


def test_is_documented_with_its_204(api):
    operation = api.call("GET", "/openapi.json").json()["paths"][NEXT]["post"]
    assert set(operation["responses"]) >= {"200", "204"}
