"""Looking requests up by code in any spelling, and listing the queue with filters and pages."""

import base64
import re

import pytest

from tests.support.queue_api import assert_problem
from tests.support.tenants import make_tenant


@pytest.fixture
def tenant(server):
    return make_tenant(server.database_url, supporters=2)


def digits(code: str) -> str:
    return re.sub(r"\D", "", code)


@pytest.mark.parametrize(
    "spell",
    [
        lambda d: f"s{d}",
        lambda d: f"S{d[:2]}-{d[2:5]}-{d[5:]}",
        lambda d: f"s{d[:2]}-{d[2:5]}-{d[5:]}",
        lambda d: f"{d[:2]} {d[2:5]} {d[5:]}",
        lambda d: d,
    ],
    ids=["compact", "upper-dashed", "display", "spaced-digits", "bare-digits"],
)
def test_lookup_accepts_every_spelling_of_a_code(api, tenant, spell):
    """``s12345678``, ``S12-345-678`` and ``12 345 678`` (URL-encoded) all find the same request."""
    code = api.created(tenant.supporter_token)["code"]
    response = api.get(spell(digits(code)), tenant.supporter_token)
    assert response.status_code == 200, response.text
    assert response.json()["code"] == code


def test_unknown_code_is_404(api, tenant):
    """A well-formed code that nobody was given is a 404 problem."""
    code = api.created(tenant.supporter_token)["code"]
    unknown = f"s{(int(digits(code)) + 1) % 10**8:08d}"
    problem = assert_problem(api.get(unknown, tenant.supporter_token), 404)
    assert "code" in problem["detail"]


@pytest.mark.parametrize(
    "garbage",
    ["hello", "s1234567", "s123456789", "x12-345-678", "s12-345-67a", "٠١٢٣٤٥٦٧", "s" + "9" * 300, "%00"],
)
def test_garbage_code_is_404_like_an_unknown_one(api, tenant, garbage):
    """Anything that is not a code answers exactly like an unknown code."""
    unknown = assert_problem(api.get("s00000000", tenant.supporter_token), 404)
    problem = assert_problem(api.get(garbage, tenant.supporter_token), 404)
    assert problem["detail"] == unknown["detail"]


def test_code_with_a_slash_is_404(api, tenant):
    """A "code" that splits the path is still just a 404 problem."""
    assert_problem(api.get("s12%2F345", tenant.supporter_token), 404)


def test_list_is_newest_first(api, tenant):
    """The queue lists the newest request first."""
    made = [api.created(tenant.supporter_token)["code"] for _ in range(3)]
    assert api.codes(tenant.supporter_token) == made[::-1]


def test_list_filters_by_comma_separated_statuses(api, tenant):
    """``status=new,pending`` lists exactly the requests in those statuses."""
    new, pending, closed = (api.created(tenant.supporter_token)["code"] for _ in range(3))
    assert api.action(pending, "join", tenant.supporter_token).json()["status"] == "pending"
    assert api.action(closed, "close", tenant.supporter_token).json()["status"] == "closed"
    token = tenant.supporter_token
    assert set(api.codes(token, status="new,pending")) == {new, pending}
    assert api.codes(token, status="closed") == [closed]
    assert api.codes(token, status="pending") == [pending]
    assert api.codes(token, status="in_progress,expired") == []


def test_list_filters_by_assignee(api, tenant):
    """``assignee=me``, ``assignee=none`` and ``assignee=<id>`` pick the right requests."""
    me_token, colleague_token = tenant.supporter_tokens.values()
    colleague_id = api.call("GET", "/api/v1/users/me", colleague_token).json()["id"]
    mine, theirs, nobodys = (api.created(me_token)["code"] for _ in range(3))
    assert api.assign(mine, me_token, "me").status_code == 200
    assert api.assign(theirs, me_token, colleague_id).status_code == 200
    assert api.codes(me_token, assignee="me") == [mine]
    assert api.codes(me_token, assignee="none") == [nobodys]
    assert api.codes(me_token, assignee=colleague_id) == [theirs]
    assert api.codes(colleague_token, assignee="me") == [theirs]


