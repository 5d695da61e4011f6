"""Remote control end to end: the expert's Chromium drives a real window on the customer's X display,
through the real queue server and the real agent, only while the customer's own consent stands.

The window is ``tests/e2e/recorder.py``: it notes every click and key it gets, where and when.
Input the expert's page would not send (before consent, after a deny, after take-back) is tried
through a raw expert socket of the same supporter, as a hand-made client would.
"""

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page

from tests.e2e.desktop import CONTROL_DIALOG_TITLE, Recorder, click, settled, visible_window, xdotool
from tests.e2e.test_connect import allow_and_watch, open_session
from tests.server.connect.peers import WAIT, Expert, Sockets, receive, send
from tests.server.web.test_browser_control import wait_control
from tests.support.dashboard import logged_in
from tests.support.polling import eventually
from tests.support.tenants import bearer

RECORDER_BOX = (340, 220, 600, 340)  # left, top, width, height: below the sharing bar, away from the agent's window
NOT_IN_CONTROL = "you are not in control of the customer's computer: ask the customer for control first"
PATIENCE = 30.0


@pytest.fixture
def recorder(display, customer, tmp_path) -> Iterator[Recorder]:
    """The customer's window that notes its input, on top (started after the agent's windows)."""
    made = Recorder(display, tmp_path / "recorder.log", RECORDER_BOX)
    yield made
    made.close()


@pytest.fixture
def raw_expert(queue_server, company, customer) -> Iterator:
    """A raw expert socket of the same supporter as the page, its hello read."""
    client = logged_in(queue_server.url, company.supporter_email)
    sockets = Sockets(queue_server.url, company)
    socket = sockets.expert_raw(customer.state()["code"],
                                Expert(client, company.user_ids[company.supporter_email], "supporter"))
    assert receive(socket)["type"] == "hello"
    yield socket
    sockets.close_all()
    client.close()


def ask_for_control(page: Page, customer) -> None:
    page.click("#request-control")
    customer.wait_for(lambda state: state["session"]["control"] == "shown", what="the control question")


def answer_control(customer, display: str, button: str) -> None:
    """A real click on Allow or Deny of the control question, where the agent reports the button once it
    stands still (the question's longer text makes the dialog's looks a poor guide to where Deny is)."""
    visible_window(display, CONTROL_DIALOG_TITLE)
    centres = settled(lambda: customer.state()["session"]["consent_buttons"], what="the control question's buttons")
    click(display, *centres[button])


def page_point(page: Page, x: int, y: int) -> tuple[float, float]:
    """Where in the page the customer's screen point (x, y) is drawn, however the canvas is scaled."""
    box = page.locator("#screen").bounding_box()
    width, height = page.evaluate("[document.getElementById('screen').width, document.getElementById('screen').height]")
    return box["x"] + (x + 0.5) * box["width"] / width, box["y"] + (y + 0.5) * box["height"] / height


def refused_input(raw, recorder: Recorder) -> None:
    """A click sent on the raw socket is refused by the queue, and the window gets nothing."""
    x, y = recorder.centre
    presses = len(recorder.events("press"))
    send(raw, {"type": "input.button", "button": "left", "down": True, "x": x, "y": y, "width": 1280, "height": 800})
    send(raw, {"type": "input.button", "button": "left", "down": False, "x": x, "y": y, "width": 1280, "height": 800})
    errors = []
    while len(errors) < 2:
        message = raw.recv(timeout=WAIT)
        if isinstance(message, str) and (parsed := json.loads(message))["type"] == "error":
            errors.append(parsed["detail"])  # frames and other messages pass by
    assert errors == [NOT_IN_CONTROL, NOT_IN_CONTROL]
    assert len(recorder.events("press")) == presses


def control_history(base_url: str, company, code: str) -> list[tuple[str, dict]]:
    events = httpx.get(f"{base_url}/api/v1/service-requests/{code}/history", headers=bearer(company.admin_token))
    return [(event["type"], event["data"]) for event in events.json() if event["type"].startswith("control_")]


