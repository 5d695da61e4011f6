"""Assignment by hand (me, a colleague, nobody) and automated assignment per module."""

import pytest

from server.db import Database
from server.models import User
from tests.support.queue_api import assert_problem
from tests.support.tenants import make_tenant


@pytest.fixture
def tenant(server):
    return make_tenant(server.database_url, supporters=2)


def supporter_ids(tenant) -> list[str]:
    return [tenant.user_ids[email] for email in tenant.supporter_tokens]


def assign(api, code, token, user) -> dict:
    response = api.assign(code, token, user)
    assert response.status_code == 200, response.text
    return response.json()


def set_available(api, token, available: bool) -> None:
    response = api.call("PUT", "/api/v1/users/me/availability", token, json={"available": available})
    assert response.status_code == 200, response.text
    assert response.json()["available"] is available


def auto_assignees(api, tenant, count: int) -> list[str | None]:
    assigned = [api.created(tenant.module_token)["assignee"] for _ in range(count)]
    return [a and a["id"] for a in assigned]


# -- by hand ----------------------------------------------------------------------------------


def test_assign_to_me(api, tenant):
    """``"me"`` assigns the request to the caller and records who did it."""
    me = supporter_ids(tenant)[0]
    code = api.created(tenant.module_token)["code"]
    body = assign(api, code, tenant.supporter_token, "me")
    assert body["assignee"] == {"id": me, "email": next(iter(tenant.supporter_tokens))}
    last = api.history(code, tenant.supporter_token)[-1]
    assert (last["type"], last["actor"], last["data"]) == ("assigned", {"type": "user", "id": me}, {"assignee": me})


def test_assign_to_a_colleague(api, tenant):
    """A user id of the same company assigns the request to that colleague."""
    colleague = supporter_ids(tenant)[1]
    code = api.created(tenant.supporter_token)["code"]
    assert assign(api, code, tenant.supporter_token, colleague)["assignee"]["id"] == colleague
    assert api.get(code, tenant.admin_token).json()["assignee"]["id"] == colleague


def test_null_unassigns(api, tenant):
    """``null`` takes the request away from its assignee."""
    code = api.created(tenant.supporter_token)["code"]
    assign(api, code, tenant.supporter_token, "me")
    assert assign(api, code, tenant.supporter_token, None)["assignee"] is None
    last = api.history(code, tenant.supporter_token)[-1]
    assert (last["type"], last["data"]) == ("assigned", {"assignee": None})


def test_reassigning_the_same_user_records_nothing(api, tenant):
    """Assigning the current assignee again is harmless."""
    code = api.created(tenant.supporter_token)["code"]
    assign(api, code, tenant.supporter_token, "me")
    before = api.history(code, tenant.supporter_token)
    assign(api, code, tenant.supporter_token, "me")
    assert api.history(code, tenant.supporter_token) == before


@pytest.mark.parametrize("stranger", ["foreign", "00000000-0000-0000-0000-000000000000", "nobody"])
def test_assigning_someone_outside_the_company_is_404(api, server, tenant, stranger):
    """A user of another company, or no user at all, is a 404; the request keeps its assignee."""
    if stranger == "foreign":
        stranger = supporter_ids(make_tenant(server.database_url))[0]
    code = api.created(tenant.supporter_token)["code"]
    assign(api, code, tenant.supporter_token, "me")
    assert_problem(api.assign(code, tenant.supporter_token, stranger), 404)
    assert api.get(code, tenant.supporter_token).json()["assignee"]["id"] == supporter_ids(tenant)[0]


def test_closed_request_cannot_be_reassigned(api, tenant):
    """Assignment of a closed request is a 409 and leaves the assignee alone."""
    code = api.created(tenant.supporter_token)["code"]
    assign(api, code, tenant.supporter_token, "me")
    api.action(code, "close", tenant.supporter_token)
    assert_problem(api.assign(code, tenant.supporter_token, supporter_ids(tenant)[1]), 409, code="request_closed")
    assert api.get(code, tenant.supporter_token).json()["assignee"]["id"] == supporter_ids(tenant)[0]


@pytest.mark.parametrize("who", ["customer", "module"])
def test_only_users_assign(api, tenant, who):
    """Customer and module tokens cannot assign (403)."""
    body = api.created(tenant.module_token)
    token = body["customer_token"] if who == "customer" else tenant.module_token
    assert_problem(api.assign(body["code"], token, "me"), 403)
    assert api.get(body["code"], tenant.supporter_token).json()["assignee"] is None


