"""Remote control from the expert's session view, in Chromium against a real relay.

The customer is a plain WebSocket client (tests/server/connect/peers.py) that answers the page's
control request with a control consent and reads the input messages the page sends; the expert
is the page, driven with Playwright's real mouse and keyboard and read through its test hooks
(``document.body.dataset``: sessionState, controlState, keyboardFocus).

Nothing here waits for time to pass: where a test shows that the page sent nothing, the page
then sends a chat message, and the customer's socket, which keeps the order of what the page
sent, must have had nothing else before it.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page
from websockets.sync.client import ClientConnection

from tests.server.connect.peers import Sockets, receive, send
from tests.server.web.test_browser_session import (
    BLUE,
    open_session,
    picture,
    sharing,
    state_text,
    wait_frames,
    wait_state,
)
from tests.support.browser import csp_violations
from tests.support.tenants import Tenant

PICTURE = (1280, 800)
CONTROL_SCOPES = ["view", "control"]
ONE_MONITOR = [{"x": 0, "y": 0, "width": 1280, "height": 800}]
TWO_MONITORS = [{"x": 0, "y": 0, "width": 1920, "height": 1080}, {"x": 1920, "y": 0, "width": 1280, "height": 1024}]
MESSAGES_TO_WAIT_FOR = 50  # more input than any test makes: a message that never comes fails clearly


@pytest.fixture
def sockets(sqlite_server, tenant) -> Iterator[Sockets]:
    opened = Sockets(sqlite_server.url, tenant)
    yield opened
    opened.close_all()


@pytest.fixture
def expert_page(new_page) -> Page:
    return new_page()


def name_of(email: str) -> str:
    return email.partition("@")[0]


def wait_control(page: Page, state: str) -> None:
    page.wait_for_function("(state) => document.body.dataset.controlState === state", arg=state)


def wait_keyboard_focus(page: Page, focused: str) -> None:
    page.wait_for_function("(focused) => document.body.dataset.keyboardFocus === focused", arg=focused)


def control_text(page: Page) -> str:
    return page.inner_text("#control-state")


def consent(customer: ClientConnection, *, allowed: bool = True, monitors: list | None = None,
            secure_attention: bool = False) -> None:
    answer = {"type": "consent", "allowed": allowed, "scopes": CONTROL_SCOPES}
    if allowed:
        answer |= {"monitors": ONE_MONITOR if monitors is None else monitors, "secure_attention": secure_attention}
    send(customer, answer)


def showing_a_picture(page: Page, customer: ClientConnection) -> None:
    """The customer's screen, 1280×800 pixels, drawn on the page (and acked)."""
    customer.send(picture(PICTURE, BLUE))
    wait_frames(page, 1)
    assert receive(customer) == {"type": "ack"}


def ask_for_control(page: Page, customer: ClientConnection) -> dict:
    """Click "Request control"; the control request the customer got."""
    page.click("#request-control")
    asked = receive(customer)
    assert asked["type"] == "control_request", asked
    return asked


def in_control(page: Page, sockets: Sockets, tenant: Tenant, **consented):
    """The page's expert controls the customer's computer, whose 1280×800 screen the page shows."""
    filed, customer = sharing(page, sockets, tenant)
    showing_a_picture(page, customer)
    ask_for_control(page, customer)
    consent(customer, **consented)
    wait_control(page, "in_control")
    return filed, customer


def next_input(customer: ClientConnection, kind: str) -> dict:
    """The next message of type ``kind``; pointer moves before it are passed over."""
    for _ in range(MESSAGES_TO_WAIT_FOR):
        message = receive(customer)
        if message["type"] == kind:
            return message
        assert message["type"] == "input.move", f"expected {kind}, got {message}"
    raise AssertionError(f"no {kind} among {MESSAGES_TO_WAIT_FOR} messages")


def sent_before_a_chat(page: Page, customer: ClientConnection) -> list[dict]:
    """Everything the page sent the customer up to a chat message it sends now (the chat not included)."""
    page.fill("#chat-text", "marker")
    page.press("#chat-text", "Enter")
    messages = []
    for _ in range(MESSAGES_TO_WAIT_FOR):
        message = receive(customer)
        if message["type"] == "chat" and message["text"] == "marker":
            return messages
        messages.append(message)
    raise AssertionError(f"the chat marker did not come after {MESSAGES_TO_WAIT_FOR} messages: {messages}")


