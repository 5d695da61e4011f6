"""Admin routes: groups, modules and their tokens, users and their availability."""

from datetime import datetime

import pytest

from sosqueue.updates import decode_key
from tests.support.queue_api import assert_problem
from tests.support.tenants import make_tenant

GROUPS = "/api/v1/groups"
MODULES = "/api/v1/modules"
USERS = "/api/v1/users"


@pytest.fixture
def tenant(server):
    return make_tenant(server.database_url, supporters=2)


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


# -- groups ---------------------------------------------------------------------------------


def test_admin_creates_a_group_with_members(api, tenant):
    """A new group answers 201 with its members, and the list shows it."""
    members = sorted(tenant.supporter_tokens)
    group = ok(api.call("POST", GROUPS, tenant.admin_token, json={"name": "Second level", "members": members}), 201)
    assert (group["name"], group["members"]) == ("Second level", members)
    listed = ok(api.call("GET", GROUPS, tenant.supporter_token))["items"]
    assert listed == [group]


def test_group_membership_shows_on_the_users(api, tenant):
    """Members of a group see it among their groups."""
    member = next(iter(tenant.supporter_tokens))
    ok(api.call("POST", GROUPS, tenant.admin_token, json={"name": "printers", "members": [member.upper()]}), 201)
    users = {u["email"]: u for u in ok(api.call("GET", USERS, tenant.admin_token))["items"]}
    assert users[member]["groups"] == ["printers"]
    assert all(u["groups"] == [] for email, u in users.items() if email != member)


def test_groups_are_listed_by_name(api, tenant):
    """The group list is sorted by name."""
    for name in ("zeta", "alpha", "mu"):
        ok(api.call("POST", GROUPS, tenant.admin_token, json={"name": name}), 201)
    assert [g["name"] for g in ok(api.call("GET", GROUPS, tenant.admin_token))["items"]] == ["alpha", "mu", "zeta"]


def test_duplicate_group_is_409(api, tenant):
    """A second group of the same name is a 409 conflict; the first stays as it was."""
    first = ok(api.call("POST", GROUPS, tenant.admin_token, json={"name": "night"}), 201)
    again = {"name": "night", "members": list(tenant.supporter_tokens)}
    assert_problem(api.call("POST", GROUPS, tenant.admin_token, json=again), 409, code="conflict")
    assert ok(api.call("GET", GROUPS, tenant.admin_token))["items"] == [first]


def test_companies_may_share_group_names(api, server, tenant):
    """Group names are unique per company, not across companies."""
    other = make_tenant(server.database_url)
    ok(api.call("POST", GROUPS, tenant.admin_token, json={"name": "support"}), 201)
    ok(api.call("POST", GROUPS, other.admin_token, json={"name": "support"}), 201)


def test_a_group_is_created_with_routing_settings_that_default_to_never(api, tenant):
    """A group alerts only when told to; its settings come back with it."""
    plain = ok(api.call("POST", GROUPS, tenant.admin_token, json={"name": "plain"}), 201)
    assert (plain["unassigned_alert_minutes"], plain["unjoined_alert_minutes"], plain["reassign_on_lapse"]) == (
        None, None, False)
    routed = ok(api.call("POST", GROUPS, tenant.admin_token, json={
        "name": "routed", "unassigned_alert_minutes": 1, "unjoined_alert_minutes": 1440, "reassign_on_lapse": True}), 201)
    assert (routed["unassigned_alert_minutes"], routed["unjoined_alert_minutes"], routed["reassign_on_lapse"]) == (
        1, 1440, True)


def test_patch_changes_the_given_routing_settings_and_keeps_the_rest(api, tenant):
    """PATCH sets what it names (null: never alert) and leaves the others as they were."""
    group = ok(api.call("POST", GROUPS, tenant.admin_token, json={"name": "night", "unassigned_alert_minutes": 5}), 201)
    path = f"{GROUPS}/{group['id']}"
    changed = ok(api.call("PATCH", path, tenant.admin_token, json={"unjoined_alert_minutes": 15, "reassign_on_lapse": True}))
    assert (changed["unassigned_alert_minutes"], changed["unjoined_alert_minutes"], changed["reassign_on_lapse"]) == (
        5, 15, True)
    cleared = ok(api.call("PATCH", path, tenant.admin_token, json={"unassigned_alert_minutes": None}))
    assert (cleared["unassigned_alert_minutes"], cleared["unjoined_alert_minutes"]) == (None, 15)
    assert ok(api.call("GET", GROUPS, tenant.admin_token))["items"] == [cleared]