# -- automated ----------------------------------------------------------------------------


def test_module_with_none_leaves_requests_unassigned(api, tenant):
    """``none``: nobody is assigned, and the event says the module assigns nobody."""
    code = api.created(tenant.module_token)["code"]
    assert api.get(code, tenant.supporter_token).json()["assignee"] is None
    event = api.history(code, tenant.supporter_token)[1]
    assert (event["type"], event["actor"]["type"], event["data"]["assignee"]) == ("assigned", "system", None)


def test_manual_requests_are_not_auto_assigned(api, server):
    """Automated assignment is the module's; a user's manual request stays unassigned."""
    tenant = make_tenant(server.database_url, supporters=2, assignment="round_robin")
    code = api.created(tenant.supporter_token)["code"]
    assert api.get(code, tenant.supporter_token).json()["assignee"] is None
    assert [e["type"] for e in api.history(code, tenant.supporter_token)] == ["created"]


def test_fixed_assignment_goes_to_the_named_user(api, server):
    """``fixed:EMAIL`` gives every request of the module to that user."""
    tenant = make_tenant(server.database_url, supporters=2, assignment="fixed:{first}")
    first = supporter_ids(tenant)[0]
    assert auto_assignees(api, tenant, 3) == [first] * 3
    event = api.history(api.created(tenant.module_token)["code"], tenant.supporter_token)[1]
    assert event["data"] == {"assignee": first, "strategy": f"fixed:{next(iter(tenant.supporter_tokens))}",
                             "reason": "fixed"}


def test_round_robin_rotates_through_the_group(api, server):
    """``round_robin`` with three supporters hands requests out in turn."""
    tenant = make_tenant(server.database_url, supporters=3, assignment="round_robin", group_members=3)
    assigned = auto_assignees(api, tenant, 7)
    assert set(assigned[:3]) == set(supporter_ids(tenant))
    assert assigned[3:] == assigned[:4]


def test_round_robin_skips_supporters_who_are_away(api, server):
    """A supporter who set themselves away gets no new requests until back."""
    tenant = make_tenant(server.database_url, supporters=3, assignment="round_robin", group_members=3)
    away_token = list(tenant.supporter_tokens.values())[1]
    away_id = supporter_ids(tenant)[1]
    set_available(api, away_token, False)
    assigned = auto_assignees(api, tenant, 4)
    assert away_id not in assigned
    assert len(set(assigned)) == 2
    set_available(api, away_token, True)
    assert away_id in auto_assignees(api, tenant, 3)


def test_automated_assignment_stays_within_the_group(api, server):
    """Only members of the module's group are candidates, not the rest of the company."""
    tenant = make_tenant(server.database_url, supporters=4, assignment="round_robin", group_members=2)
    members = set(supporter_ids(tenant)[:2])
    assert set(auto_assignees(api, tenant, 6)) == members


def test_least_open_goes_to_the_supporter_with_fewest_open_requests(api, server):
    """``least_open`` picks the available supporter with the fewest open requests."""
    tenant = make_tenant(server.database_url, supporters=3, assignment="least_open", group_members=3)
    busy, half, idle = supporter_ids(tenant)
    token = tenant.supporter_token
    for assignee in (busy, busy, half):
        assign(api, api.created(token)["code"], token, assignee)
    assert auto_assignees(api, tenant, 1) == [idle]
    event = api.history(api.codes(token, assignee=idle)[0], token)[1]
    assert event["data"]["reason"] == "least_open"
    assert busy not in auto_assignees(api, tenant, 2)


def test_least_open_ignores_closed_requests(api, server):
    """Closed requests do not count as open work."""
    tenant = make_tenant(server.database_url, supporters=2, assignment="least_open", group_members=2)
    worked, other = supporter_ids(tenant)
    token = tenant.supporter_token
    for _ in range(2):
        code = api.created(token)["code"]
        assign(api, code, token, worked)
        api.action(code, "close", token)
    assign(api, api.created(token)["code"], token, other)
    assert auto_assignees(api, tenant, 1) == [worked]


