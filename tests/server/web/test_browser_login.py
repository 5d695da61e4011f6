"""Logging in and out in Chromium."""

from tests.support.browser import login, submit_login
from tests.support.dashboard import PASSWORD


def test_a_wrong_password_shows_the_error_and_stays_on_the_login_page(sqlite_server, tenant, page):
    page.goto(f"{sqlite_server.url}/login")

    submit_login(page, tenant.supporter_email, "not the password")

    assert page.url == f"{sqlite_server.url}/login"
    assert page.locator("p.error").inner_text() == "The email or the password is wrong."
    assert page.input_value("input[name=email]") == tenant.supporter_email
    assert page.input_value("input[name=password]") == ""
    assert "sosqueue_session" not in {cookie["name"] for cookie in page.context.cookies()}


def test_the_right_password_after_a_wrong_one_lands_on_the_queue(sqlite_server, tenant, page):
    page.goto(f"{sqlite_server.url}/login")
    submit_login(page, tenant.supporter_email, "not the password")

    submit_login(page, tenant.supporter_email, PASSWORD)

    assert page.url == f"{sqlite_server.url}/queue"
    assert page.locator("body").get_attribute("data-page") == "queue"
    assert page.locator(".who").inner_text() == tenant.supporter_email


def test_going_to_the_queue_first_asks_to_log_in_and_then_returns_to_it(sqlite_server, tenant, page):
    page.goto(f"{sqlite_server.url}/queue?status=closed")

    assert page.url == f"{sqlite_server.url}/login?next=%2Fqueue%3Fstatus%3Dclosed"
    assert page.locator("p.notice").count() == 0
    submit_login(page, tenant.supporter_email, PASSWORD)
    assert page.url == f"{sqlite_server.url}/queue?status=closed"


def test_logging_out_returns_to_the_login_page_and_the_queue_asks_to_log_in_again(sqlite_server, tenant, page):
    login(page, sqlite_server.url, tenant.supporter_email)

    with page.expect_navigation():
        page.click("form[action='/logout'] button")

    assert page.url == f"{sqlite_server.url}/login"
    assert "sosqueue_session" not in {cookie["name"] for cookie in page.context.cookies()}
    page.goto(f"{sqlite_server.url}/queue")
    assert page.url == f"{sqlite_server.url}/login?next=%2Fqueue"
    assert page.locator("input[name=password]").count() == 1


def test_logging_in_works_in_the_first_of_two_login_tabs(sqlite_server, tenant, page):
    page.goto(f"{sqlite_server.url}/login")
    page.context.new_page().goto(f"{sqlite_server.url}/login")  # the same browser, a second tab

    submit_login(page, tenant.supporter_email, PASSWORD)

    assert page.locator("p.error").all_inner_texts() == []
    assert page.url == f"{sqlite_server.url}/queue"