@pytest.mark.parametrize("body", [
    {"unassigned_alert_minutes": 0}, {"unassigned_alert_minutes": 1441}, {"unjoined_alert_minutes": -5},
    {"unjoined_alert_minutes": "10"}, {"unjoined_alert_minutes": 2.5}, {"unjoined_alert_minutes": True},
    {"reassign_on_lapse": None}, {"reassign_on_lapse": "yes"}, {"escalate_after": 5},
], ids=lambda body: "-".join(f"{k}={v!r}" for k, v in body.items()))
def test_bad_routing_settings_are_422_and_change_nothing(api, tenant, body):
    """Minutes are whole numbers from 1 to 1440, or null; the switch is true or false."""
    group = ok(api.call("POST", GROUPS, tenant.admin_token, json={"name": "strict", "unjoined_alert_minutes": 7}), 201)
    assert_problem(api.call("PATCH", f"{GROUPS}/{group['id']}", tenant.admin_token, json=body), 422)
    assert_problem(api.call("POST", GROUPS, tenant.admin_token, json={"name": "strict too", **body}), 422)
    assert ok(api.call("GET", GROUPS, tenant.admin_token))["items"] == [group]


def test_only_admins_of_the_company_change_a_group(api, server, tenant):
    """A supporter gets 403; another company's group, or no group at all, is a 404."""
    group = ok(api.call("POST", GROUPS, tenant.admin_token, json={"name": "mine"}), 201)
    other = make_tenant(server.database_url)
    path, change = f"{GROUPS}/{group['id']}", {"unassigned_alert_minutes": 3}
    assert_problem(api.call("PATCH", path, tenant.supporter_token, json=change), 403)
    assert_problem(api.call("PATCH", path, other.admin_token, json=change), 404)
    assert_problem(api.call("PATCH", f"{GROUPS}/not-an-id", tenant.admin_token, json=change), 404)
    assert ok(api.call("GET", GROUPS, tenant.admin_token))["items"] == [group]


# -- modules --------------------------------------------------------------------------------


def test_admin_creates_a_module_whose_token_files_requests(api, tenant):
    """A new module comes with a token, shown once, that files requests for the company."""
    module = ok(api.call("POST", MODULES, tenant.admin_token, json={"name": "Kiosk"}), 201)
    assert module["token"].startswith("sqm_")
    assert (module["name"], module["group"], module["assignment"], module["revoked"]) == ("Kiosk", None, "none", False)
    datetime.fromisoformat(module["created_at"])
    code = api.created(module["token"])["code"]
    assert api.get(code, tenant.admin_token).json()["source"] == "module"


def test_module_list_never_shows_tokens(api, tenant):
    """Listed modules carry no token, sorted by name."""
    ok(api.call("POST", MODULES, tenant.admin_token, json={"name": "Alpha"}), 201)
    items = ok(api.call("GET", MODULES, tenant.admin_token))["items"]
    assert [m["name"] for m in items] == ["Alpha", "SOS"]
    assert all("token" not in m for m in items)


def test_module_with_group_and_strategy(api, tenant):
    """A module can be bound to a group with an assignment strategy, and files there."""
    members = list(tenant.supporter_tokens)
    ok(api.call("POST", GROUPS, tenant.admin_token, json={"name": "desk", "members": members}), 201)
    module = ok(api.call("POST", MODULES, tenant.admin_token,
                         json={"name": "Desk", "group": "desk", "assignment": "round_robin"}), 201)
    assert (module["group"], module["assignment"]) == ("desk", "round_robin")
    body = api.created(module["token"])
    assert body["group"] == "desk"
    assert body["assignee"]["id"] in {tenant.user_ids[email] for email in members}
    assert body["assignee"]["email"] is None  # a module's answer goes to the customer: no supporter's address


def test_module_with_fixed_assignee(api, tenant):
    """``fixed:EMAIL`` needs a user of the company and sends requests to them."""
    email = next(iter(tenant.supporter_tokens))
    fields = {"name": "Fixed", "assignment": f"fixed:{email}"}
    module = ok(api.call("POST", MODULES, tenant.admin_token, json=fields), 201)
    assert api.created(module["token"])["assignee"] == {"id": tenant.user_ids[email], "email": None}


def test_rotation_replaces_the_token(api, tenant):
    """Rotating answers a new token; only the new one files requests."""
    rotated = ok(api.call("POST", f"{MODULES}/{tenant.module_id}/rotate-token", tenant.admin_token))
    assert rotated["id"] == tenant.module_id and rotated["token"] != tenant.module_token
    assert_problem(api.create(tenant.module_token), 401)
    api.created(rotated["token"])


