"""Remote control through the relay: asked for, granted by the customer alone, and input relayed
only to the customer, only from the expert in control, only while that consent stands."""

import json
import time

import pytest

from tests.server.connect.peers import MONITOR, jpeg, receive, receive_frame, send

NOT_IN_CONTROL = "you are not in control of the customer's computer: ask the customer for control first"
CLICK = {"type": "input.button", "button": "left", "down": True, "x": 200, "y": 100, "width": 1280, "height": 800}
TWO_MONITORS = [{"x": 0, "y": 0, "width": 1920, "height": 1080}, {"x": 1920, "y": 0, "width": 1280, "height": 1024}]


def control_events(api, code: str) -> list[tuple]:
    return [event for event in api.history(code) if event[0].startswith("control_")]


def test_control_is_asked_for_only_while_the_screen_is_shared(sockets, expert):
    filed = sockets.file()
    customer = sockets.customer(filed)
    browser = sockets.expert(filed, expert)
    assert receive(customer)["type"] == "expert_joined"
    send(browser, {"type": "control_request"})
    assert receive(browser) == {"type": "error",
                                "detail": "the screen is not shared: ask to see it first; control comes after"}


def test_a_granted_control_relays_the_experts_input_to_the_customer_and_is_recorded(sockets, api, expert):
    filed = sockets.file()
    customer, [browser] = sockets.controlling(filed, expert, monitors=TWO_MONITORS, secure_attention=True)
    inputs = [CLICK, {"type": "input.move", "x": 5, "y": 6, "width": 1280, "height": 800},
              {"type": "input.wheel", "dx": 0, "dy": -3}, {"type": "input.text", "text": "Grüße\n"},
              {"type": "input.key", "key": "c", "modifiers": ["Control"]},
              {"type": "input.secure_attention"}, {"type": "input.monitor", "monitor": 1},
              {"type": "input.monitor", "monitor": None}]
    for message in inputs:
        send(browser, message)
    assert [receive(customer) for _ in inputs] == inputs
    assert control_events(api, filed.code) == [("control_granted", "customer", {"expert": expert.user_id})]


def test_the_input_passed_on_has_only_the_checked_fields_and_points_clamped_into_the_picture(sockets, expert):
    customer, [browser] = sockets.controlling(sockets.file(), expert)
    send(browser, {"type": "input.move", "x": -40, "y": 5000, "width": 1280, "height": 800, "extra": "<b>"})
    assert receive(customer) == {"type": "input.move", "x": 0, "y": 799, "width": 1280, "height": 800}
    send(browser, {"type": "input.key", "key": "Enter", "modifiers": ["Shift", "Control", "Shift"]})
    assert receive(customer) == {"type": "input.key", "key": "Enter", "modifiers": ["Control", "Shift"]}


def test_a_denied_control_relays_no_input_and_the_screen_stays_shared(sockets, api, expert):
    filed = sockets.file()
    customer, [browser] = sockets.sharing(filed, expert)
    send(browser, {"type": "control_request"})
    assert receive(customer)["type"] == "control_request"
    send(customer, {"type": "consent", "allowed": False, "scopes": ["view", "control"]})
    assert receive(browser) == {"type": "consent", "allowed": False, "scopes": ["control", "view"],
                                "expert": expert.shown}
    send(browser, CLICK)
    assert receive(browser) == {"type": "error", "detail": NOT_IN_CONTROL}
    customer.send(frame := jpeg(noise=8))
    assert receive_frame(browser) == frame
    assert control_events(api, filed.code) == [("control_denied", "customer", {"expert": expert.user_id})]


def test_only_the_expert_the_customer_gave_control_to_may_send_input(sockets, expert, colleague):
    customer, [browser, other] = sockets.controlling(sockets.file(), expert, colleague)
    send(other, CLICK)
    assert receive(other) == {"type": "error", "detail": NOT_IN_CONTROL}
    send(other, {"type": "control_request"})
    assert receive(other) == {"type": "error",
                              "detail": f"{expert.name} is in control; one expert controls at a time"}
    send(browser, CLICK)
    assert receive(customer) == CLICK


