"""The expert's session view in Chromium against a real relay, with a real customer socket on the other side.

The customer is a plain WebSocket client (tests/server/connect/peers.py) that sends real JPEG
frames; the expert is the page, driven through its buttons and read through its test hooks
(``document.body.dataset``: sessionState, framesDrawn, lastFrameAt).
"""

import io
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page

from sosqueue.connect import Region, pack_region
from tests.server.connect.peers import CUSTOMER_NAME, Sockets, jpeg, receive, send
from tests.server.web.test_browser_security import end_logins
from tests.support.browser import csp_violations, login
from tests.support.tenants import Tenant, bearer

# Counts the sockets the page opens, so a test can tell it did not reconnect.
COUNT_SOCKETS = """
window.__socketsOpened = 0;
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) { super(...args); window.__socketsOpened += 1; }
};
"""
FRAME_COLOUR = (200, 30, 60)  # the colour of peers.jpeg()'s picture
JPEG_TOLERANCE = 12


@pytest.fixture
def sockets(sqlite_server, tenant) -> Iterator[Sockets]:
    opened = Sockets(sqlite_server.url, tenant)
    yield opened
    opened.close_all()


@pytest.fixture
def expert_page(new_page) -> Page:
    page = new_page()
    page.context.add_init_script(COUNT_SOCKETS)
    return page


def stop_the_clock(page: Page) -> None:
    """The page's timers run only when the test says so (``page.clock.run_for``)."""
    page.clock.pause_at(page.evaluate("Date.now()") + 1)


def open_session(page: Page, base_url: str, email: str, code: str) -> None:
    login(page, base_url, email)
    page.goto(f"{base_url}/requests/{code}/session")


def wait_state(page: Page, state: str) -> None:
    page.wait_for_function("(state) => document.body.dataset.sessionState === state", arg=state)


def wait_frames(page: Page, count: int) -> None:
    page.wait_for_function("(count) => Number(document.body.dataset.framesDrawn) === count", arg=count)


def state_text(page: Page) -> str:
    return page.inner_text("#session-state")


def frames_drawn(page: Page) -> int:
    return int(page.evaluate("document.body.dataset.framesDrawn"))


def canvas_size(page: Page) -> list[int]:
    return page.evaluate("(() => { const c = document.getElementById('screen'); return [c.width, c.height]; })()")


def canvas_pixel(page: Page, x: int, y: int) -> list[int]:
    return page.evaluate(
        """([x, y]) => Array.from(document.getElementById("screen").getContext("2d")
                                  .getImageData(x, y, 1, 1).data.slice(0, 3))""", [x, y])


def status(sockets: Sockets, tenant: Tenant, code: str) -> str:
    """The request's status over the API, as the company's admin reads it."""
    response = httpx.get(f"{sockets.base_url}/api/v1/service-requests/{code}", headers=bearer(tenant.admin_token))
    assert response.status_code == 200, response.text
    return response.json()["status"]


def sharing(page: Page, sockets: Sockets, tenant: Tenant):
    """The customer connected and allowed viewing; the page shows it. Returns (filed, customer socket)."""
    filed = sockets.file()
    customer = sockets.customer(filed)
    open_session(page, sockets.base_url, tenant.supporter_email, filed.code)
    assert receive(customer)["type"] == "expert_joined"
    assert receive(customer)["type"] == "view_request"
    send(customer, {"type": "consent", "allowed": True, "scopes": ["view"]})
    wait_state(page, "sharing")
    return filed, customer


def test_the_page_asks_the_connected_customer_and_draws_each_frame_then_acks_it(expert_page, sockets, tenant):
    filed = sockets.file()
    customer = sockets.customer(filed)
    open_session(expert_page, sockets.base_url, tenant.supporter_email, filed.code)

    assert receive(customer) == {"type": "expert_joined",
                                 "expert": {"id": tenant.user_ids[tenant.supporter_email],
                                            "name": tenant.supporter_email.partition("@")[0]}}
    asked = receive(customer)
    assert asked["type"] == "view_request" and asked["company"] == tenant.name
    wait_state(expert_page, "asking")
    assert frames_drawn(expert_page) == 0

    send(customer, {"type": "consent", "allowed": True, "scopes": ["view"]})
    wait_state(expert_page, "sharing")
    assert state_text(expert_page) == "You see the customer's screen."
    customer.send(jpeg())
    wait_frames(expert_page, 1)
    assert receive(customer) == {"type": "ack"}
    assert canvas_size(expert_page) == [64, 40]
    assert all(abs(got - want) <= JPEG_TOLERANCE for got, want in zip(canvas_pixel(expert_page, 32, 20), FRAME_COLOUR))
    customer.send(jpeg(noise=8))
    wait_frames(expert_page, 2)
    assert receive(customer) == {"type": "ack"}
    assert csp_violations(expert_page) == [] and expert_page.errors == []


