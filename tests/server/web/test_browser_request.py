"""One request's page in Chromium: assign, unassign, close, live changes, and filing a request by hand."""

from tests.support.browser import (
    agent_client,
    csp_violations,
    file_as_agent,
    mark_document,
    queue_codes,
    queue_row,
    same_document,
    sign_in,
    wait_for_row,
    wait_live,
)


def entries(page) -> list[str]:
    """The history as its entries' visible text, time left out."""
    texts = page.locator("#history li").evaluate_all(
        "items => items.map(item => [...item.childNodes].filter(node => node.nodeName !== 'TIME')"
        ".map(node => node.textContent).join(' '))"
    )
    return [" ".join(text.split()) for text in texts]


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_assigning_to_me_then_to_a_colleague_then_to_nobody_shows_in_the_details_and_the_history(
    sqlite_server, tenant, page
):
    me, colleague = list(tenant.supporter_tokens)
    ticket = file_as_agent(agent_client(sqlite_server.url, tenant), {"description": "no sound"})
    sign_in(page, sqlite_server, me, path=f"/requests/{ticket.code}")
    assert page.inner_text("#assignee") == "—"
    assert page.locator("#unassign").count() == 0

    submit(page, "#assign-me")
    assert page.url == f"{sqlite_server.url}/requests/{ticket.code}"
    assert page.inner_text("#assignee") == me

    page.select_option("#assign-user", tenant.user_ids[colleague])
    submit(page, "#assign-to")
    assert page.inner_text("#assignee") == colleague

    submit(page, "#unassign")
    assert page.inner_text("#assignee") == "—"
    assert page.locator("#unassign").count() == 0
    assert page.inner_text("#status") == "New"
    assert entries(page) == [
        "Created Support module",
        "Assigned System → nobody",
        f"Assigned {me} → themselves",
        f"Assigned {me} → {colleague}",
        f"Assigned {me} → nobody",
    ]
    assert csp_violations(page) == []


def test_the_request_page_follows_the_customer_joining_without_a_click(sqlite_server, tenant, page):
    client = agent_client(sqlite_server.url, tenant)
    ticket = file_as_agent(client, {"description": "slow computer"})
    sign_in(page, sqlite_server, tenant.supporter_email, path=f"/requests/{ticket.code}")
    assert page.get_attribute("#connect", "href") == f"/requests/{ticket.code}/session"
    wait_live(page)

    with page.expect_navigation():  # the page reloads itself when its request changes
        client.join(ticket)

    assert page.inner_text("#status") == "Pending"
    assert page.inner_text("#session") == "Customer connected · 0 expert(s) connected"
    assert entries(page)[2:] == ["Joined Customer", "Status changed Customer New → Pending"]
    assert page.errors == []
    assert csp_violations(page) == []


def test_closing_a_request_shows_it_closed_and_takes_it_off_the_open_queue_live(sqlite_server, tenant, new_page):
    client = agent_client(sqlite_server.url, tenant)
    closing, staying = (file_as_agent(client, {"description": text}) for text in ("done soon", "still open"))
    watcher, worker = new_page(), new_page()
    sign_in(watcher, sqlite_server, tenant.supporter_email)
    wait_live(watcher)
    assert queue_codes(watcher) == [closing.code, staying.code]  # longest waiting first
    mark_document(watcher)
    sign_in(worker, sqlite_server, list(tenant.supporter_tokens)[1], path=f"/requests/{closing.code}")

    worker.click("#close")
    submit(worker, "#close-confirmed")

    assert worker.inner_text("#status") == "Closed"
    assert worker.locator(".actions form").count() == 0
    assert worker.inner_text(".actions p") == "This request is Closed; nothing more can be done with it."
    assert worker.locator("time.countdown").count() == 0
    assert entries(worker)[-1] == f"Closed {list(tenant.supporter_tokens)[1]}"
    queue_row(watcher, closing.code).wait_for(state="detached")
    assert queue_codes(watcher) == [staying.code]
    assert same_document(watcher)
    watcher.goto(f"{sqlite_server.url}/queue?status=closed")
    assert queue_codes(watcher) == [closing.code]
    assert queue_row(watcher, closing.code).get_attribute("data-status") == "closed"


