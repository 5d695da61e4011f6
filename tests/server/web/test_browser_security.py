"""Refusals in Chromium: expired logins, forged forms, admin pages, other companies' requests."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, update

from server.db import Database
from server.models import WebSession, utcnow
from tests.support.browser import (
    agent_client,
    file_as_agent,
    login,
    queue_row,
    sign_in,
    submit_login,
    wait_live,
)
from tests.support.dashboard import PASSWORD

EXPIRED_NOTICE = "Your session has expired. Please log in again."
FORGED = "This form has expired or did not come from this dashboard. Go back, reload the page and try again."


def end_logins(database_url: str, user_id: str, how: str) -> None:
    """Let every login of the user run out (``expired``) or remove them (``deleted``)."""
    database = Database(database_url)
    try:
        with database.write() as session:
            if how == "expired":
                session.execute(update(WebSession).where(WebSession.user_id == user_id)
                                .values(expires_at=utcnow() - timedelta(seconds=1)))
            else:
                session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    finally:
        database.dispose()


def assert_error_page(page, status_title: str, message: str) -> None:
    assert page.locator("body").get_attribute("data-page") == "error"
    assert page.inner_text("main h1") == status_title
    assert page.inner_text("p.message") == message
    assert "Traceback" not in page.content()


@pytest.mark.parametrize("how", ["expired", "deleted"])
def test_an_ended_login_sends_the_queue_to_the_login_page_with_the_expiry_notice(sqlite_server, tenant, page, how):
    login(page, sqlite_server.url, tenant.supporter_email)
    wait_live(page)  # a stream opened after the login ended would be sent to /login: a page load of its own
    end_logins(sqlite_server.database_url, tenant.user_ids[tenant.supporter_email], how)

    page.goto(f"{sqlite_server.url}/queue")

    assert page.url == f"{sqlite_server.url}/login?next=%2Fqueue&expired=1"
    assert page.inner_text("p.notice") == EXPIRED_NOTICE
    submit_login(page, tenant.supporter_email, PASSWORD)
    assert page.url == f"{sqlite_server.url}/queue"


def test_an_open_live_queue_goes_to_the_login_page_when_its_login_expired(sqlite_server, tenant, page):
    sign_in(page, sqlite_server, tenant.supporter_email)
    wait_live(page)
    end_logins(sqlite_server.database_url, tenant.user_ids[tenant.supporter_email], "expired")

    with page.expect_navigation(url=f"{sqlite_server.url}/login?next=%2Fqueue&expired=1"):
        file_as_agent(agent_client(sqlite_server.url, tenant), {"description": "nobody may see this now"})

    assert page.inner_text("p.notice") == EXPIRED_NOTICE
    assert page.locator("#queue-rows").count() == 0


def test_a_form_with_a_forged_csrf_token_gets_the_403_page_and_changes_nothing(sqlite_server, tenant, page):
    ticket = file_as_agent(agent_client(sqlite_server.url, tenant), {"description": "keep me unassigned"})
    sign_in(page, sqlite_server, tenant.supporter_email, path=f"/requests/{ticket.code}")
    page.eval_on_selector("#assign-me", "button => button.form.elements.csrf_token.value = 'forged'")

    with page.expect_navigation():
        page.click("#assign-me")

    assert_error_page(page, "Forbidden", FORGED)
    page.goto(f"{sqlite_server.url}/requests/{ticket.code}")
    assert page.inner_text("#assignee") == "—"
    assert page.locator("#history li[data-type=assigned]").count() == 1  # the system's "nobody" at creation


def test_a_form_without_its_csrf_token_gets_the_403_page(sqlite_server, tenant, page):
    sign_in(page, sqlite_server, tenant.supporter_email, path="/requests/new")
    page.eval_on_selector("#new-request", "form => form.elements.csrf_token.remove()")
    page.fill("#new-request textarea[name=description]", "filed without a token")

    with page.expect_navigation():
        page.click("#new-request button[type=submit]")

    assert_error_page(page, "Forbidden", FORGED)


def test_a_supporter_opening_the_admin_pages_gets_the_403_page(sqlite_server, tenant, page):
    sign_in(page, sqlite_server, tenant.supporter_email)
    assert page.locator("nav a[href='/admin/users']").count() == 0

    page.goto(f"{sqlite_server.url}/admin/users")

    assert_error_page(page, "Forbidden", "Only an admin of your company can open this page.")


def test_another_companys_request_page_is_not_found(sqlite_server, tenant, make_company, page):
    other = make_company(sqlite_server)
    theirs = file_as_agent(agent_client(sqlite_server.url, other), {"description": "not yours"})
    sign_in(page, sqlite_server, tenant.supporter_email)

    page.goto(f"{sqlite_server.url}/requests/{theirs.code}")

    assert_error_page(page, "Not Found", "There is no such service request, user, group or module here.")
    page.goto(f"{sqlite_server.url}/queue")
    assert queue_row(page, theirs.code).count() == 0