def test_a_second_expert_cannot_ask_while_the_customer_answers_the_first(sockets, expert, colleague):
    customer, [browser, other] = sockets.sharing(sockets.file(), expert, colleague)
    send(browser, {"type": "control_request"})
    assert receive(customer)["type"] == "control_request"
    send(other, {"type": "control_request"})
    assert receive(other) == {"type": "error", "detail": f"the customer is answering {expert.name}'s request for "
                                                         "control; ask again after it"}


def test_the_customer_taking_back_control_stops_the_input_and_keeps_the_screen_shared(sockets, api, expert):
    filed = sockets.file()
    customer, [browser] = sockets.controlling(filed, expert)
    send(customer, {"type": "control_stop"})
    assert receive(browser) == {"type": "control_stopped", "reason": "customer_stopped"}
    send(browser, CLICK)
    assert receive(browser) == {"type": "error", "detail": NOT_IN_CONTROL}
    customer.send(frame := jpeg(noise=8))
    assert receive_frame(browser) == frame
    assert control_events(api, filed.code) == [
        ("control_granted", "customer", {"expert": expert.user_id}),
        ("control_stopped", "customer", {"by": "customer", "expert": expert.user_id, "reason": "customer_stopped"})]


def test_the_expert_giving_back_control_tells_the_customer(sockets, api, expert):
    filed = sockets.file()
    customer, [browser] = sockets.controlling(filed, expert)
    send(browser, {"type": "control_stop"})
    assert receive(customer) == {"type": "control_stop", "reason": "expert_stopped"}
    assert receive(browser) == {"type": "control_stopped", "reason": "expert_stopped"}
    assert control_events(api, filed.code)[-1] == (
        "control_stopped", f"user:{expert.user_id}", {"by": "expert", "expert": expert.user_id,
                                                       "reason": "expert_stopped"})


def test_stopping_the_sharing_ends_control_first(sockets, api, expert):
    filed = sockets.file()
    customer, [browser] = sockets.controlling(filed, expert)
    send(customer, {"type": "view_stop"})
    assert receive(browser) == {"type": "control_stopped", "reason": "customer_stopped"}
    assert receive(browser) == {"type": "view_stopped", "reason": "customer_stopped"}
    send(browser, CLICK)
    assert receive(browser) == {"type": "error", "detail": NOT_IN_CONTROL}
    assert [event[0] for event in api.history(filed.code)][-2:] == ["control_stopped", "screen_stopped"]


def test_the_expert_in_control_leaving_withdraws_control_and_the_others_keep_watching(sockets, expert, colleague):
    customer, [browser, other] = sockets.controlling(sockets.file(), expert, colleague)
    browser.close()
    assert receive(customer) == {"type": "control_stop", "reason": "withdrawn"}
    assert receive(other) == {"type": "control_stopped", "reason": "withdrawn"}
    assert receive(customer) == {"type": "expert_left", "expert": expert.shown}
    customer.send(frame := jpeg(noise=8))
    assert receive_frame(other) == frame


def test_the_expert_ending_the_session_ends_control_with_the_view(sockets, expert):
    customer, [browser] = sockets.controlling(sockets.file(), expert)
    send(browser, {"type": "end"})
    assert receive(customer) == {"type": "view_stop", "reason": "expert_ended"}
    assert receive(browser) == {"type": "control_stopped", "reason": "expert_ended"}
    assert receive(browser) == {"type": "view_stopped", "reason": "expert_ended"}


def test_a_computer_that_cannot_be_controlled_answers_with_why(sockets, expert):
    customer, [browser] = sockets.sharing(sockets.file(), expert)
    send(browser, {"type": "control_request"})
    assert receive(customer)["type"] == "control_request"
    send(customer, {"type": "control_unavailable", "detail": "this is a Wayland session\x07 without portal"})
    assert receive(browser) == {"type": "control_unavailable", "detail": "this is a Wayland session  without portal"}
    send(browser, {"type": "control_request"})  # the question is over: asking again reaches the customer
    assert receive(customer)["type"] == "control_request"


def test_control_becoming_unavailable_ends_it(sockets, expert):
    customer, [browser] = sockets.controlling(sockets.file(), expert)
    send(customer, {"type": "control_unavailable", "detail": "the screen is locked"})
    assert receive(browser) == {"type": "control_stopped", "reason": "unavailable"}
    assert receive(browser) == {"type": "control_unavailable", "detail": "the screen is locked"}


