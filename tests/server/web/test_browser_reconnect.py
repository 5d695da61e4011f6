"""The live pages in Chromium when their stream breaks: the server restarts, or the login ended meanwhile."""

from tests.server.web.test_browser_security import EXPIRED_NOTICE, end_logins
from tests.support.browser import (
    agent_client,
    file_as_agent,
    mark_document,
    queue_codes,
    same_document,
    sign_in,
    wait_for_row,
    wait_live,
)


def restart(server) -> None:
    server.kill()
    server.start()


def test_the_live_queue_reconnects_after_a_server_restart_and_shows_what_was_filed_meanwhile(
    restartable_server, make_company, page
):
    company = make_company(restartable_server)
    client = agent_client(restartable_server.url, company)
    before = file_as_agent(client, {"description": "before the restart"}).code
    sign_in(page, restartable_server, company.supporter_email)
    wait_live(page)
    mark_document(page)

    restart(restartable_server)
    meanwhile = file_as_agent(client, {"description": "while the page was reconnecting"}).code

    wait_for_row(page, meanwhile)
    wait_live(page)
    assert queue_codes(page) == [before, meanwhile]  # longest waiting first
    assert same_document(page)


def test_live_pages_go_to_the_login_page_when_their_stream_breaks_after_the_login_ended(
    restartable_server, make_company, page
):
    company = make_company(restartable_server)
    code = file_as_agent(agent_client(restartable_server.url, company), {"description": "open on screen"}).code
    sign_in(page, restartable_server, company.supporter_email)
    wait_live(page)
    request_page = page.context.new_page()  # the same browser: the same login
    request_page.goto(f"{restartable_server.url}/requests/{code}")
    wait_live(request_page)
    end_logins(restartable_server.database_url, company.user_ids[company.supporter_email], "deleted")

    with page.expect_navigation(url=f"{restartable_server.url}/login?next=%2Fqueue&expired=1"):
        with request_page.expect_navigation(url=f"{restartable_server.url}/login?next=%2Frequests%2F{code}&expired=1"):
            restart(restartable_server)

    assert page.inner_text("p.notice") == EXPIRED_NOTICE
    assert request_page.inner_text("p.notice") == EXPIRED_NOTICE
