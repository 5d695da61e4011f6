"""Presence drives the status: new, pending when one partner joins, in progress when both are in."""

import pytest

from tests.support.tenants import make_tenant


@pytest.fixture
def tenant(server):
    return make_tenant(server.database_url, supporters=2)


@pytest.fixture
def filed(api, tenant):
    """A fresh module request: (code, customer token)."""
    body = api.created(tenant.module_token)
    return body["code"], body["customer_token"]


def expert_ids(api, tenant) -> list[str]:
    return [api.call("GET", "/api/v1/users/me", token).json()["id"] for token in tenant.supporter_tokens.values()]


def move(api, code, verb, token) -> dict:
    response = api.action(code, verb, token)
    assert response.status_code == 200, response.text
    return response.json()


def test_new_request_has_nobody_in_its_session(api, tenant, filed):
    """Nobody has started the session of a new request."""
    code, _ = filed
    body = api.get(code, tenant.supporter_token).json()
    assert body["status"] == "new"
    assert body["session"] == {"customer_joined": False, "experts_joined": 0}


def test_customer_joining_makes_it_pending(api, filed):
    """The customer starting the session makes the request pending."""
    code, customer = filed
    body = move(api, code, "join", customer)
    assert body["status"] == "pending"
    assert body["session"] == {"customer_joined": True, "experts_joined": 0}


def test_expert_joining_first_makes_it_pending(api, tenant, filed):
    """The expert starting the session first also makes it pending."""
    code, _ = filed
    body = move(api, code, "join", tenant.supporter_token)
    assert body["status"] == "pending"
    assert body["session"] == {"customer_joined": False, "experts_joined": 1}


def test_both_partners_joined_is_in_progress(api, tenant, filed):
    """Customer and expert both in the session: in progress, whoever came first."""
    code, customer = filed
    move(api, code, "join", customer)
    body = move(api, code, "join", tenant.supporter_token)
    assert body["status"] == "in_progress"
    assert body["session"] == {"customer_joined": True, "experts_joined": 1}
    assert api.get(code, tenant.admin_token).json()["status"] == "in_progress"


def test_expert_first_then_customer_is_in_progress(api, tenant, filed):
    """The customer joining an expert who waits also gives in progress."""
    code, customer = filed
    move(api, code, "join", tenant.supporter_token)
    assert move(api, code, "join", customer)["status"] == "in_progress"


def test_customer_leaving_falls_back_to_pending(api, tenant, filed):
    """When the customer leaves an in-progress session the request is pending again."""
    code, customer = filed
    move(api, code, "join", customer)
    move(api, code, "join", tenant.supporter_token)
    body = move(api, code, "leave", customer)
    assert body["status"] == "pending"
    assert body["session"] == {"customer_joined": False, "experts_joined": 1}


def test_expert_leaving_falls_back_to_pending(api, tenant, filed):
    """When the expert leaves, the waiting customer keeps the request pending."""
    code, customer = filed
    move(api, code, "join", customer)
    move(api, code, "join", tenant.supporter_token)
    assert move(api, code, "leave", tenant.supporter_token)["status"] == "pending"


def test_started_session_stays_pending_when_everyone_left(api, tenant, filed):
    """A session that was started never returns to new, even when empty."""
    code, customer = filed
    move(api, code, "join", customer)
    move(api, code, "join", tenant.supporter_token)
    move(api, code, "leave", customer)
    body = move(api, code, "leave", tenant.supporter_token)
    assert body["status"] == "pending"
    assert body["session"] == {"customer_joined": False, "experts_joined": 0}


def test_second_expert_keeps_it_in_progress_when_the_first_leaves(api, tenant, filed):
    """Two experts may join; one leaving keeps the session in progress."""
    code, customer = filed
    first, second = tenant.supporter_tokens.values()
    move(api, code, "join", customer)
    move(api, code, "join", first)
    assert move(api, code, "join", second)["session"]["experts_joined"] == 2
    body = move(api, code, "leave", first)
    assert body["status"] == "in_progress"
    assert body["session"] == {"customer_joined": True, "experts_joined": 1}


def test_joining_twice_is_harmless(api, tenant, filed):
    """A repeated join changes nothing and records nothing."""
    code, customer = filed
    move(api, code, "join", customer)
    before = api.history(code, tenant.supporter_token)
    body = move(api, code, "join", customer)
    assert body["status"] == "pending"
    assert body["session"] == {"customer_joined": True, "experts_joined": 0}
    assert api.history(code, tenant.supporter_token) == before


def test_leaving_without_joining_is_harmless(api, tenant, filed):
    """Leaving a session one is not in keeps a new request new and records nothing."""
    code, customer = filed
    before = api.history(code, tenant.supporter_token)
    assert move(api, code, "leave", customer)["status"] == "new"
    assert move(api, code, "leave", tenant.supporter_token)["status"] == "new"
    assert api.history(code, tenant.supporter_token) == before


def test_history_records_every_step_with_its_actor(api, tenant, filed):
    """created, joined, status_changed and left land in the history, oldest first, with actors."""
    code, customer = filed
    expert_id = expert_ids(api, tenant)[0]
    move(api, code, "join", customer)
    move(api, code, "join", tenant.supporter_token)
    move(api, code, "leave", customer)
    history = api.history(code, tenant.supporter_token)
    steps = [(e["type"], e["actor"]["type"], e["status"], e["data"]) for e in history]
    assert steps == [
        ("created", "module", "new", {"source": "module"}),
        ("assigned", "system", "new", {"assignee": None, "strategy": "none", "reason": "module assigns nobody"}),
        ("joined", "customer", "pending", {"party": "customer"}),
        ("status_changed", "customer", "pending", {"from": "new", "to": "pending"}),
        ("joined", "user", "in_progress", {"party": f"user:{expert_id}"}),
        ("status_changed", "user", "in_progress", {"from": "pending", "to": "in_progress"}),
        ("left", "customer", "pending", {"party": "customer"}),
        ("status_changed", "customer", "pending", {"from": "in_progress", "to": "pending"}),
    ]
    assert history[0]["actor"]["id"] == tenant.module_id
    assert history[4]["actor"]["id"] == expert_id
    assert len({e["id"] for e in history}) == len(history)
    assert {e["code"] for e in history} == {code}


def test_customer_can_read_its_own_request_and_history(api, filed):
    """The customer token opens its own request and history."""
    code, customer = filed
    assert api.get(code, customer).json()["code"] == code
    assert api.history(code, customer)[0]["type"] == "created"
