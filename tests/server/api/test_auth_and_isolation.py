"""Who may do what: bearer tokens, roles, and company profiles that never see each other."""

import pytest

from tests.support.queue_api import REQUESTS, assert_problem
from tests.support.tenants import make_tenant


@pytest.fixture
def tenant(server):
    return make_tenant(server.database_url, supporters=1)


@pytest.fixture
def rival(server):
    """Another company profile on the same server."""
    return make_tenant(server.database_url, supporters=1)


ROUTES = [
    ("GET", REQUESTS),
    ("POST", REQUESTS),
    ("GET", f"{REQUESTS}/s12-345-678"),
    ("POST", f"{REQUESTS}/s12-345-678/close"),
    ("GET", "/api/v1/users/me"),
    ("GET", "/api/v1/groups"),
    ("GET", "/api/v1/modules"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_missing_token_is_401_with_challenge(api, method, path):
    """Without a token every API route answers 401, a Bearer challenge and a problem."""
    response = api.call(method, path, json={"description": "x"} if method == "POST" else None)
    assert_problem(response, 401, code="unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer squ_not-a-real-token", "Bearer sqm_not-a-real-token", "Bearer sqc_s12345678_bogus",
     "Bearer whatever", "Basic dXNlcjpwYXNz", "Bearer", "Bearer    x y"],
)
def test_invalid_token_is_401(api, authorization):
    """Unknown, malformed or non-bearer credentials are 401 with a challenge."""
    response = api.call("GET", REQUESTS, headers={"Authorization": authorization})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_forged_customer_token_for_a_real_code_is_401(api, tenant):
    """A customer token needs the server's signature, not just a real code."""
    body = api.created(tenant.module_token)
    code = body["code"].replace("-", "")
    forged = f"sqc_{code}_" + "A" * 43
    assert_problem(api.get(body["code"], forged), 401)
    assert_problem(api.action(body["code"], "close", forged), 401)
    assert api.get(body["code"], tenant.supporter_token).json()["status"] == "new"


def test_customer_token_opens_only_its_own_request(api, tenant):
    """Request A's customer token sees request B as unknown (404) and cannot change it."""
    first = api.created(tenant.module_token)
    second = api.created(tenant.module_token)
    token = first["customer_token"]
    assert_problem(api.get(second["code"], token), 404)
    assert_problem(api.call("GET", f"{REQUESTS}/{second['code']}/history", token), 404)
    for verb in ("join", "close"):
        assert_problem(api.action(second["code"], verb, token), 404)
    assert api.get(second["code"], tenant.supporter_token).json()["status"] == "new"


def test_customer_token_cannot_list_or_create(api, tenant):
    """A customer token opens one request, not the queue."""
    token = api.created(tenant.module_token)["customer_token"]
    assert_problem(api.listing(token), 403)
    assert_problem(api.create(token), 403)
    assert len(api.codes(tenant.supporter_token)) == 1


def test_module_token_cannot_read_the_queue(api, tenant):
    """A module token files requests; it cannot list or read them (403)."""
    code = api.created(tenant.module_token)["code"]
    assert_problem(api.listing(tenant.module_token), 403)
    assert_problem(api.get(code, tenant.module_token), 403)
    assert_problem(api.action(code, "join", tenant.module_token), 403)


def test_foreign_code_looks_exactly_like_an_unknown_code(api, tenant, rival):
    """Company B asking for company A's code gets the very answer an unknown code gets."""
    code = api.created(tenant.supporter_token)["code"]
    foreign = api.get(code, rival.supporter_token)
    unknown = api.get("s00-000-000", rival.supporter_token)
    assert_problem(foreign, 404)
    assert foreign.status_code == unknown.status_code
    assert foreign.json() == unknown.json()


@pytest.mark.parametrize("verb", ["join", "leave", "close"])
def test_foreign_company_cannot_change_a_request(api, tenant, rival, verb):
    """Company B cannot join, leave or close company A's request; it stays as it was."""
    code = api.created(tenant.supporter_token)["code"]
    before = api.history(code, tenant.supporter_token)
    assert_problem(api.action(code, verb, rival.supporter_token), 404)
    assert api.history(code, tenant.supporter_token) == before
    assert api.get(code, tenant.supporter_token).json()["status"] == "new"


def test_foreign_company_cannot_assign(api, tenant, rival):
    """Company B cannot assign company A's request, not even to itself."""
    code = api.created(tenant.supporter_token)["code"]
    assert_problem(api.assign(code, rival.supporter_token, "me"), 404)
    assert api.get(code, tenant.supporter_token).json()["assignee"] is None


def test_foreign_company_cannot_read_history(api, tenant, rival):
    """The history of a foreign request is a 404."""
    code = api.created(tenant.supporter_token)["code"]
    assert_problem(api.call("GET", f"{REQUESTS}/{code}/history", rival.admin_token), 404)


def test_lists_show_only_the_own_company(api, tenant, rival):
    """Each company's queue, users and groups hold only its own things."""
    mine = api.created(tenant.supporter_token)["code"]
    theirs = api.created(rival.module_token)["code"]
    assert api.codes(tenant.admin_token) == [mine]
    assert api.codes(rival.admin_token) == [theirs]
    users = api.call("GET", "/api/v1/users", tenant.admin_token).json()["items"]
    assert {u["id"] for u in users} == set(tenant.user_ids.values())


def test_foreign_group_name_is_unknown(api, server, rival):
    """A user cannot file into, or filter by, another company's group."""
    grouped = make_tenant(server.database_url, group_members=1)
    group = api.get(api.created(grouped.module_token)["code"], grouped.admin_token).json()["group"]
    assert_problem(api.create(rival.supporter_token, {"description": "x", "group": group}), 404)
    assert_problem(api.listing(rival.supporter_token, group=group), 404)
    assert api.codes(rival.admin_token) == []


def test_foreign_modules_cannot_be_rotated_or_revoked(api, tenant, rival):
    """An admin of company B gets 404 for company A's module, which keeps working."""
    for action in ("rotate-token", "revoke"):
        assert_problem(api.call("POST", f"/api/v1/modules/{tenant.module_id}/{action}", rival.admin_token), 404)
    assert_problem(api.call("GET", f"/api/v1/modules/{tenant.module_id}/token", rival.admin_token), 404)
    api.created(tenant.module_token)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/groups", {"name": "rogue"}),
        ("POST", "/api/v1/modules", {"name": "rogue"}),
        ("GET", "/api/v1/modules", None),
        ("GET", "/api/v1/modules/00000000-0000-0000-0000-000000000000/token", None),
    ],
)
def test_supporter_cannot_administer(api, tenant, method, path, body):
    """Groups and modules are for admins; a supporter gets 403 and nothing is made."""
    assert_problem(api.call(method, path, tenant.supporter_token, json=body), 403)
    groups = api.call("GET", "/api/v1/groups", tenant.admin_token).json()["items"]
    modules = api.call("GET", "/api/v1/modules", tenant.admin_token).json()["items"]
    assert groups == [] and [m["id"] for m in modules] == [tenant.module_id]


def test_revoked_module_token_is_401(api, tenant):
    """After revocation the module's token is refused and files nothing."""
    response = api.call("POST", f"/api/v1/modules/{tenant.module_id}/revoke", tenant.admin_token)
    assert response.status_code == 200, response.text
    assert response.json()["revoked"] is True
    assert_problem(api.create(tenant.module_token), 401, code="invalid_token")
    assert api.codes(tenant.admin_token) == []


def test_rotated_module_token_replaces_the_old_one(api, tenant):
    """Rotation gives a new token that works; the old one is 401 at once."""
    response = api.call("POST", f"/api/v1/modules/{tenant.module_id}/rotate-token", tenant.admin_token)
    assert response.status_code == 200, response.text
    new_token = response.json()["token"]
    assert new_token != tenant.module_token
    assert_problem(api.create(tenant.module_token), 401)
    assert api.created(new_token)["source"] == "module"
    assert len(api.codes(tenant.admin_token)) == 1