def scale_screen(page: Page, **style) -> None:
    """Show the canvas at another size through CSS (``width="640px"``, ``objectFit="contain"`` …)."""
    page.evaluate("""(style) => Object.assign(document.getElementById("screen").style, style)""", style)


def click_screen(page: Page, x: float, y: float, **options) -> None:
    """A click at (x, y) CSS pixels from the canvas's top left corner."""
    page.click("#screen", position={"x": x, "y": y}, **options)


def test_request_control_is_offered_only_while_the_screen_is_shared(expert_page, sockets, tenant):
    filed = sockets.file()
    open_session(expert_page, sockets.base_url, tenant.supporter_email, filed.code)
    wait_state(expert_page, "waiting")
    assert expert_page.is_disabled("#request-control")
    customer = sockets.customer(filed)
    assert receive(customer)["type"] == "view_request"
    wait_state(expert_page, "asking")
    assert expert_page.is_disabled("#request-control")
    assert expert_page.evaluate("document.body.dataset.controlState") == "none"

    send(customer, {"type": "consent", "allowed": True, "scopes": ["view"]})
    wait_state(expert_page, "sharing")
    assert state_text(expert_page) == "You see the customer's screen."
    assert control_text(expert_page) == "View only. Ask the customer to let you use their mouse and keyboard."
    assert expert_page.is_enabled("#request-control")
    assert expert_page.is_hidden("#give-back") and expert_page.is_hidden("#keyboard-hint")
    assert expert_page.is_hidden("#secure-attention") and expert_page.is_hidden("#monitor")
    assert expert_page.evaluate("document.body.dataset.keyboardFocus") == "no"

    send(customer, {"type": "view_stop"})
    wait_state(expert_page, "stopped")
    assert expert_page.is_disabled("#request-control")
    assert csp_violations(expert_page) == [] and expert_page.errors == []


def test_request_control_asks_the_customer_and_waits_for_the_answer(expert_page, sockets, tenant):
    _filed, customer = sharing(expert_page, sockets, tenant)
    asked = ask_for_control(expert_page, customer)
    assert asked == {"type": "control_request", "company": tenant.name,
                     "expert": {"id": tenant.user_ids[tenant.supporter_email],
                                "name": name_of(tenant.supporter_email)}}
    wait_control(expert_page, "asking")
    assert control_text(expert_page) == "Waiting for the customer to allow control…"
    assert expert_page.is_disabled("#request-control")
    assert expert_page.is_hidden("#give-back")
    assert csp_violations(expert_page) == [] and expert_page.errors == []


def test_a_control_denial_says_so_and_the_screen_stays_shared(expert_page, sockets, tenant):
    _filed, customer = sharing(expert_page, sockets, tenant)
    ask_for_control(expert_page, customer)
    consent(customer, allowed=False)
    wait_control(expert_page, "denied")
    assert control_text(expert_page) == "The customer did not allow control."
    assert expert_page.evaluate("document.body.dataset.sessionState") == "sharing"
    assert expert_page.is_enabled("#request-control")


def test_in_control_the_page_says_so_and_offers_to_give_control_back(expert_page, sockets, tenant):
    _filed, customer = in_control(expert_page, sockets, tenant)
    assert control_text(expert_page) == "You control the customer's computer"
    assert expert_page.is_visible("#give-back") and expert_page.is_hidden("#request-control")
    assert expert_page.is_hidden("#secure-attention") and expert_page.is_hidden("#monitor")
    assert expert_page.inner_text("#keyboard-hint") == "Click the screen to type on the customer's computer"

    expert_page.click("#give-back")
    assert next_input(customer, "control_stop") == {"type": "control_stop", "reason": "expert_stopped"}
    wait_control(expert_page, "none")
    assert control_text(expert_page) == "You gave back control. View only."
    assert expert_page.is_hidden("#give-back") and expert_page.is_enabled("#request-control")
    assert expert_page.is_hidden("#keyboard-hint")