def test_revocation_shows_in_the_list_and_rotation_revives(api, tenant):
    """A revoked module is listed as revoked; rotating its token brings it back."""
    ok(api.call("POST", f"{MODULES}/{tenant.module_id}/revoke", tenant.admin_token))
    items = ok(api.call("GET", MODULES, tenant.admin_token))["items"]
    assert [m["revoked"] for m in items] == [True]
    assert_problem(api.create(tenant.module_token), 401)
    revived = ok(api.call("POST", f"{MODULES}/{tenant.module_id}/rotate-token", tenant.admin_token))
    assert revived["revoked"] is False
    api.created(revived["token"])


def test_revoking_twice_is_harmless(api, tenant):
    """Revoking a revoked module keeps it revoked."""
    for _ in range(2):
        assert ok(api.call("POST", f"{MODULES}/{tenant.module_id}/revoke", tenant.admin_token))["revoked"] is True


# -- users ----------------------------------------------------------------------------------


def test_users_list_shows_the_whole_company(api, tenant):
    """Every user of the company is listed with role and availability, sorted by email."""
    items = ok(api.call("GET", USERS, tenant.supporter_token))["items"]
    assert [u["email"] for u in items] == sorted(tenant.user_ids)
    roles = {u["email"]: u["role"] for u in items}
    assert sorted(roles.values()) == ["admin", "supporter", "supporter"]
    assert all(u["available"] and u["active"] for u in items)


def test_me_is_the_caller(api, tenant):
    """``/users/me`` describes the owner of the token."""
    email, token = next(iter(tenant.supporter_tokens.items()))
    me = ok(api.call("GET", f"{USERS}/me", token))
    assert (me["id"], me["email"], me["role"]) == (tenant.user_ids[email], email, "supporter")


def test_availability_can_be_switched_off_and_on(api, tenant):
    """A user sets themselves away and back; the list shows it, and only for them."""
    email, token = next(iter(tenant.supporter_tokens.items()))
    assert ok(api.call("PUT", f"{USERS}/me/availability", token, json={"available": False}))["available"] is False
    users = {u["email"]: u["available"] for u in ok(api.call("GET", USERS, tenant.admin_token))["items"]}
    assert users.pop(email) is False and all(users.values())
    assert ok(api.call("PUT", f"{USERS}/me/availability", token, json={"available": True}))["available"] is True
    assert ok(api.call("GET", f"{USERS}/me", token))["available"] is True


@pytest.mark.parametrize("who", ["module", "customer"])
def test_users_routes_need_a_user_token(api, tenant, who):
    """Module and customer tokens get 403 on the user routes."""
    token = tenant.module_token if who == "module" else api.created(tenant.module_token)["customer_token"]
    for method, path in (("GET", USERS), ("GET", f"{USERS}/me"), ("GET", GROUPS)):
        assert_problem(api.call(method, path, token), 403)
    assert_problem(api.call("PUT", f"{USERS}/me/availability", token, json={"available": False}), 403)


def test_current_token_is_the_registered_one_and_keeps_working(api, tenant):
    """An admin reads a module's token again without rotating it: the same token, still filing."""
    module = ok(api.call("POST", MODULES, tenant.admin_token, json={"name": "Again"}), 201)
    shown = ok(api.call("GET", f"{MODULES}/{module['id']}/token", tenant.admin_token))
    assert (shown["id"], shown["token"]) == (module["id"], module["token"])
    api.created(module["token"])


def test_current_token_of_a_rotated_module_is_the_new_one(api, tenant):
    """After a rotation the shown token is the rotated one."""
    module = ok(api.call("POST", MODULES, tenant.admin_token, json={"name": "Rotated"}), 201)
    rotated = ok(api.call("POST", f"{MODULES}/{module['id']}/rotate-token", tenant.admin_token))
    assert ok(api.call("GET", f"{MODULES}/{module['id']}/token", tenant.admin_token))["token"] == rotated["token"]


def test_every_answer_with_a_module_token_carries_the_servers_update_key(api, tenant):
    """Create, rotate and the current token name the same public update key, for builds to stamp."""
    module = ok(api.call("POST", MODULES, tenant.admin_token, json={"name": "Updating"}), 201)
    rotated = ok(api.call("POST", f"{MODULES}/{module['id']}/rotate-token", tenant.admin_token))
    current = ok(api.call("GET", f"{MODULES}/{module['id']}/token", tenant.admin_token))
    decode_key(module["update_key"])
    assert rotated["update_key"] == current["update_key"] == module["update_key"]


def test_current_token_that_cannot_be_derived_is_409(api, tenant):
    """A module made without the server's key (random token) says to rotate it once."""
    assert_problem(api.call("GET", f"{MODULES}/{tenant.module_id}/token", tenant.admin_token), 409, code="conflict")