@pytest.mark.parametrize("strategy", ["round_robin", "least_open"])
def test_nobody_available_leaves_request_unassigned_and_says_so(api, server, strategy):
    """With every supporter of the group away the request is unassigned and the event says why."""
    tenant = make_tenant(server.database_url, supporters=2, assignment=strategy, group_members=2)
    for token in tenant.supporter_tokens.values():
        set_available(api, token, False)
    body = api.created(tenant.module_token)
    assert body["assignee"] is None
    event = api.history(body["code"], tenant.admin_token)[1]
    assert (event["type"], event["actor"]["type"]) == ("assigned", "system")
    assert event["data"]["assignee"] is None
    reason = event["data"]["reason"]
    assert "no supporter" in reason and "available" in reason


# -- fixed assignment and availability ------------------------------------------------------


def fixed_tenant(server):
    """Two supporters in the module's group; the module gives every request to the first."""
    return make_tenant(server.database_url, supporters=2, group_members=2, assignment="fixed:{first}")


def test_fixed_assignment_skips_an_away_supporter_and_leaves_the_request_to_the_group(api, server):
    tenant = fixed_tenant(server)
    fixed_email, fixed_token = next(iter(tenant.supporter_tokens.items()))
    set_available(api, fixed_token, False)

    created = api.created(tenant.module_token)

    assert created["assignee"] is None
    assert created["group"] is not None
    [event] = [e for e in api.history(created["code"], tenant.admin_token) if e["type"] == "assigned"]
    assert event["data"]["assignee"] is None
    assert event["data"]["reason"] == f"fixed assignee {fixed_email} is away; left unassigned for the group"
    assert created["code"] in api.codes(tenant.supporter_tokens[list(tenant.supporter_tokens)[1]])


def test_fixed_assignment_resumes_when_the_supporter_is_back(api, server):
    tenant = fixed_tenant(server)
    fixed_token = next(iter(tenant.supporter_tokens.values()))
    fixed_id = supporter_ids(tenant)[0]
    set_available(api, fixed_token, False)
    assert auto_assignees(api, tenant, 2) == [None, None]

    set_available(api, fixed_token, True)

    assert auto_assignees(api, tenant, 2) == [fixed_id, fixed_id]


def test_fixed_assignment_to_a_deactivated_user_leaves_the_request_to_the_group(api, server):
    tenant = fixed_tenant(server)
    fixed_email = tenant.supporter_email
    database = Database(server.database_url)
    try:
        with database.write() as session:
            session.get(User, tenant.user_ids[fixed_email]).active = False
    finally:
        database.dispose()

    created = api.created(tenant.module_token)

    assert created["assignee"] is None
    [event] = [e for e in api.history(created["code"], tenant.admin_token) if e["type"] == "assigned"]
    assert event["data"]["reason"] == (
        f"fixed assignee {fixed_email} is not an active user of the company; left unassigned for the group")


def test_a_topics_request_is_auto_assigned_among_the_topics_group(api, server):
    """``round_robin`` and ``least_open`` pick among the group of the topic the customer picked, not the module's."""
    for strategy in ("round_robin", "least_open"):
        tenant = make_tenant(server.database_url, supporters=3, assignment=strategy, group_members=1)
        first, second, third = supporter_ids(tenant)
        emails = list(tenant.supporter_tokens)
        billing = api.new_group(tenant.admin_token, f"billing-{tenant.name}", emails[1:])
        assert api.set_topics(tenant.admin_token, tenant.module_id, [{"label": "Billing", "group": billing}]).status_code == 200
        picked = [api.created(tenant.module_token, {"description": "invoice", "topic": "Billing"})["assignee"]["id"]
                  for _ in range(4)]
        assert set(picked) == {second, third}, strategy
        assert api.created(tenant.module_token)["assignee"]["id"] == first


def test_a_fixed_assignee_who_is_away_leaves_a_topics_request_to_the_topics_group(api, server):
    tenant = make_tenant(server.database_url, supporters=2, assignment="fixed:{first}")
    set_available(api, tenant.supporter_token, False)
    billing = api.new_group(tenant.admin_token, f"billing-{tenant.name}", list(tenant.supporter_tokens)[1:])
    assert api.set_topics(tenant.admin_token, tenant.module_id, [{"label": "Billing", "group": billing}]).status_code == 200
    body = api.created(tenant.module_token, {"description": "invoice", "topic": "Billing"})
    assert (body["group"], body["assignee"]) == (billing, None)
    reason = api.history(body["code"], tenant.supporter_token)[1]["data"]["reason"]
    assert reason.endswith("left unassigned for the group")
