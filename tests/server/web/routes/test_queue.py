"""The queue page over HTTP: what it lists, its views and filters, code search, availability."""

import json
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from server.db import Database
from server.models import Group, ServiceRequest, User, utcnow
from tests.support.dashboard import PASSWORD, logged_in
from tests.support.tenants import bearer, file_request, make_tenant


@pytest.fixture(scope="module")
def tenant(server):
    return make_tenant(server.database_url, password=PASSWORD, supporters=2, group_members=1)


def codes_on(page: str) -> list[str]:
    return re.findall(r'<tr data-code="(s\d\d-\d\d\d-\d\d\d)"', page)


def assign(server, tenant, code: str, user_id: str | None) -> None:
    response = httpx.post(f"{server.url}/api/v1/service-requests/{code}/assign", json={"user": user_id},
                          headers=bearer(tenant.admin_token))
    assert response.status_code == 200, response.text


def test_the_open_queue_lists_the_longest_waiting_first_and_joined_requests_after_them(server, tenant, admin):
    """Waiting: since filed while unassigned, since assigned once assigned; joined ones follow, oldest first."""
    joined, first, assigned, second = (file_request(server.url, tenant.module_token)["code"] for _ in range(4))
    assign(server, tenant, first, None)
    assign(server, tenant, assigned, tenant.user_ids[tenant.supporter_email])  # its wait starts again now
    response = httpx.post(f"{server.url}/api/v1/service-requests/{joined}/join", headers=bearer(tenant.admin_token))
    assert response.status_code == 200, response.text
    listed = [code for code in codes_on(admin.get("/queue").text) if code in (joined, first, assigned, second)]
    assert listed == [first, second, assigned, joined]


def test_views_beyond_the_open_requests_list_newest_first(server, tenant, admin):
    first, second = (file_request(server.url, tenant.module_token)["code"] for _ in range(2))
    listed = codes_on(admin.get("/queue?status=all").text)
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
    assert colleague in colleague_view and mine not in colleague_view


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


def row_of(page: str, code: str) -> str:
    return re.search(rf'<tr data-code="{code}".*?</tr>', page, re.S).group(0)


def change(database, code: str, **values) -> None:
    with database.write() as session:
        session.execute(update(ServiceRequest).where(ServiceRequest.code == code.replace("-", "")).values(**values))


def set_thresholds(database, tenant, *, unassigned: int | None, unjoined: int | None) -> None:
    with database.write() as session:
        session.execute(update(Group).where(Group.name == f"team-{tenant.name.split()[-1]}")
                        .values(unassigned_alert_minutes=unassigned, unjoined_alert_minutes=unjoined))


@pytest.mark.parametrize(("waited", "urgency", "label"), [(4, "calm", ""), (6, "amber", "Waiting long"),
                                                         (11, "red", "Overdue")])
def test_an_unassigned_request_turns_amber_at_half_its_groups_threshold_and_red_at_it(
        server, tenant, admin, database, waited, urgency, label):
    set_thresholds(database, tenant, unassigned=10, unjoined=None)
    code = file_request(server.url, tenant.module_token)["code"]
    created = utcnow() - timedelta(minutes=waited)
    change(database, code, created_at=created)
    row = row_of(admin.get("/queue").text, code)
    assert f'data-urgency="{urgency}"' in row
    assert re.search(r'<span class="urgency">([^<]*)</span>', row).group(1) == label
    steps = re.search(r"data-urgency-steps='([^']+)'", row).group(1)
    assert [name for _, name in json.loads(steps)] == ["calm", "amber", "red"]


def test_an_assigned_request_waits_since_its_assignment_against_the_unjoined_threshold(
        server, tenant, admin, database):
    set_thresholds(database, tenant, unassigned=1, unjoined=60)
    code = file_request(server.url, tenant.module_token)["code"]
    change(database, code, created_at=utcnow() - timedelta(hours=2))
    assign(server, tenant, code, tenant.user_ids[tenant.supporter_email])
    assert 'data-urgency="calm"' in row_of(admin.get("/queue").text, code)
    change(database, code, assigned_at=utcnow() - timedelta(minutes=61))
    assert 'data-urgency="red"' in row_of(admin.get("/queue").text, code)