def picture(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def near(pixel, colour) -> bool:
    return all(abs(got - want) <= JPEG_TOLERANCE for got, want in zip(pixel, colour))


BLUE, YELLOW, GREEN = (20, 80, 200), (250, 200, 0), (30, 130, 60)


def test_a_region_frame_is_drawn_at_its_place_over_the_whole_frame(expert_page, sockets, tenant):
    """Before any whole frame a region has nothing to go over: skipped (and acked); after one it is drawn in place."""
    _filed, customer = sharing(expert_page, sockets, tenant)
    customer.send(pack_region(Region(32, 16, 32, 32, 320, 200), picture((32, 32), YELLOW)))
    assert receive(customer) == {"type": "refresh"}  # the relay knows this page has no whole frame yet
    assert receive(customer) == {"type": "ack"}
    assert frames_drawn(expert_page) == 0

    customer.send(picture((320, 200), BLUE))
    wait_frames(expert_page, 1)
    assert receive(customer) == {"type": "ack"}
    customer.send(pack_region(Region(32, 16, 32, 32, 320, 200), picture((32, 32), YELLOW)))
    wait_frames(expert_page, 2)
    assert receive(customer) == {"type": "ack"}
    assert canvas_size(expert_page) == [320, 200]
    assert near(canvas_pixel(expert_page, 48, 32), YELLOW)
    for x, y in ((10, 10), (70, 32), (48, 60), (300, 190)):
        assert near(canvas_pixel(expert_page, x, y), BLUE), (x, y)

    # A region of another frame size (the screen changed its resolution) waits for the whole frame.
    customer.send(pack_region(Region(0, 0, 16, 16, 640, 400), picture((16, 16), GREEN)))
    assert receive(customer) == {"type": "ack"}
    assert frames_drawn(expert_page) == 2 and near(canvas_pixel(expert_page, 8, 8), BLUE)
    assert csp_violations(expert_page) == [] and expert_page.errors == []


def test_the_page_asks_when_the_customer_connects_after_it(expert_page, sockets, tenant):
    filed = sockets.file()
    open_session(expert_page, sockets.base_url, tenant.supporter_email, filed.code)
    wait_state(expert_page, "waiting")
    assert state_text(expert_page) == "Waiting for the customer to connect…"
    assert expert_page.is_hidden("#ask-again") and expert_page.is_disabled("#end-session")

    customer = sockets.customer(filed)
    assert receive(customer)["type"] == "view_request"
    wait_state(expert_page, "asking")
    assert expert_page.is_enabled("#end-session")


def test_a_denial_shows_denied_draws_nothing_and_ask_again_asks_once_more(expert_page, sockets, tenant):
    filed = sockets.file()
    customer = sockets.customer(filed)
    open_session(expert_page, sockets.base_url, tenant.supporter_email, filed.code)
    assert [receive(customer)["type"] for _ in range(2)] == ["expert_joined", "view_request"]

    send(customer, {"type": "consent", "allowed": False, "scopes": ["view"]})
    wait_state(expert_page, "denied")
    assert state_text(expert_page) == "The customer did not allow you to see their screen."
    assert frames_drawn(expert_page) == 0

    expert_page.click("#ask-again")
    assert receive(customer)["type"] == "view_request"
    wait_state(expert_page, "asking")
    assert expert_page.is_hidden("#ask-again")


def test_chat_goes_both_ways_and_stays_text(expert_page, sockets, tenant):
    filed, customer = sharing(expert_page, sockets, tenant)
    expert_page.fill("#chat-text", "Please open <b>Settings</b>")
    expert_page.press("#chat-text", "Enter")
    message = receive(customer)
    assert (message["type"], message["from"], message["text"]) == ("chat", "expert", "Please open <b>Settings</b>")
    assert expert_page.input_value("#chat-text") == ""

    hostile = 'Done <img src=x onerror="document.body.dataset.owned=1">\nnext line'
    send(customer, {"type": "chat", "text": hostile})
    expert_page.wait_for_function("() => document.querySelectorAll('#chat-log li').length === 2")
    assert expert_page.eval_on_selector_all(
        "#chat-log li", "items => items.map((li) => [li.className, li.querySelector('.name').textContent, "
                        "li.querySelector('.text').textContent])"
    ) == [["from-expert", tenant.supporter_email.partition("@")[0], "Please open <b>Settings</b>"],
          ["from-customer", CUSTOMER_NAME, hostile]]
    assert expert_page.locator("#chat-log img, #chat-log b").count() == 0
    assert expert_page.evaluate("document.body.dataset.owned") is None


def test_the_customer_stopping_shows_stopped_and_offers_to_ask_again(expert_page, sockets, tenant):
    filed, customer = sharing(expert_page, sockets, tenant)
    send(customer, {"type": "view_stop"})
    wait_state(expert_page, "stopped")
    assert state_text(expert_page) == "The customer stopped sharing their screen."
    assert expert_page.is_visible("#ask-again") and expert_page.is_disabled("#end-session")


def test_ending_on_the_page_stops_the_customers_sharing_and_leaves_until_asking_again(
        expert_page, sockets, tenant):
    filed, customer = sharing(expert_page, sockets, tenant)
    expert_page.click("#end-session")
    assert receive(customer) == {"type": "view_stop", "reason": "expert_ended"}
    assert receive(customer)["type"] == "expert_left"
    wait_state(expert_page, "ended")
    assert state_text(expert_page) == "You ended the session."
    assert status(sockets, tenant, filed.code) == "pending"
    customer.send(jpeg())
    assert receive(customer)["type"] == "error"  # the relay takes no frame after the end
    assert frames_drawn(expert_page) == 0
    # Out of the session: no chat, but the page offers to ask again, which joins again.
    assert expert_page.is_disabled("#chat-text") and expert_page.is_disabled("#chat-send")
    assert expert_page.is_visible("#ask-again") and expert_page.is_disabled("#end-session")
    expert_page.click("#ask-again")
    assert receive(customer)["type"] == "expert_joined"
    assert receive(customer)["type"] == "view_request"
    wait_state(expert_page, "asking")
    assert expert_page.is_enabled("#chat-text") and expert_page.is_enabled("#end-session")
    assert status(sockets, tenant, filed.code) == "in_progress"
    send(customer, {"type": "consent", "allowed": True, "scopes": ["view"]})
    wait_state(expert_page, "sharing")
    customer.send(jpeg())
    wait_frames(expert_page, 1)


def test_the_customer_ending_the_session_shows_ended(expert_page, sockets, tenant):
    filed, customer = sharing(expert_page, sockets, tenant)
    send(customer, {"type": "end"})
    wait_state(expert_page, "ended")
    assert state_text(expert_page) == "The customer ended the session."


def test_the_customer_leaving_shows_waiting_and_coming_back_asks_again(expert_page, sockets, tenant):
    filed, customer = sharing(expert_page, sockets, tenant)
    customer.close()
    wait_state(expert_page, "waiting")
    returning = sockets.customer(filed)
    assert receive(returning)["type"] == "view_request"
    wait_state(expert_page, "asking")


def test_closing_the_request_ends_the_session_for_good(expert_page, sockets, tenant):
    expert_page.clock.install()
    filed, customer = sharing(expert_page, sockets, tenant)
    closing = httpx.post(f"{sockets.base_url}/api/v1/service-requests/{filed.code}/close",
                         headers=bearer(tenant.admin_token))
    assert closing.status_code == 200
    wait_state(expert_page, "closed")
    assert state_text(expert_page) == "The request was closed, so the session is over."
    expert_page.clock.run_for(120_000)  # longer than every reconnect delay
    assert expert_page.evaluate("window.__socketsOpened") == 1
    assert expert_page.is_disabled("#chat-send")


def test_a_dropped_connection_reconnects_after_a_server_restart(restartable_server, make_company, new_page):
    company = make_company(restartable_server)
    page = new_page()
    page.context.add_init_script(COUNT_SOCKETS)
    opened = Sockets(restartable_server.url, company)
    try:
        filed = opened.file()
        page.clock.install()
        open_session(page, restartable_server.url, company.supporter_email, filed.code)
        wait_state(page, "waiting")
        stop_the_clock(page)
        restartable_server.kill()
        wait_state(page, "reconnecting")
        assert state_text(page) == "The connection was lost. Reconnecting…"
        restartable_server.start()
        page.clock.run_for(1_000)  # the first retry, a second after the drop
        wait_state(page, "waiting")
        assert page.evaluate("window.__socketsOpened") == 2
        customer = opened.customer(filed)
        assert receive(customer)["type"] == "view_request"
        wait_state(page, "asking")
    finally:
        opened.close_all()


def test_a_login_that_ended_while_the_connection_was_down_shows_signed_out(restartable_server, make_company,
                                                                               new_page):
    company = make_company(restartable_server)
    page = new_page()
    page.clock.install()
    filed = Sockets(restartable_server.url, company).file()
    open_session(page, restartable_server.url, company.supporter_email, filed.code)
    wait_state(page, "waiting")
    stop_the_clock(page)
    end_logins(restartable_server.database_url, company.user_ids[company.supporter_email], "deleted")
    restartable_server.kill()
    wait_state(page, "reconnecting")
    restartable_server.start()
    page.clock.run_for(1_000)
    wait_state(page, "signed_out")
    assert state_text(page) == "You are signed out. Sign in again, then open this session again."
    assert page.url == f"{restartable_server.url}/requests/{filed.code}/session"  # the page stays, saying why
