"""The queue page over HTTP: what it lists, its views and filters, code search, availability."""

import re

import pytest
from sqlalchemy import select

from server.db import Database
from server.models import User
from tests.support.dashboard import PASSWORD, logged_in
from tests.support.tenants import bearer, file_request, make_tenant


@pytest.fixture(scope="module")
def tenant(server):
    return make_tenant(server.database_url, password=PASSWORD, supporters=2, group_members=1)


def codes_on(page: str) -> list[str]:
    return re.findall(r'<tr data-code="(s\d\d-\d\d\d-\d\d\d)"', page)


def assign(server, tenant, code: str, user_id: str | None) -> None:
    import httpx

    response = httpx.post(f"{server.url}/api/v1/service-requests/{code}/assign", json={"user": user_id},
                          headers=bearer(tenant.admin_token))
    assert response.status_code == 200, response.text


def test_the_queue_lists_open_requests_newest_first(server, tenant, admin):
    first = file_request(server.url, tenant.module_token, end_customer={"name": "Ada"})["code"]
    second = file_request(server.url, tenant.module_token, end_customer={"name": "Bob"})["code"]
    listed = codes_on(admin.get("/queue").text)
    assert listed.index(second) < listed.index(first)


def test_closed_requests_leave_the_default_view_and_show_under_closed(server, tenant, admin):
    code = file_request(server.url, tenant.module_token)["code"]
    admin.post(f"/requests/{code}/close")
    assert code not in codes_on(admin.get("/queue").text)
    assert code in codes_on(admin.get("/queue?status=closed").text)
    assert code in codes_on(admin.get("/queue?status=all").text)


def test_my_requests_and_unassigned_show_exactly_those(server, tenant, admin):
    mine = file_request(server.url, tenant.module_token)["code"]
    colleague = file_request(server.url, tenant.module_token)["code"]
    nobody = file_request(server.url, tenant.module_token)["code"]
    assign(server, tenant, mine, tenant.user_ids[tenant.admin_email])
    assign(server, tenant, colleague, tenant.user_ids[tenant.supporter_email])
    my_view = codes_on(admin.get("/queue?assignee=me").text)
    unassigned = codes_on(admin.get("/queue?assignee=none").text)
    colleague_view = codes_on(admin.get(f"/queue?assignee={tenant.user_ids[tenant.supporter_email]}").text)
    assert mine in my_view and colleague not in my_view and nobody not in my_view
    assert nobody in unassigned and mine not in unassigned and colleague not in unassigned
    assert colleague_view[0] == colleague and mine not in colleague_view


def test_the_group_filter_shows_only_that_groups_requests(server, tenant, admin):
    page = admin.get("/queue").text
    group = re.search(r'<option value="(team-[0-9a-f]+)"', page).group(1)
    in_group = file_request(server.url, tenant.module_token)["code"]  # the module files into the group
    manual = file_request(server.url, tenant.admin_token)["code"]  # a manual request has no group
    listed = codes_on(admin.get(f"/queue?group={group}").text)
    assert in_group in listed and manual not in listed
    assert codes_on(admin.get("/queue?group=no-such-group").text) == []


@pytest.mark.parametrize("spelling", ["{compact}", "{display}", "{upper}", "{spaced}"])
def test_searching_a_code_in_any_spelling_opens_the_request(server, tenant, admin, spelling):
    code = file_request(server.url, tenant.module_token)["code"]
    digits = code.replace("-", "")[1:]
    typed = spelling.format(compact=f"s{digits}", display=code, upper=code.upper(),
                            spaced=f"{digits[:2]} {digits[2:5]} {digits[5:]}")
    response = admin.get("/queue", params={"q": typed})
    assert response.status_code == 303
    assert response.headers["location"] == f"/requests/{code}"


def test_searching_a_malformed_or_unknown_code_says_so_on_the_queue(admin):
    malformed = admin.get("/queue", params={"q": "printer"})
    unknown = admin.get("/queue", params={"q": "s00-000-001"})
    assert malformed.status_code == 200
    assert "printer is not a session code; it looks like s12-345-678." in malformed.text
    assert "There is no service request s00-000-001 in your queue." in unknown.text


def test_another_companys_request_is_neither_listed_nor_found(server, tenant, admin):
    other = make_tenant(server.database_url)
    foreign = file_request(server.url, other.module_token)["code"]
    assert foreign not in codes_on(admin.get("/queue?status=all").text)
    assert "There is no service request" in admin.get("/queue", params={"q": foreign}).text
    assert admin.get(f"/requests/{foreign}").status_code == 404


def test_the_rows_fragment_is_the_tbody_of_the_same_filtered_queue(server, tenant, admin):
    code = file_request(server.url, tenant.module_token)["code"]
    fragment = admin.get("/queue/rows?assignee=none")
    assert fragment.text.startswith('<tbody id="queue-rows"')
    assert code in codes_on(fragment.text)


def test_the_rows_fragment_answers_401_to_the_pages_script_after_logout(server, tenant):
    client = logged_in(server.url, tenant.supporter_email)
    client.post("/logout")
    assert client.get("/queue/rows", headers={"X-Requested-With": "fetch"}).status_code == 401


def test_supporters_switch_themselves_away_and_available(server, tenant):
    client = logged_in(server.url, tenant.supporter_email)

    def available() -> bool:
        database = Database(server.database_url)
        try:
            with database.read() as session:
                return session.scalar(select(User.available).where(User.email == tenant.supporter_email))
        finally:
            database.dispose()

    assert client.post("/me/availability", data={"available": "0"}).status_code == 303
    assert available() is False
    assert 'id="go-available"' in client.get("/queue").text
    client.post("/me/availability", data={"available": "1"})
    assert available() is True


def test_every_open_row_carries_its_deadline_for_the_countdown(server, tenant, admin):
    created = file_request(server.url, tenant.module_token)
    row = re.search(rf'<tr data-code="{created["code"]}".*?</tr>', admin.get("/queue").text, re.S).group(0)
    deadline = re.search(r'<time class="countdown" datetime="([^"]+)"', row).group(1)
    assert deadline[:19] == created["valid_until"][:19]


def test_the_topic_filter_shows_only_requests_of_that_topic(server, tenant, admin):
    billing = file_request(server.url, tenant.supporter_token, topic="Billing (queue page)")["code"]
    other = file_request(server.url, tenant.supporter_token, topic="Other (queue page)")["code"]
    assert codes_on(admin.get("/queue", params={"topic": "Billing (queue page)"}).text) == [billing]
    assert other in codes_on(admin.get("/queue").text)
