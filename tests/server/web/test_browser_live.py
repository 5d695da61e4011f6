"""The live queue in Chromium, on SQLite and PostgreSQL: requests filed by the agent appear by themselves."""

import pytest

from tests.support.browser import (
    agent_client,
    file_as_agent,
    login,
    mark_document,
    open_queue,
    queue_codes,
    same_document,
    sign_in,
    wait_for_row,
    wait_live,
)

# Listens to the same /live stream the page uses, and keeps the code of every event it gets.
RECORD_LIVE_EVENTS = """() => {
  window.__seen = [];
  const source = new EventSource("/live");
  for (const type of ["created", "assigned", "closed", "status_changed"]) {
    source.addEventListener(type, (message) => window.__seen.push(JSON.parse(message.data).code));
  }
  const vocabulary = JSON.parse(document.querySelector("meta[name='sosqueue-vocabulary']").content);
  return new Promise((resolve) => source.addEventListener(vocabulary.streamSubscribed, () => resolve(true)));
}"""


@pytest.fixture
def company(any_server, make_company):
    return make_company(any_server)


def test_a_request_filed_by_the_agent_appears_in_the_open_queue_without_a_reload(any_server, company, page):
    login(page, any_server.url, company.supporter_email)
    open_queue(page, any_server.url)
    assert queue_codes(page) == []
    mark_document(page)

    ticket = file_as_agent(agent_client(any_server.url, company), {
        "description": "The printer prints only blank pages",
        "end_customer": {"name": "Erika Mustermann", "email": "erika@example.test"},
    })

    row = wait_for_row(page, ticket.code)
    assert same_document(page), "the queue was reloaded instead of updated in place"
    assert queue_codes(page) == [ticket.code]
    assert row.get_attribute("data-status") == "new"
    assert row.locator(".badge").inner_text() == "New"
    assert row.locator(".customer").inner_text() == "Erika Mustermann\nerika@example.test"
    assert row.locator(".description").inner_text() == "The printer prints only blank pages"
    assert row.locator(".code a").get_attribute("href") == f"/requests/{ticket.code}"
    assert page.dialogs == []


def test_a_request_filed_the_moment_the_feed_says_it_is_subscribed_is_never_missed(any_server, company, page):
    """The stream opens before the server passes changes on; the page is live only once it says so."""
    sign_in(page, any_server, company.supporter_email)
    client = agent_client(any_server.url, company)
    for attempt in range(5):
        page.evaluate(RECORD_LIVE_EVENTS)
        ticket = file_as_agent(client, {"description": f"at once {attempt}"})
        page.wait_for_function("code => window.__seen.includes(code)", arg=ticket.code)


def test_a_supporter_never_sees_another_companys_request_live(any_server, company, make_company, new_page):
    other = make_company(any_server)
    ours, theirs = new_page(), new_page()
    sign_in(ours, any_server, company.supporter_email)
    sign_in(theirs, any_server, other.supporter_email)
    wait_live(ours)
    wait_live(theirs)
    theirs.evaluate(RECORD_LIVE_EVENTS)

    secret = file_as_agent(agent_client(any_server.url, company), {"description": "ours only"})
    wait_for_row(ours, secret.code)
    # The other company's own next request is the proof that its stream has moved past ours.
    barrier = file_as_agent(agent_client(any_server.url, other), {"description": "theirs"})
    wait_for_row(theirs, barrier.code)
    theirs.wait_for_function("code => window.__seen.includes(code)", arg=barrier.code)

    assert queue_codes(theirs) == [barrier.code]
    assert set(theirs.evaluate("() => window.__seen")) == {barrier.code}
    assert queue_codes(ours) == [secret.code]
