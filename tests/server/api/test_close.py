"""Closing: by an expert of the company or by the request's creator; closed is final."""

import pytest

from tests.support.queue_api import assert_problem
from tests.support.tenants import make_tenant


@pytest.fixture
def tenant(server):
    return make_tenant(server.database_url, supporters=2)


def user_id(api, token) -> str:
    return api.call("GET", "/api/v1/users/me", token).json()["id"]


def close(api, code, token) -> dict:
    response = api.action(code, "close", token)
    assert response.status_code == 200, response.text
    return response.json()


def test_any_expert_of_the_company_can_close(api, tenant):
    """A colleague who neither created nor was assigned the request may close it."""
    creator, colleague = tenant.supporter_tokens.values()
    code = api.created(creator)["code"]
    body = close(api, code, colleague)
    assert body["status"] == "closed"
    assert body["closed_by"] == {"type": "user", "id": user_id(api, colleague)}
    assert body["closed_at"] is not None
    assert api.get(code, creator).json()["status"] == "closed"


def test_customer_closes_with_its_token(api, tenant):
    """The customer token closes its request, and the request says the customer closed it."""
    body = api.created(tenant.module_token)
    closed = close(api, body["code"], body["customer_token"])
    assert closed["status"] == "closed"
    assert closed["closed_by"] == {"type": "customer", "id": None}


def test_creating_user_closes_own_request(api, tenant):
    """The user who filed a manual request can close it."""
    code = api.created(tenant.supporter_token)["code"]
    assert close(api, code, tenant.supporter_token)["closed_by"]["id"] == user_id(api, tenant.supporter_token)


def test_closing_ends_the_session(api, tenant):
    """A closed request has nobody left in its session."""
    body = api.created(tenant.module_token)
    api.action(body["code"], "join", body["customer_token"])
    api.action(body["code"], "join", tenant.supporter_token)
    session = close(api, body["code"], tenant.supporter_token)["session"]
    assert session == {"customer_joined": False, "experts_joined": 0}


def test_closing_is_recorded_in_history(api, tenant):
    """The history ends with a ``closed`` event by the closer."""
    body = api.created(tenant.module_token)
    close(api, body["code"], body["customer_token"])
    last = api.history(body["code"], tenant.supporter_token)[-1]
    assert (last["type"], last["status"], last["actor"]["type"]) == ("closed", "closed", "customer")


def test_module_token_cannot_close(api, tenant):
    """The module that filed a request may not close it; the request stays open."""
    code = api.created(tenant.module_token)["code"]
    assert_problem(api.action(code, "close", tenant.module_token), 403)
    assert api.get(code, tenant.supporter_token).json()["status"] == "new"


@pytest.fixture
def closed_request(api, tenant):
    body = api.created(tenant.module_token)
    close(api, body["code"], tenant.supporter_token)
    return body


@pytest.mark.parametrize("verb", ["join", "leave", "close"])
def test_closed_request_refuses_expert_changes(api, tenant, closed_request, verb):
    """An expert cannot join, leave or close a closed request: 409 request_closed."""
    assert_problem(api.action(closed_request["code"], verb, tenant.supporter_token), 409, code="request_closed")


@pytest.mark.parametrize("verb", ["join", "leave", "close"])
def test_closed_request_refuses_customer_changes(api, closed_request, verb):
    """The customer cannot join, leave or close it again either."""
    assert_problem(api.action(closed_request["code"], verb, closed_request["customer_token"]), 409,
                   code="request_closed")


@pytest.mark.parametrize("user", ["me", None])
def test_closed_request_cannot_be_assigned(api, tenant, closed_request, user):
    """Assigning or unassigning a closed request is a 409."""
    assert_problem(api.assign(closed_request["code"], tenant.supporter_token, user), 409, code="request_closed")


def test_refused_changes_leave_a_closed_request_untouched(api, tenant, closed_request):
    """After refused changes the request and its history are exactly as they were at closing."""
    code = closed_request["code"]
    before = api.get(code, tenant.supporter_token).json(), api.history(code, tenant.supporter_token)
    for verb in ("join", "close"):
        api.action(code, verb, tenant.supporter_token)
    api.assign(code, tenant.supporter_token, "me")
    after = api.get(code, tenant.supporter_token).json(), api.history(code, tenant.supporter_token)
    assert after == before


def test_closed_request_stays_readable(api, tenant, closed_request):
    """Closed requests are still listed and readable by staff and customer."""
    code = closed_request["code"]
    assert api.get(code, closed_request["customer_token"]).json()["status"] == "closed"
    assert code in api.codes(tenant.supporter_token, status="closed")
    assert code not in api.codes(tenant.supporter_token, status="new,pending,in_progress")
