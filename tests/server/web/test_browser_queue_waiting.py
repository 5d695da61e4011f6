"""The queue's waiting times in Chromium: colours that turn live, Get next, and whom notifications reach."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from server import queue
from server.db import Database
from server.event_ids import EventIds
from server.events import Broker, install_commit_hooks
from server.models import Group, ServiceRequest, utcnow
from sosqueue.events import EventType
from tests.support.browser import (
    agent_client,
    file_as_agent,
    mark_document,
    queue_codes,
    queue_row,
    same_document,
    sign_in,
    wait_for_row,
    wait_live,
)
from tests.support.servers import shared_server

# Wraps the real Notifications API (the context grants its permission): keeps what each notification said.
RECORD_NOTIFICATIONS = """
window.__notified = [];
window.Notification = new Proxy(window.Notification, {
  construct(target, args) {
    window.__notified.push({title: args[0], body: (args[1] || {}).body});
    return new target(...args);
  },
});
"""

# WCAG's contrast ratio of an element's text on its row's background.
CONTRAST = """(element) => {
  const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const luminance = (text) => {
    const [r, g, b] = rgb(text).map((c) => c / 255).map((c) => c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const fore = luminance(getComputedStyle(element).color);
  const back = luminance(getComputedStyle(element.closest("tr")).backgroundColor);
  return (Math.max(fore, back) + 0.05) / (Math.min(fore, back) + 0.05);
}"""


@pytest.fixture
def team(sqlite_server, make_company):
    """A company whose module files into a group of its first supporter; the second is in no group."""
    return make_company(sqlite_server, supporters=2, group_members=1)


def in_database(server, change) -> None:
    database = Database(server.database_url)
    try:
        install_commit_hooks(database, Broker(EventIds("")))  # PostgreSQL: the server hears of the events this writes
        with database.write() as session:
            change(session)
    finally:
        database.dispose()


def set_group_threshold(server, company, minutes: int) -> None:
    """The unassigned threshold of the company's group (make_tenant names it after the company)."""
    group = f"team-{company.name.split()[-1]}"
    in_database(server, lambda session: session.execute(update(Group).values(unassigned_alert_minutes=minutes)
                                                        .where(Group.name == group)))


def filed_ago(server, code: str, seconds: float) -> None:
    in_database(server, lambda session: session.execute(
        update(ServiceRequest).where(ServiceRequest.code == code.replace("-", ""))
        .values(created_at=utcnow() - timedelta(seconds=seconds))))


def urgency(page, code: str) -> tuple[str, str]:
    row = queue_row(page, code)
    return row.get_attribute("data-urgency"), row.locator(".urgency").inner_text()


def test_rows_turn_amber_then_red_as_they_wait_without_a_reload(sqlite_server, team, page):
    """A 1-minute threshold: amber from 30 s on, red from 60 s on; the label turns with the colour."""
    set_group_threshold(sqlite_server, team, 1)
    client = agent_client(sqlite_server.url, team)
    soon_amber, soon_red = (file_as_agent(client, {"description": text}).code for text in ("a", "b"))
    filed_ago(sqlite_server, soon_amber, 20)  # turns in 10 s: time enough to see it calm first
    filed_ago(sqlite_server, soon_red, 50)
    sign_in(page, sqlite_server, team.supporter_email)
    wait_live(page)
    assert urgency(page, soon_amber) == ("calm", "")
    assert urgency(page, soon_red) == ("amber", "Waiting long")
    assert queue_codes(page)[:2] == [soon_red, soon_amber]  # the longest waiting first
    mark_document(page)

    page.wait_for_function("code => document.querySelector(`tr[data-code='${code}']`).dataset.urgency === 'red'",
                           arg=soon_red)
    page.wait_for_function("code => document.querySelector(`tr[data-code='${code}']`).dataset.urgency === 'amber'",
                           arg=soon_amber)
    assert urgency(page, soon_red) == ("red", "Overdue")
    assert same_document(page)
    assert queue_row(page, soon_red).locator("time.waited").inner_text().startswith("1 min")
    for code in (soon_amber, soon_red):
        label = queue_row(page, code).locator(".urgency")
        assert label.evaluate(CONTRAST) >= 4.5
        assert queue_row(page, code).locator(".code a").evaluate(CONTRAST) >= 4.5


def test_get_next_opens_the_longest_waiting_request_and_then_says_nothing_is_waiting(sqlite_server, team, page):
    client = agent_client(sqlite_server.url, team)
    newer, older = (file_as_agent(client, {"description": text}).code for text in ("newer", "older"))
    filed_ago(sqlite_server, older, 60)
    sign_in(page, sqlite_server, team.supporter_email)
    with page.expect_navigation():
        page.click("#get-next")
    assert page.url.endswith(f"/requests/{older}")
    page.go_back()
    with page.expect_navigation():
        page.click("#get-next")
    assert page.url.endswith(f"/requests/{newer}")
    page.goto(f"{sqlite_server.url}/queue")
    with page.expect_navigation():
        page.click("#get-next")
    assert page.locator("#nothing-waiting").inner_text().startswith("Nothing is waiting")


@pytest.fixture
def postgres_server(request):
    """The shared PostgreSQL server of the browser tests: a test's own writes reach its live feed there."""
    return shared_server(request, "postgresql", env={"SOSQUEUE_LOGIN_ATTEMPTS_PER_MINUTE": "0"})


def test_notifications_reach_only_the_requests_team_for_new_and_escalated_requests(postgres_server, make_company,
                                                                                      new_page):
    company = make_company(postgres_server, supporters=2, group_members=1)
    member, outsider = list(company.supporter_tokens)
    pages = {}
    for email in (member, outsider):
        pages[email] = new_page()
        pages[email].context.grant_permissions(["notifications"])
        pages[email].add_init_script(RECORD_NOTIFICATIONS)
        sign_in(pages[email], postgres_server, email)
        wait_live(pages[email])

    code = file_as_agent(agent_client(postgres_server.url, company), {"description": "team only"}).code
    for page in pages.values():
        wait_for_row(page, code)
    in_database(postgres_server, lambda session: queue.record_event(
        session, session.scalar(select(ServiceRequest).where(ServiceRequest.code == code.replace("-", ""))),
        type=EventType.ESCALATED, actor="system", data={"reason": "unassigned", "minutes": 1}))

    pages[member].wait_for_function("() => window.__notified.length === 2")
    assert [note["title"] for note in pages[member].evaluate("() => window.__notified")] == [
        f"SOS {code}", f"Waiting too long: {code}"]
    pages[outsider].wait_for_timeout(1000)  # as long again as the member's second notification took, and more
    assert pages[outsider].evaluate("() => window.__notified") == []