def test_a_click_on_the_css_scaled_screen_arrives_in_the_pixels_of_the_customers_picture(
        expert_page, sockets, tenant):
    _filed, customer = in_control(expert_page, sockets, tenant)
    scale_screen(expert_page, width="640px", height="400px")  # the 1280×800 picture at half its size

    click_screen(expert_page, 100, 50)
    at = {"x": 200, "y": 100, "width": 1280, "height": 800}
    assert next_input(customer, "input.button") == {"type": "input.button", "button": "left", "down": True, **at}
    assert next_input(customer, "input.button") == {"type": "input.button", "button": "left", "down": False, **at}

    expert_page.evaluate("""window.addEventListener("contextmenu", (event) => {
                              document.body.dataset.menuPrevented = String(event.defaultPrevented); })""")
    click_screen(expert_page, 639.5, 399.5, button="right")  # the last pixel: clamped into the picture
    corner = {"x": 1279, "y": 799, "width": 1280, "height": 800}
    assert next_input(customer, "input.button") == {"type": "input.button", "button": "right", "down": True,
                                                    **corner}
    assert next_input(customer, "input.button") == {"type": "input.button", "button": "right", "down": False,
                                                    **corner}
    assert expert_page.evaluate("document.body.dataset.menuPrevented") == "true"  # no browser menu over it

    expert_page.mouse.move(*screen_point(expert_page, 320, 200))
    assert next_input(customer, "input.move") == {"type": "input.move", "x": 640, "y": 400, "width": 1280,
                                                  "height": 800}
    assert csp_violations(expert_page) == [] and expert_page.errors == []


def screen_point(page: Page, x: float, y: float) -> tuple[float, float]:
    """The page coordinates of (x, y) CSS pixels from the canvas's top left corner."""
    box = page.locator("#screen").bounding_box()
    return box["x"] + x, box["y"] + y


def test_a_second_page_of_the_expert_in_control_joins_in_control(expert_page, new_page, sockets, tenant):
    """The hello of a page opened while its expert is in control says so, with what the consent allows."""
    filed, customer = in_control(expert_page, sockets, tenant, secure_attention=True, monitors=TWO_MONITORS)
    second = new_page()
    open_session(second, sockets.base_url, tenant.supporter_email, filed.code)
    wait_control(second, "in_control")
    assert control_text(second) == "You control the customer's computer"
    assert second.is_visible("#secure-attention") and second.is_visible("#give-back")
    assert second.is_visible("#monitor")


def test_a_letterboxed_screen_maps_the_pointer_into_the_picture_and_clamps_the_bars(expert_page, sockets, tenant):
    """object-fit: contain draws the 1280×800 picture 640×400 in the middle of a 640×600 box."""
    _filed, customer = in_control(expert_page, sockets, tenant)
    scale_screen(expert_page, width="640px", height="600px", objectFit="contain")

    click_screen(expert_page, 100, 150)
    pressed = next_input(customer, "input.button")
    assert (pressed["x"], pressed["y"], pressed["down"]) == (200, 100, True)
    assert next_input(customer, "input.button")["down"] is False

    click_screen(expert_page, 100, 20)  # in the bar above the picture: its top edge
    pressed = next_input(customer, "input.button")
    assert (pressed["x"], pressed["y"]) == (200, 0)
    next_input(customer, "input.button")


def test_the_wheel_arrives_in_notches_within_the_limit(expert_page, sockets, tenant):
    _filed, customer = in_control(expert_page, sockets, tenant)
    expert_page.mouse.move(*screen_point(expert_page, 50, 50))
    expert_page.mouse.wheel(0, 300)
    assert next_input(customer, "input.wheel") == {"type": "input.wheel", "dx": 0, "dy": 3}
    expert_page.mouse.wheel(0, -100_000)
    assert next_input(customer, "input.wheel") == {"type": "input.wheel", "dx": 0, "dy": -20}

    # A touchpad's small steps add up to a notch.
    expert_page.mouse.wheel(40, 0)
    expert_page.mouse.wheel(40, 0)
    assert [message for message in sent_before_a_chat(expert_page, customer)
            if message["type"] != "input.move"] == []
    expert_page.mouse.wheel(40, 0)
    assert next_input(customer, "input.wheel") == {"type": "input.wheel", "dx": 1, "dy": 0}


