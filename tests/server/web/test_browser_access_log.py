"""The server's log keeps no secret: a whole session, logged as `sosqueue serve` logs by default.

The module files a request, the agent opens the customer socket with the customer token, a
supporter logs in with the password, chats from the request page and the session page (the
expert sockets of chat.js and session.js), and the request is closed. Every token, cookie, CSRF
token and password used on the way is then looked for in the log file, which records each request
and socket the server took (uvicorn's access lines): none may be there.
"""

import itertools
import queue
from urllib.parse import quote, quote_plus

import httpx
import pytest
from playwright.sync_api import Page

from agent.client import QueueClient
from agent.connect.channel import SessionChannel, session_url
from server.logins import COOKIE
from tests.support.browser import login
from tests.support.dashboard import PASSWORD
from tests.support.modules import module_config
from tests.support.polling import eventually
from tests.support.servers import QueueServer, sqlite_url
from tests.support.tenants import Tenant, bearer


@pytest.fixture
def logging_server(tmp_path_factory):
    """A server of this test alone that logs at `sosqueue serve`'s default level (info: every request)."""
    with QueueServer(sqlite_url(tmp_path_factory.mktemp("db")), log_dir=tmp_path_factory.mktemp("logs"),
                     env={"SOSQUEUE_LOGIN_ATTEMPTS_PER_MINUTE": "0"}, log_level="info") as running:
        yield running


class Agent:
    """The customer's agent: what its session channel says, from the channel's thread."""

    def __init__(self):
        self.states: queue.SimpleQueue = queue.SimpleQueue()
        self.messages: queue.SimpleQueue = queue.SimpleQueue()

    def state(self, state: str, reason: str) -> None:
        self.states.put(state)

    def wait_state(self, state: str) -> None:
        eventually(lambda: not self.states.empty() and self.states.get() == state, what=f"the agent {state}")

    def wait_chat(self, text: str) -> None:
        eventually(lambda: not self.messages.empty() and self.messages.get().get("text") == text,
                   what=f"the chat {text!r} at the agent")


def chat(page: Page, text: str) -> None:
    page.fill("#chat-text", text)
    page.press("#chat-text", "Enter")
    page.wait_for_function("(text) => [...document.querySelectorAll('#chat-log .text')]"
                           ".some((item) => item.textContent === text)", arg=text)


def test_a_whole_session_leaves_no_token_cookie_csrf_token_or_password_in_the_log(
        logging_server: QueueServer, make_company, page: Page):
    server = logging_server
    company: Tenant = make_company(server, supporters=1)
    secrets = {"module token": company.module_token, "admin's API token": company.admin_token,
               **{f"API token of {email}": token for email, token in company.supporter_tokens.items()}}

    config = module_config(server_url=server.url, module_id=company.module_id, module_token=company.module_token)
    ticket = QueueClient(config).create({"description": "The printer is on fire"}, idempotency_key="log-1",
                                        source="sos")
    secrets["customer token"] = ticket.customer_token
    with httpx.Client(base_url=server.url, timeout=10) as api:
        assert api.get(f"/api/v1/service-requests/{ticket.code}", headers=bearer(ticket.customer_token)).is_success
        assert api.get("/api/v1/service-requests", headers=bearer(company.supporter_token)).is_success

    agent = Agent()
    channel = SessionChannel(session_url(server.url, ticket.code), ticket.customer_token, on_state=agent.state,
                             on_message=agent.messages.put, delays=lambda: itertools.repeat(0.2))
    secrets["agent instance"] = channel.instance
    channel.start()
    try:
        agent.wait_state("connected")
        login(page, server.url, company.supporter_email)
        secrets["password"] = PASSWORD
        cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
        assert COOKIE in cookies
        secrets.update({f"cookie {name}": value for name, value in cookies.items() if len(value) >= 16})
        secrets["CSRF token"] = page.get_attribute("meta[name='csrf-token']", "content")

        page.goto(f"{server.url}/requests/{ticket.code}")  # chat.js: the request page's chat-only socket
        page.wait_for_function("(state) => document.body.dataset.chatState === state", arg="there")
        chat(page, "Hello from the request page")
        agent.wait_chat("Hello from the request page")
        page.goto(f"{server.url}/requests/{ticket.code}/session")  # session.js: the session page's socket
        page.wait_for_function("(states) => states.includes(document.body.dataset.sessionState)",
                               arg=["ready", "asking"])  # in the session, the customer there
        chat(page, "Hello from the session page")
        agent.wait_chat("Hello from the session page")
        channel.send_json({"type": "chat", "text": "Hello, supporter"})
        page.wait_for_function("(text) => [...document.querySelectorAll('#chat-log .text')]"
                               ".some((item) => item.textContent === text)", arg="Hello, supporter")

        with httpx.Client(base_url=server.url, timeout=10) as api:
            closed = api.post(f"/api/v1/service-requests/{ticket.code}/close", headers=bearer(company.admin_token))
            assert closed.status_code == 200, closed.text
        agent.wait_state("ended")
    finally:
        channel.close()
    server.stop()  # the log is complete

    log = server.log_path.read_text(errors="replace")
    assert f"/requests/{ticket.code}/session/ws" in log and "POST /login" in log, "the log has no access lines"
    leaked = [what for what, secret in secrets.items()
              if any(spelling in log for spelling in {secret, quote(secret, safe=""), quote_plus(secret)})]
    assert leaked == [], f"the server's log ({server.log_path}) holds: {', '.join(leaked)}"