def test_the_customers_input_errors_reach_the_experts(sockets, expert):
    customer, [browser] = sockets.controlling(sockets.file(), expert)
    send(customer, {"type": "input_error", "detail": "'ħ' (U+0127) cannot be typed on this computer"})
    assert receive(browser) == {"type": "input_error", "detail": "'ħ' (U+0127) cannot be typed on this computer"}


def test_an_expert_arriving_while_someone_is_in_control_is_told_who(sockets, expert, colleague):
    filed = sockets.file()
    customer, [browser] = sockets.controlling(filed, expert)
    late = sockets.expert_raw(filed.code, colleague)
    assert receive(late) == {"type": "hello", "role": "expert", "code": filed.code, "customer_connected": True,
                             "sharing": True, "control": {"expert": expert.shown, "monitors": MONITOR,
                                                          "secure_attention": False}, "chat": []}


BAD_INPUT = {
    "a point without a picture size": ({"type": "input.move", "x": 1, "y": 2},
                                       'input.move needs "width": a whole number from 1 to 65535'),
    "a point that is not a number": ({"type": "input.move", "x": "1", "y": 2, "width": 10, "height": 10},
                                     'input.move needs "x": a whole number from -65535 to 65535'),
    "a button that does not exist": ({**CLICK, "button": "fourth"},
                                     'input.button needs "button": one of left, middle, right'),
    "a button without up or down": ({**CLICK, "down": "yes"}, 'input.button needs "down": true or false'),
    "a wheel turned too far": ({"type": "input.wheel", "dy": 500},
                               'input.wheel needs "dy": a whole number from -20 to 20'),
    "a wheel not turned": ({"type": "input.wheel", "dx": 0, "dy": 0},
                           'input.wheel needs "dx" or "dy": notches, not both 0'),
    "text with an escape": ({"type": "input.text", "text": "\x1b[2J"},
                            "input.text cannot contain control characters (line breaks and tabs are fine); "
                            "send keys such as Escape as input.key"),
    "text too long": ({"type": "input.text", "text": "a" * 201},
                      "input.text has at most 200 characters; this one has 201"),
    "a key that does not exist": ({"type": "input.key", "key": "Hyper"},
                                  'input.key needs "key": a key name such as "Enter" or "ArrowLeft", or one character'),
    "a modifier that does not exist": ({"type": "input.key", "key": "c", "modifiers": ["Fn"]},
                                       'input.key "modifiers" is a list of Alt, Control, Meta, Shift'),
    "the customer's take-back keys": ({"type": "input.key", "key": " ", "modifiers": ["Control", "Alt"]},
                                      "Ctrl+Alt+Space is the customer's key to take back control; it is not sent"),
    "a monitor the customer does not have": ({"type": "input.monitor", "monitor": 1},
                                             "there is no monitor 1 (the customer has 1)"),
    "Ctrl+Alt+Del where it cannot be sent": ({"type": "input.secure_attention"},
                                             "Ctrl+Alt+Del cannot be sent to this computer"),
}


@pytest.mark.parametrize("payload, detail", list(BAD_INPUT.values()), ids=list(BAD_INPUT))
def test_bad_input_is_answered_with_an_error_and_control_goes_on(sockets, expert, payload, detail):
    customer, [browser] = sockets.controlling(sockets.file(), expert)
    browser.send(json.dumps(payload))
    assert receive(browser) == {"type": "error", "detail": detail}
    send(browser, CLICK)
    assert receive(customer) == CLICK


def test_input_beyond_the_rate_is_dropped_with_one_error_not_queued(sockets, expert):
    customer, [browser] = sockets.controlling(sockets.file(), expert)
    sent, started = 1000, time.monotonic()
    for x in range(sent):
        send(browser, {"type": "input.move", "x": x % 1280, "y": 1, "width": 1280, "height": 800})
    send(browser, {"type": "chat", "text": "done"})
    elapsed = time.monotonic() - started
    errors = []
    while (message := receive(browser))["type"] != "chat":
        errors.append(message)
    moves = 0
    while receive(customer)["type"] == "input.move":
        moves += 1
    rate = 120  # connect_input_per_second: a burst of twice that, then that many a second
    assert moves <= 2 * rate + rate * (elapsed + 1)
    assert moves < sent
    assert errors[0] == {"type": "error",
                         "detail": "input came faster than 120 messages a second; some of it was dropped"}
    assert len(errors) <= elapsed + 1  # at most one a second