def test_typed_text_arrives_as_text_in_any_script_and_shortcuts_and_named_keys_as_keys(
        expert_page, sockets, tenant):
    _filed, customer = in_control(expert_page, sockets, tenant)
    click_screen(expert_page, 10, 10)
    wait_keyboard_focus(expert_page, "yes")
    assert expert_page.inner_text("#keyboard-hint") == "Keys go to the customer's computer — click outside to stop"
    assert [next_input(customer, "input.button")["down"] for _ in range(2)] == [True, False]

    expert_page.keyboard.type("Grüße")  # "ü" and "ß" come as input events alone, as from a dead key or an IME
    typed = ""
    while typed != "Grüße":
        assert "Grüße".startswith(typed), typed
        typed += next_input(customer, "input.text")["text"]

    expert_page.keyboard.press("Control+c")
    assert next_input(customer, "input.key") == {"type": "input.key", "key": "c", "modifiers": ["Control"]}
    expert_page.keyboard.press("Enter")
    assert next_input(customer, "input.key") == {"type": "input.key", "key": "Enter", "modifiers": []}
    expert_page.keyboard.press("Shift+Tab")
    assert next_input(customer, "input.key") == {"type": "input.key", "key": "Tab", "modifiers": ["Shift"]}
    wait_keyboard_focus(expert_page, "yes")  # Tab went to the customer, not to the next field
    expert_page.keyboard.press("F5")
    assert next_input(customer, "input.key") == {"type": "input.key", "key": "F5", "modifiers": []}

    expert_page.keyboard.press("Control+Alt+Space")  # the customer's own key to take control back
    expert_page.wait_for_selector("#session-error:has-text('Ctrl+Alt+Space')")
    assert expert_page.inner_text("#session-error") == (
        "Ctrl+Alt+Space is the customer's key to take back control; it was not sent.")
    expert_page.keyboard.press("Control")  # a modifier alone sends nothing
    # AltGr types characters (some systems report it as Control+Alt as well): "@" is text, not a shortcut.
    assert not altgr_keydown_prevented(expert_page, "@")
    assert sent_before_a_chat(expert_page, customer) == []
    assert csp_violations(expert_page) == [] and expert_page.errors == []


def altgr_keydown_prevented(page: Page, key: str) -> bool:
    """Whether the page took a keydown of ``key`` typed with AltGr (and Control and Alt) as its own."""
    return page.evaluate("""(key) => !document.getElementById("control-keys").dispatchEvent(new KeyboardEvent(
        "keydown", {key, ctrlKey: true, altKey: true, modifierAltGraph: true, bubbles: true, cancelable: true}))""",
                         key)


def test_keys_typed_while_the_screen_does_not_have_the_focus_send_nothing(expert_page, sockets, tenant):
    _filed, customer = in_control(expert_page, sockets, tenant)
    assert expert_page.evaluate("document.body.dataset.keyboardFocus") == "no"
    expert_page.keyboard.type("abc")
    expert_page.keyboard.press("Control+c")
    assert sent_before_a_chat(expert_page, customer) == []

    click_screen(expert_page, 10, 10)
    wait_keyboard_focus(expert_page, "yes")
    expert_page.click("h1")  # outside the screen: the keyboard is the expert's again
    wait_keyboard_focus(expert_page, "no")
    assert expert_page.inner_text("#keyboard-hint") == "Click the screen to type on the customer's computer"
    expert_page.keyboard.type("xyz")
    expert_page.keyboard.press("Enter")
    assert [message["type"] for message in sent_before_a_chat(expert_page, customer)
            if message["type"] != "input.move"] == ["input.button", "input.button"]


def test_send_ctrl_alt_del_is_offered_only_when_the_consent_says_it_can_be_sent(expert_page, sockets, tenant):
    _filed, customer = in_control(expert_page, sockets, tenant, secure_attention=False)
    assert expert_page.is_hidden("#secure-attention")
    send(customer, {"type": "control_stop"})
    wait_control(expert_page, "none")

    ask_for_control(expert_page, customer)
    consent(customer, secure_attention=True)
    wait_control(expert_page, "in_control")
    assert expert_page.is_visible("#secure-attention")
    assert expert_page.inner_text("#secure-attention") == "Send Ctrl+Alt+Del"
    expert_page.click("#secure-attention")
    assert next_input(customer, "input.secure_attention") == {"type": "input.secure_attention"}


