"""The queue page in Chromium: views, filters, finding a code, live updates that keep the filter."""

import pytest

from tests.support.browser import (
    agent_client,
    file_as_agent,
    mark_document,
    open_queue,
    queue_codes,
    queue_row,
    same_document,
    sign_in,
    wait_for_row,
    wait_live,
)
from tests.support.dashboard import logged_in
from tests.support.queue_api import QueueApi


@pytest.fixture
def team(sqlite_server, make_company):
    """A company whose module files into a group of its first supporter."""
    return make_company(sqlite_server, supporters=2, group_members=1)


@pytest.fixture
def api(sqlite_server):
    client = QueueApi(sqlite_server.url)
    yield client
    client.close_client()


def go(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_my_requests_unassigned_and_the_assignee_filter_show_the_right_rows(sqlite_server, tenant, api, page):
    me, colleague = list(tenant.supporter_tokens)
    client = agent_client(sqlite_server.url, tenant)
    mine, theirs, nobodys = (file_as_agent(client, {"description": text}).code for text in ("a", "b", "c"))
    api.assign(mine, tenant.supporter_tokens[me], tenant.user_ids[me]).raise_for_status()
    api.assign(theirs, tenant.supporter_tokens[me], tenant.user_ids[colleague]).raise_for_status()
    sign_in(page, sqlite_server, me)
    assert queue_codes(page) == [nobodys, mine, theirs]  # waiting since filed, or since assigned once assigned

    go(page, "#view-mine")
    assert queue_codes(page) == [mine]
    assert page.inner_text(".views a.active") == "My requests"

    go(page, "#view-unassigned")
    assert queue_codes(page) == [nobodys]
    assert queue_row(page, nobodys).locator(".assignee").inner_text() == "—"

    page.select_option("form.filters select[name=assignee]", tenant.user_ids[colleague])
    go(page, "form.filters button[type=submit]")
    assert queue_codes(page) == [theirs]
    assert queue_row(page, theirs).locator(".assignee").inner_text() == colleague


def test_the_status_and_group_filters_show_the_right_rows(sqlite_server, team, page):
    client = agent_client(sqlite_server.url, team)
    grouped = file_as_agent(client, {"description": "in the team's group"}).code
    closed = file_as_agent(client, {"description": "finished"})
    client.close(closed)
    with logged_in(sqlite_server.url, team.supporter_email) as dashboard:
        response = dashboard.post("/requests/new", {"description": "no group", "name": "", "email": "", "group": ""})
        ungrouped = response.headers["location"].split("/")[2].split("?")[0]
    group = f"team-{team.name.split()[-1]}"
    sign_in(page, sqlite_server, team.supporter_email)
    assert queue_codes(page) == [grouped, ungrouped]  # the open ones: the longest waiting first

    page.select_option("form.filters select[name=status]", "closed")
    go(page, "form.filters button[type=submit]")
    assert queue_codes(page) == [closed.code]

    page.select_option("form.filters select[name=status]", "all")
    go(page, "form.filters button[type=submit]")
    assert queue_codes(page) == [ungrouped, closed.code, grouped]

    page.select_option("form.filters select[name=group]", group)
    go(page, "form.filters button[type=submit]")
    assert queue_codes(page) == [closed.code, grouped]
    assert page.url == f"{sqlite_server.url}/queue?status=all&group={group}&assignee=&topic="

    page.select_option("form.filters select[name=status]", "new")
    go(page, "form.filters button[type=submit]")
    assert queue_codes(page) == [grouped]


def test_the_live_refresh_keeps_the_view_a_request_assigned_away_leaves_unassigned(
    sqlite_server, tenant, api, page
):
    client = agent_client(sqlite_server.url, tenant)
    leaving = file_as_agent(client, {"description": "will be taken"}).code
    sign_in(page, sqlite_server, tenant.supporter_email)
    open_queue(page, sqlite_server.url, "assignee=none")
    assert queue_codes(page) == [leaving]
    mark_document(page)

    api.assign(leaving, tenant.supporter_token, "me").raise_for_status()
    arriving = file_as_agent(client, {"description": "new and nobody's"}).code

    wait_for_row(page, arriving)
    assert queue_codes(page) == [arriving]
    assert same_document(page)


@pytest.mark.parametrize("spelling", ["canonical", "upper case with dashes", "digits with spaces"])
def test_searching_a_code_in_any_spelling_opens_the_request(sqlite_server, tenant, page, spelling):
    code = file_as_agent(agent_client(sqlite_server.url, tenant), {"description": "find me"}).code
    digits = code[1:].replace("-", "")
    typed = {
        "canonical": f"s{digits}",
        "upper case with dashes": code.upper(),
        "digits with spaces": f"{digits[:2]} {digits[2:5]} {digits[5:]}",
    }[spelling]
    sign_in(page, sqlite_server, tenant.supporter_email)

    page.fill("form.search input[name=q]", typed)
    go(page, "form.search button[type=submit]")

    assert page.url == f"{sqlite_server.url}/requests/{code}"
    assert page.inner_text("h1.code") == code


@pytest.mark.parametrize(("typed", "message"), [
    ("s00-000-000", "There is no service request s00-000-000 in your queue."),
    ("printer", "printer is not a session code; it looks like s12-345-678."),
])
def test_searching_what_is_not_in_the_queue_says_so_on_the_queue_page(sqlite_server, tenant, page, typed, message):
    sign_in(page, sqlite_server, tenant.supporter_email)

    page.fill("form.search input[name=q]", typed)
    go(page, "form.search button[type=submit]")

    assert page.locator("body").get_attribute("data-page") == "queue"
    assert page.inner_text("#search-error") == message
    assert page.input_value("form.search input[name=q]") == typed


def test_the_queue_and_a_request_page_are_kept_as_screenshots(sqlite_server, team, api, page, artifacts_dir):
    client = agent_client(sqlite_server.url, team)
    people = [("Erika Mustermann", "erika@example.test", "Outlook asks for the password again and again."),
              ("Jonas Weber", "", "The label printer in the warehouse prints only blank labels."),
              ("Ayşe Yılmaz", "ayse@example.test", "Neuer Laptop: bitte Drucker und Netzlaufwerke einrichten.")]
    codes = [file_as_agent(client, {"description": text, "end_customer": {"name": name, "email": email},
                                    "diagnostics": {"os": "Windows 11 23H2", "free_disk_gb": 41, "uptime": "3 days"}})
             .code for name, email, text in people]
    api.assign(codes[0], team.supporter_token, "me").raise_for_status()
    sign_in(page, sqlite_server, team.supporter_email)
    wait_live(page)
    queue_shot, request_shot = artifacts_dir / "dashboard-queue.png", artifacts_dir / "dashboard-request.png"
    queue_shot.unlink(missing_ok=True)
    request_shot.unlink(missing_ok=True)

    page.screenshot(path=queue_shot, full_page=True)
    page.goto(f"{sqlite_server.url}/requests/{codes[0]}")
    page.screenshot(path=request_shot, full_page=True)

    for shot in (queue_shot, request_shot):
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", shot
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width == 1280 and height >= 600, (shot, width, height)
        assert len(data) >= 20_000, (shot, len(data))