def test_list_filters_by_group(api, server):
    """``group=NAME`` lists only that group's requests; an unknown group is a 404."""
    tenant = make_tenant(server.database_url, supporters=1, group_members=1)
    grouped = api.created(tenant.module_token)["code"]
    ungrouped = api.created(tenant.supporter_token)["code"]
    group = api.get(grouped, tenant.supporter_token).json()["group"]
    assert api.codes(tenant.supporter_token, group=group) == [grouped]
    assert set(api.codes(tenant.supporter_token)) == {grouped, ungrouped}
    assert_problem(api.listing(tenant.supporter_token, group="no such group"), 404)


def test_pagination_covers_every_request_exactly_once(api, tenant):
    """Following ``next`` with a small limit visits every request once, in order."""
    made = [api.created(tenant.module_token)["code"] for _ in range(11)]
    pages, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.listing(tenant.supporter_token, **params).json()
        assert len(page["items"]) <= 3
        pages.append([item["code"] for item in page["items"]])
        cursor = page["next"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 3, 2]
    assert sum(pages, []) == made[::-1]


def test_pagination_with_status_filter_covers_every_match(api, tenant):
    """Pages of a filtered list hold only matches, and all of them."""
    made = [api.created(tenant.module_token)["code"] for _ in range(7)]
    for code in made[::2]:
        api.action(code, "close", tenant.supporter_token)
    items = api.all_items(tenant.supporter_token, status="new", limit=2)
    assert [item["code"] for item in items] == made[1::2][::-1]
    assert {item["status"] for item in items} == {"new"}


def test_exact_page_size_ends_without_cursor(api, tenant):
    """When the last page is full, ``next`` is null rather than a cursor to an empty page."""
    for _ in range(2):
        api.created(tenant.supporter_token)
    page = api.listing(tenant.supporter_token, limit=2).json()
    assert len(page["items"]) == 2
    assert page["next"] is None


@pytest.mark.parametrize(
    "cursor",
    ["garbage!", "Zm9v", "é",
     base64.urlsafe_b64encode(b"before:abc").decode(), base64.urlsafe_b64encode(b"after:5").decode()],
)
def test_bad_cursor_is_400(api, tenant, cursor):
    """A cursor the server did not give out is a 400 problem."""
    assert_problem(api.listing(tenant.supporter_token, cursor=cursor), 400)


@pytest.mark.parametrize("status", ["open", "NEW", "new,done", "closed;new"])
def test_bad_status_filter_is_422(api, tenant, status):
    """A status that does not exist is a 422 problem naming the statuses there are."""
    problem = assert_problem(api.listing(tenant.supporter_token, status=status), 422)
    assert "in_progress" in problem["detail"]


def test_unknown_assignee_id_lists_nothing(api, tenant):
    """Filtering by an id that is nobody's is an empty list, not an error."""
    api.created(tenant.supporter_token)
    assert api.codes(tenant.supporter_token, assignee="00000000-0000-0000-0000-000000000000") == []


def test_list_filters_by_topic_exactly(api, server):
    """``topic=LABEL`` lists only the requests with that topic; an empty one those without a topic."""
    tenant = make_tenant(server.database_url, supporters=1)
    assert api.set_topics(tenant.admin_token, tenant.module_id, [{"label": "Billing"}, {"label": "Other"}]).status_code == 200
    billing = [api.created(tenant.module_token, {"description": "invoice", "topic": "Billing"})["code"] for _ in range(2)]
    other = api.created(tenant.module_token, {"description": "hello", "topic": "Other"})["code"]
    plain = api.created(tenant.supporter_token)["code"]
    assert api.codes(tenant.supporter_token, topic="Billing") == billing[::-1]
    assert api.codes(tenant.supporter_token, topic="Other", status="new") == [other]
    assert api.codes(tenant.supporter_token, topic="") == [plain]
    assert api.codes(tenant.supporter_token, topic="billing") == []
    assert_problem(api.listing(tenant.supporter_token, topic="x" * 61), 422)