def test_the_experts_click_and_typing_reach_a_window_on_the_customers_screen_only_under_control(
        expert_page, customer, display, recorder, raw_expert, queue_server, company):
    code = customer.state()["code"]
    open_session(expert_page, queue_server.url, code)
    allow_and_watch(expert_page, customer, display)
    refused_input(raw_expert, recorder)  # sharing the screen is not consent to control

    ask_for_control(expert_page, customer)
    answer_control(customer, display, "allow")
    wait_control(expert_page, "in_control")
    customer.wait_for(lambda state: state["session"]["in_control"], what="the bar showing who is in control")

    target_x, target_y = recorder.centre
    expert_page.mouse.click(*page_point(expert_page, target_x, target_y))
    press = eventually(lambda: recorder.events("press"), timeout=PATIENCE, what="the click in the window")[0]
    assert press["button"] == 1
    assert abs(press["x"] - target_x) <= 1 and abs(press["y"] - target_y) <= 1
    eventually(lambda: recorder.events("release"), timeout=PATIENCE, what="the button's release")
    expert_page.wait_for_function("() => document.body.dataset.keyboardFocus === 'yes'")

    expert_page.keyboard.type("Grüße")
    eventually(lambda: recorder.text() == "Grüße", timeout=PATIENCE,
               what=f"'Grüße' typed in the window (it has {recorder.text()!r})")
    expert_page.keyboard.press("Backspace")
    eventually(lambda: recorder.text() == "Grüß", timeout=PATIENCE, what="Backspace in the window")
    assert expert_page.errors == []
    assert ("control_granted", {"expert": company.user_ids[company.supporter_email]}) in \
        control_history(queue_server.url, company, code)


def test_the_take_back_key_works_while_input_arrives_and_ends_control(
        expert_page, customer, display, recorder, raw_expert, queue_server, company):
    code = customer.state()["code"]
    open_session(expert_page, queue_server.url, code)
    allow_and_watch(expert_page, customer, display)
    ask_for_control(expert_page, customer)
    answer_control(customer, display, "allow")
    wait_control(expert_page, "in_control")

    # The expert moves the pointer over the view without pause while the customer presses the keys.
    left, top = page_point(expert_page, 100, 600)
    expert_page.evaluate("""([left, top]) => {
      const canvas = document.getElementById("screen");
      let step = 0;
      window.__moving = setInterval(() => {
        step += 1;
        canvas.dispatchEvent(new PointerEvent("pointermove", {
          clientX: left + (step % 200), clientY: top, bubbles: true, pointerType: "mouse" }));
      }, 5);
    }""", [left, top])
    xdotool(display, "key", "--clearmodifiers", "ctrl+alt+space")
    customer.wait_for(lambda state: not state["session"]["in_control"], what="control taken back")
    wait_control(expert_page, "none")
    expert_page.evaluate("clearInterval(window.__moving)")

    assert customer.state()["session"]["sharing"]  # taking back control keeps the screen shared
    refused_input(raw_expert, recorder)
    history = control_history(queue_server.url, company, code)
    assert history[-1] == ("control_stopped", {"by": "customer", "expert": company.user_ids[company.supporter_email],
                                               "reason": "customer_stopped"})


def test_a_denied_control_sends_nothing_to_the_customers_window(
        expert_page, customer, display, recorder, raw_expert, queue_server, company):
    code = customer.state()["code"]
    open_session(expert_page, queue_server.url, code)
    allow_and_watch(expert_page, customer, display)
    ask_for_control(expert_page, customer)
    answer_control(customer, display, "deny")
    wait_control(expert_page, "denied")

    expert_page.mouse.click(*page_point(expert_page, *recorder.centre))
    refused_input(raw_expert, recorder)
    assert recorder.events("press") == []  # the page's click went nowhere either
    assert control_history(queue_server.url, company, code) == [
        ("control_denied", {"expert": company.user_ids[company.supporter_email]})]