def test_requests_without_a_threshold_or_once_joined_never_turn(server, tenant, admin, database):
    set_thresholds(database, tenant, unassigned=None, unjoined=None)
    code = file_request(server.url, tenant.module_token)["code"]
    change(database, code, created_at=utcnow() - timedelta(days=1))
    assert 'data-urgency="calm"' in row_of(admin.get("/queue").text, code)
    set_thresholds(database, tenant, unassigned=1, unjoined=1)
    httpx.post(f"{server.url}/api/v1/service-requests/{code}/join", headers=bearer(tenant.admin_token))
    row = row_of(admin.get("/queue").text, code)
    assert "data-urgency" not in row and 'class="waited"' not in row


def test_rows_of_the_viewers_groups_and_of_no_group_are_marked_as_theirs(server, tenant, admin):
    grouped = file_request(server.url, tenant.module_token)["code"]  # the group holds the first supporter only
    ungrouped = file_request(server.url, tenant.admin_token)["code"]
    with_supporter = logged_in(server.url, tenant.supporter_email)
    outsider = logged_in(server.url, list(tenant.supporter_tokens)[1])
    for client, theirs, not_theirs in ((with_supporter, [grouped, ungrouped], []),
                                       (outsider, [ungrouped], [grouped]), (admin, [ungrouped], [grouped])):
        page = client.get("/queue").text
        assert all("data-mine" in row_of(page, code) for code in theirs)
        assert not any("data-mine" in row_of(page, code) for code in not_theirs)
        if client is not admin:
            client.close()


def test_the_topic_filter_offers_the_topics_seen_and_shows_only_that_topics_requests(
        server, tenant, admin, database):
    printer, other = (file_request(server.url, tenant.module_token)["code"] for _ in range(2))
    change(database, printer, topic="Printer & paper")
    page = admin.get("/queue").text
    assert '<option value="Printer &amp; paper" >Printer &amp; paper</option>' in page
    assert '<td class="topic">Printer &amp; paper</td>' in row_of(page, printer)
    listed = codes_on(admin.get("/queue", params={"topic": "Printer & paper"}).text)
    assert printer in listed and other not in listed
    rows = admin.get("/queue/rows", params={"topic": "Printer & paper", "status": "all"}).text
    assert codes_on(rows) == [printer]


def test_get_next_takes_the_longest_waiting_request_and_opens_it(server):
    company = make_tenant(server.database_url, password=PASSWORD)
    older, newer = (file_request(server.url, company.admin_token)["code"] for _ in range(2))
    with logged_in(server.url, company.supporter_email) as client:
        response = client.post("/queue/next")
    assert (response.status_code, response.headers["location"]) == (303, f"/requests/{older}")
    taken = httpx.get(f"{server.url}/api/v1/service-requests/{older}", headers=bearer(company.admin_token)).json()
    assert taken["assignee"]["email"] == company.supporter_email
    assert httpx.get(f"{server.url}/api/v1/service-requests/{newer}",
                     headers=bearer(company.admin_token)).json()["assignee"] is None


def test_get_next_says_nothing_is_waiting_when_nothing_is(server):
    company = make_tenant(server.database_url, password=PASSWORD)
    with logged_in(server.url, company.supporter_email) as client:
        response = client.post("/queue/next")
        assert (response.status_code, response.headers["location"]) == (303, "/queue?nothing_waiting=1")
        assert "Nothing is waiting" in client.get(response.headers["location"]).text
        assert "Nothing is waiting" not in client.get("/queue").text


def test_get_next_refuses_a_form_without_its_csrf_token(server):
    company = make_tenant(server.database_url, password=PASSWORD)
    code = file_request(server.url, company.admin_token)["code"]
    with logged_in(server.url, company.supporter_email) as client:
        assert client.post("/queue/next", data={"csrf_token": "forged"}).status_code == 403
    assert httpx.get(f"{server.url}/api/v1/service-requests/{code}",
                     headers=bearer(company.admin_token)).json()["assignee"] is None


def test_the_topic_filter_shows_only_requests_of_that_topic(server, tenant, admin):
    billing = file_request(server.url, tenant.supporter_token, topic="Billing (queue page)")["code"]
    other = file_request(server.url, tenant.supporter_token, topic="Other (queue page)")["code"]
    assert codes_on(admin.get("/queue", params={"topic": "Billing (queue page)"}).text) == [billing]
    assert other in codes_on(admin.get("/queue").text)
