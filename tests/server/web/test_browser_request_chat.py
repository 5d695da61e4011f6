"""Chatting from a request's page in Chromium, while the customer waits: nobody joins the session.

The customer is a plain WebSocket client on the request's customer socket
(tests/server/connect/peers.py); the supporter is the request page, read through its test hook
``document.body.dataset.chatState``.
"""

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page

from tests.server.connect.peers import CUSTOMER_NAME, Sockets, receive, send
from tests.support.browser import csp_violations, mark_document, same_document, sign_in, wait_live
from tests.support.tenants import Tenant, bearer


@pytest.fixture
def sockets(sqlite_server, tenant) -> Iterator[Sockets]:
    opened = Sockets(sqlite_server.url, tenant)
    yield opened
    opened.close_all()


def open_request(page: Page, server, tenant: Tenant, code: str) -> None:
    sign_in(page, server, tenant.supporter_email, path=f"/requests/{code}")
    wait_live(page)  # the page reloads itself on the request's changes from now on


def wait_chat(page: Page, state: str) -> None:
    page.wait_for_function("(state) => document.body.dataset.chatState === state", arg=state)


def wait_messages(page: Page, count: int) -> None:
    page.wait_for_function("(count) => document.querySelectorAll('#chat-log li').length === count", arg=count)


def chat_log(page: Page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#chat-log li", "items => items.map((li) => [li.className, li.querySelector('.name').textContent, "
                        "li.querySelector('.text').textContent])")


def request_public(sockets: Sockets, tenant: Tenant, code: str) -> dict:
    response = httpx.get(f"{sockets.base_url}/api/v1/service-requests/{code}", headers=bearer(tenant.admin_token))
    assert response.status_code == 200, response.text
    return response.json()


def history_types(sockets: Sockets, tenant: Tenant, code: str) -> list[str]:
    response = httpx.get(f"{sockets.base_url}/api/v1/service-requests/{code}/history",
                         headers=bearer(tenant.admin_token))
    return [event["type"] for event in response.json()]


def test_a_supporter_writes_from_the_request_page_and_the_customers_answer_shows_live(
        page, sqlite_server, sockets, tenant):
    filed = sockets.file()
    customer = sockets.customer(filed)  # waiting: the agent keeps its session socket open
    open_request(page, sqlite_server, tenant, filed.code)
    wait_chat(page, "there")
    assert page.inner_text("#chat-state") == "The customer is connected and reads your messages."
    mark_document(page)

    page.fill("#chat-text", "Hello! Which printer is it?")
    page.press("#chat-text", "Enter")
    said = receive(customer)  # the first thing the customer hears: no expert_joined before it
    assert (said["type"], said["from"], said["text"]) == ("chat", "expert", "Hello! Which printer is it?")
    assert page.input_value("#chat-text") == ""
    send(customer, {"type": "chat", "text": "The <b>big</b> one\non the 2nd floor"})
    wait_messages(page, 2)
    me = tenant.supporter_email.partition("@")[0]
    assert chat_log(page) == [["from-expert", me, "Hello! Which printer is it?"],
                              ["from-customer", CUSTOMER_NAME, "The <b>big</b> one\non the 2nd floor"]]
    assert page.locator("#chat-log b").count() == 0

    details = request_public(sockets, tenant, filed.code)
    assert details["status"] == "pending" and details["session"]["experts_joined"] == 0
    assert history_types(sockets, tenant, filed.code).count("joined") == 1  # the customer's
    assert page.inner_text("#status") == "Pending"
    assert same_document(page)  # nothing changed the request, so the page did not reload
    assert csp_violations(page) == [] and page.errors == []


def test_the_page_says_whether_the_customer_is_there_and_keeps_the_conversation_when_it_reloads(
        page, sqlite_server, sockets, tenant):
    filed = sockets.file()
    open_request(page, sqlite_server, tenant, filed.code)
    wait_chat(page, "away")
    assert page.inner_text("#chat-state") == \
        "The customer is not connected; messages sent now reach only your colleagues."
    page.fill("#chat-text", "We will be with you shortly")
    page.press("#chat-text", "Enter")
    wait_messages(page, 1)
    assert page.inner_text("#chat-error") == "the customer is not connected; only the experts got this message"
    page.fill("#chat-text", "a draft")

    with page.expect_navigation():  # the customer joining changes the request: the page reloads itself
        customer = sockets.customer(filed)
    wait_chat(page, "there")
    wait_messages(page, 1)
    assert chat_log(page)[0][2] == "We will be with you shortly"
    assert page.input_value("#chat-text") == "a draft"
    assert request_public(sockets, tenant, filed.code)["status"] == "pending"

    with page.expect_navigation():
        customer.close()
    wait_chat(page, "away")
    details = request_public(sockets, tenant, filed.code)
    assert details["status"] == "pending" and details["session"]["experts_joined"] == 0


def test_without_scripts_the_request_page_works_and_has_no_chat(new_page, sqlite_server, sockets, tenant):
    page = new_page(java_script_enabled=False)
    filed = sockets.file()
    sign_in(page, sqlite_server, tenant.supporter_email, path=f"/requests/{filed.code}")
    assert page.is_hidden("#request-chat")
    with page.expect_navigation():
        page.click("#assign-me")
    assert page.inner_text("#assignee") == tenant.supporter_email


def test_the_request_page_and_the_session_page_share_one_conversation(
        new_page, sqlite_server, sockets, tenant):
    filed = sockets.file()
    customer = sockets.customer(filed)
    colleague = list(tenant.supporter_tokens)[1]
    session_page = new_page()
    sign_in(session_page, sqlite_server, colleague, path=f"/requests/{filed.code}/session")
    assert receive(customer)["type"] == "expert_joined"
    assert receive(customer)["type"] == "view_request"
    request_page = new_page()
    open_request(request_page, sqlite_server, tenant, filed.code)
    wait_chat(request_page, "there")

    request_page.fill("#chat-text", "from the request page")
    request_page.click("#chat-send")
    assert receive(customer)["text"] == "from the request page"
    session_page.fill("#chat-text", "from the session page")
    session_page.press("#chat-text", "Enter")
    assert receive(customer)["text"] == "from the session page"
    send(customer, {"type": "chat", "text": "from the customer"})
    for page in (request_page, session_page):
        wait_messages(page, 3)
        assert [text for _, _, text in chat_log(page)] == [
            "from the request page", "from the session page", "from the customer"]

    late = new_page()  # a session page opened later shows the conversation so far
    sign_in(late, sqlite_server, tenant.supporter_email, path=f"/requests/{filed.code}/session")
    wait_messages(late, 3)
