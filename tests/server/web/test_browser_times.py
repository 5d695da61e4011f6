"""Times on the dashboard in Chromium: in the supporter's time zone and language, UTC without scripts."""

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.support.browser import agent_client, file_as_agent, queue_row, sign_in, wait_for_row
from tests.support.queue_api import QueueApi

BERLIN = "Europe/Berlin"


def created_at(server, tenant, code: str) -> datetime:
    return datetime.fromisoformat(QueueApi(server.url).get(code, tenant.admin_token).json()["created_at"])


def in_berlin(instant: datetime) -> datetime:
    return instant.astimezone(ZoneInfo(BERLIN))


def english(local: datetime) -> str:
    """How Chromium writes a Berlin time for a page in English (``lang="en"``)."""
    return f"{local:%m/%d/%Y}, {local:%H:%M} GMT+{local.utcoffset().seconds // 3600}"


def german(local: datetime) -> str:
    return f"{local:%d.%m.%Y}, {local:%H:%M} " + {"CET": "MEZ", "CEST": "MESZ"}[local.tzname()]


def test_the_queue_and_the_request_page_show_times_in_the_browsers_time_zone(sqlite_server, tenant, new_page):
    """The created time shows Berlin's hour, with the UTC time kept as the element's title."""
    code = file_as_agent(agent_client(sqlite_server.url, tenant), {"description": "clock"}).code
    local = in_berlin(created_at(sqlite_server, tenant, code))
    page = new_page(timezone_id=BERLIN)
    sign_in(page, sqlite_server, tenant.supporter_email)

    shown = wait_for_row(page, code).locator("time:not(.countdown):not(.waited)")
    assert shown.inner_text() == english(local)
    assert shown.get_attribute("title").endswith(" UTC")

    page.goto(f"{sqlite_server.url}/requests/{code}")
    assert page.locator("#history li time").first.inner_text() == english(local)
    assert page.inner_text("#created-at") == english(local)
    assert page.errors == []


def test_in_german_the_local_time_is_written_the_german_way(sqlite_server, tenant, new_page):
    code = file_as_agent(agent_client(sqlite_server.url, tenant), {"description": "Uhr"}).code
    local = in_berlin(created_at(sqlite_server, tenant, code))
    page = new_page(timezone_id=BERLIN, locale="de-DE")

    sign_in(page, sqlite_server, tenant.supporter_email, path=f"/requests/{code}")

    assert page.get_attribute("html", "lang") == "de"
    assert page.locator("#history li time").first.inner_text() == german(local)


def test_without_javascript_times_stay_in_utc_and_say_so(sqlite_server, tenant, new_page):
    code = file_as_agent(agent_client(sqlite_server.url, tenant), {"description": "no scripts"}).code
    utc = created_at(sqlite_server, tenant, code)
    page = new_page(timezone_id=BERLIN, java_script_enabled=False)

    sign_in(page, sqlite_server, tenant.supporter_email)

    assert queue_row(page, code).locator("time:not(.countdown):not(.waited)").inner_text() == f"{utc:%Y-%m-%d %H:%M} UTC"