def test_close_asks_first_and_keeping_the_request_open_leaves_it_open(sqlite_server, tenant, page):
    """Close opens a dialog; Keep it open and Escape leave the request as it was, Close for good closes it."""
    ticket = file_as_agent(agent_client(sqlite_server.url, tenant), {"description": "maybe done"})
    sign_in(page, sqlite_server, tenant.supporter_email, path=f"/requests/{ticket.code}")
    mark_document(page)

    page.click("#close")
    assert page.locator("#close-confirm").is_visible()
    assert page.inner_text("#close-confirm p") == (
        f"Close request {ticket.code} for good? A closed request cannot be reopened.")
    page.click("#close-cancel")
    assert page.locator("#close-confirm").is_hidden()
    page.click("#close")
    page.keyboard.press("Escape")
    assert page.locator("#close-confirm").is_hidden()
    assert same_document(page)

    page.reload()
    assert page.inner_text("#status") == "New"
    assert entries(page)[-1] != f"Closed {tenant.supporter_email}"
    page.click("#close")
    submit(page, "#close-confirmed")
    assert page.inner_text("#status") == "Closed"
    assert entries(page)[-1] == f"Closed {tenant.supporter_email}"
    assert page.errors == []
    assert csp_violations(page) == []


def test_a_request_filed_by_hand_shows_its_code_and_what_to_tell_the_customer_and_appears_in_the_queue(
    sqlite_server, tenant, new_page
):
    watcher, filer = new_page(), new_page()
    sign_in(watcher, sqlite_server, tenant.supporter_email)
    wait_live(watcher)
    sign_in(filer, sqlite_server, list(tenant.supporter_tokens)[1])
    filer.click("nav a[href='/requests/new']")
    filer.fill("#new-request input[name=name]", "Max Mustermann")
    filer.fill("#new-request input[name=email]", "max@example.test")
    filer.fill("#new-request textarea[name=description]", "Called: the VPN drops every hour.\nSince Monday.")

    submit(filer, "#new-request button[type=submit]")

    code = filer.get_attribute("#request", "data-code")
    assert filer.url == f"{sqlite_server.url}/requests/{code}?created=1"
    notice = filer.locator("#created-notice")
    assert notice.locator("h2").inner_text() == f"Request {code} is filed."
    assert notice.locator("p").nth(0).inner_text() == f"Tell the customer this code: {code}"
    assert notice.locator("p").nth(1).inner_text().startswith(
        'The customer starts the support module, chooses "I have a session code" and types it in.'
    )
    assert filer.inner_text("#customer-name") == "Max Mustermann"
    assert filer.inner_text("#customer-email") == "max@example.test"
    assert filer.eval_on_selector("#description", "e => e.textContent") == (
        "Called: the VPN drops every hour.\nSince Monday."
    )
    row = wait_for_row(watcher, code)
    assert row.locator(".customer").inner_text() == "Max Mustermann\nmax@example.test"
    assert row.get_attribute("data-status") == "new"


def test_a_bad_email_in_the_manual_form_says_what_is_wrong_and_keeps_what_was_typed(sqlite_server, tenant, page):
    sign_in(page, sqlite_server, tenant.supporter_email, path="/requests/new")
    page.fill("#new-request input[name=name]", "Max Mustermann")
    page.fill("#new-request input[name=email]", "max at example.test")
    page.fill("#new-request textarea[name=description]", "the long story")

    submit(page, "#new-request button[type=submit]")

    assert page.url == f"{sqlite_server.url}/requests/new"
    assert page.locator(".field-error").all_inner_texts() == ["is not an email address like name@example.com"]
    assert page.input_value("#new-request input[name=name]") == "Max Mustermann"
    assert page.input_value("#new-request input[name=email]") == "max at example.test"
    assert page.input_value("#new-request textarea[name=description]") == "the long story"


def test_a_note_added_between_the_page_and_its_live_feed_still_reaches_the_page(sqlite_server, tenant, page):
    """The page is rendered, then the customer adds a note, then the page's live feed connects: the
    feed goes on from where the page was rendered, so the page reloads with the note."""
    client = agent_client(sqlite_server.url, tenant)
    ticket = file_as_agent(client, {"description": "printer"})
    held = []

    def note_before_the_feed(route):
        if not held:
            held.append(route.request.url)
            client.add_note(ticket, "in between", idempotency_key="note-between")
        route.continue_()

    page.route("**/live*", note_before_the_feed)
    sign_in(page, sqlite_server, tenant.supporter_email, path=f"/requests/{ticket.code}")
    page.wait_for_selector('#history li[data-type="note_added"]')
    assert entries(page)[-1] == "Note from the customer: in between"
    assert held and "after=" in held[0]


def test_the_request_page_shows_the_customers_note_live_as_text(sqlite_server, tenant, page):
    client = agent_client(sqlite_server.url, tenant)
    ticket = file_as_agent(client, {"description": "printer"})
    sign_in(page, sqlite_server, tenant.supporter_email, path=f"/requests/{ticket.code}")
    wait_live(page)

    client.add_note(ticket, "It smokes now. <b>really</b>", idempotency_key="note-1")
    # No click: the page reloads itself when the customer adds to the request.
    page.wait_for_selector('#history li[data-type="note_added"]')

    assert entries(page)[-1] == "Note from the customer: It smokes now. <b>really</b>"
    assert page.locator("#history b").count() == 0
    assert page.errors == []
    assert csp_violations(page) == []