def test_the_monitor_picker_is_offered_only_for_two_monitors_or_more_and_picks_one(expert_page, sockets, tenant):
    _filed, customer = in_control(expert_page, sockets, tenant, monitors=ONE_MONITOR)
    assert expert_page.is_hidden("#monitor")
    send(customer, {"type": "control_stop"})
    wait_control(expert_page, "none")

    ask_for_control(expert_page, customer)
    consent(customer, monitors=TWO_MONITORS)
    wait_control(expert_page, "in_control")
    assert expert_page.is_visible("#monitor")
    assert expert_page.eval_on_selector_all("#monitor option", "options => options.map((o) => o.textContent)") == [
        "Whole desktop", "Monitor 1 (1920×1080)", "Monitor 2 (1280×1024)"]
    expert_page.select_option("#monitor", "1")
    assert next_input(customer, "input.monitor") == {"type": "input.monitor", "monitor": 1}
    expert_page.select_option("#monitor", "")
    assert next_input(customer, "input.monitor") == {"type": "input.monitor", "monitor": None}


def test_the_customer_taking_control_back_returns_to_view_only_and_input_stops(expert_page, sockets, tenant):
    _filed, customer = in_control(expert_page, sockets, tenant)
    click_screen(expert_page, 10, 10)
    wait_keyboard_focus(expert_page, "yes")
    assert [next_input(customer, "input.button")["down"] for _ in range(2)] == [True, False]

    send(customer, {"type": "control_stop"})
    wait_control(expert_page, "none")
    assert control_text(expert_page) == "The customer took back control. View only."
    assert expert_page.evaluate("document.body.dataset.sessionState") == "sharing"
    assert expert_page.is_hidden("#give-back") and expert_page.is_enabled("#request-control")
    assert expert_page.evaluate("document.body.dataset.keyboardFocus") == "no"

    click_screen(expert_page, 20, 20)
    expert_page.mouse.wheel(0, 300)
    expert_page.keyboard.type("after")
    expert_page.keyboard.press("Control+v")
    assert sent_before_a_chat(expert_page, customer) == []


def test_control_unavailable_says_why_and_the_session_goes_on_view_only(expert_page, sockets, tenant):
    _filed, customer = sharing(expert_page, sockets, tenant)
    ask_for_control(expert_page, customer)
    send(customer, {"type": "control_unavailable", "detail": "the screen is locked <b>now</b>"})
    wait_control(expert_page, "unavailable")
    assert control_text(expert_page) == "Control is not possible: the screen is locked <b>now</b>"
    assert expert_page.locator("#control-state b").count() == 0
    assert expert_page.evaluate("document.body.dataset.sessionState") == "sharing"
    assert expert_page.is_enabled("#request-control")


def test_an_input_error_is_shown_in_the_error_line(expert_page, sockets, tenant):
    _filed, customer = in_control(expert_page, sockets, tenant)
    send(customer, {"type": "input_error", "detail": "this key cannot be typed here"})
    expert_page.wait_for_selector("#session-error:has-text('this key cannot be typed here')")
    assert expert_page.evaluate("document.body.dataset.controlState") == "in_control"


def test_colleagues_see_who_is_in_control_also_when_they_join_later(expert_page, new_page, sockets, tenant):
    colleague_email = list(tenant.supporter_tokens)[1]
    filed, customer = sharing(expert_page, sockets, tenant)
    watching = new_page()
    open_session(watching, sockets.base_url, colleague_email, filed.code)
    assert next_input(customer, "expert_joined")["expert"]["name"] == name_of(colleague_email)
    wait_state(watching, "sharing")
    showing_a_picture(expert_page, customer)

    ask_for_control(expert_page, customer)
    consent(customer)
    wait_control(expert_page, "in_control")
    wait_control(watching, "other")
    in_charge = f"{name_of(tenant.supporter_email)} is in control"
    assert control_text(watching) == in_charge
    assert watching.is_disabled("#request-control") and watching.is_hidden("#give-back")

    joining = new_page()
    open_session(joining, sockets.base_url, colleague_email, filed.code)
    wait_control(joining, "other")
    assert control_text(joining) == in_charge
    assert joining.is_disabled("#request-control")

    expert_page.click("#give-back")
    assert next_input(customer, "control_stop")["reason"] == "expert_stopped"
    wait_control(watching, "none")
    assert control_text(watching) == f"{name_of(tenant.supporter_email)} gave back control. View only."
    assert watching.is_enabled("#request-control")
