"""Bad input on either socket is answered with one error line, and the session goes on."""

import json
import struct

import pytest

from sosqueue.connect import Region, pack_region
from tests.server.connect.peers import jpeg, receive, receive_frame, send

TOO_LONG_CHAT = {"type": "chat", "text": "x" * 2001}
TOO_BIG_MESSAGE = json.dumps({"type": "chat", "text": "y" * (16 * 1024)})
NOT_JSON = "this message is not valid JSON; send one JSON object per text message"
NO_TYPE = 'send a JSON object with a "type", like {"type": "chat", "text": "Hello"}'
CONTROL = "a chat message cannot contain control characters (line breaks and tabs are fine)"
NOT_IN_CONTROL = "you are not in control of the customer's computer: ask the customer for control first"
CUSTOMERS_SEND = "chat, consent, control_stop, control_unavailable, end, input_error, view_stop"
EXPERTS_SEND = ("ack, chat, control_request, control_stop, end, input.button, input.key, input.monitor, input.move, "
                "input.secure_attention, input.text, input.wheel, view_request")
NOT_A_FRAME = ("a frame must be one JPEG image (its bytes start with FF D8) or a region frame "
               "(a SQR1 header, then one JPEG)")
REGION = pack_region(Region(16, 32, 64, 40, 1280, 800), jpeg())

CUSTOMER_CASES = {
    "chat of 2001 characters": (TOO_LONG_CHAT, "a chat message has at most 2000 characters; this one has 2001"),
    "empty chat": ({"type": "chat", "text": " \n\t "}, "a chat message needs some text"),
    "chat without text": ({"type": "chat"}, 'a chat message needs "text": a string'),
    "chat with a bell": ({"type": "chat", "text": "ding\x07"}, CONTROL),
    "chat with an escape sequence": ({"type": "chat", "text": "\x1b[2Jgone"}, CONTROL),
    "malformed JSON": ('{"type": "chat", "text": ', NOT_JSON),
    "JSON that is not an object": ("[1, 2]", NO_TYPE),
    "unknown type": ({"type": "dance"}, f"unknown message type 'dance'; customers send: {CUSTOMERS_SEND}"),
    "an expert's message type": ({"type": "view_request"},
                                 f"unknown message type 'view_request'; customers send: {CUSTOMERS_SEND}"),
    "message over 16 KiB": (TOO_BIG_MESSAGE, f"this message has {len(TOO_BIG_MESSAGE)} bytes; "
                                             "messages are limited to 16384 bytes"),
    "consent without allowed": ({"type": "consent", "allowed": "yes"}, 'consent needs "allowed": true or false'),
    "consent to control nobody asked for": ({"type": "consent", "allowed": True, "scopes": ["view", "control"]},
                                            "no expert asked for control; a control consent answers a control_request"),
    "consent to an unknown scope": ({"type": "consent", "allowed": True, "scopes": ["view", "files"]},
                                    'consent "scopes" are ["view"] (to see the screen) or ["view", "control"] '
                                    '(to use the mouse and keyboard)'),
    "input error without detail": ({"type": "input_error"}, 'input_error needs "detail": one line that says why'),
    "frame over 2 MiB": (jpeg() + bytes(2 * 1024 * 1024 + 1 - len(jpeg())),
                         "this frame has 2097153 bytes; frames are limited to 2097152 bytes: "
                         "send a smaller or more compressed JPEG"),
    "frame that is not a JPEG": (b"\x89PNG\r\n\x1a\n" + bytes(100), NOT_A_FRAME),
    "region frame with a bad magic": (b"SQR9" + REGION[4:], NOT_A_FRAME),
    "region outside the frame": (b"SQR1" + struct.pack(">6H", 1250, 0, 64, 40, 1280, 800) + jpeg(),
                                 "the region 64×40 at 1250,0 is not inside the 1280×800 frame"),
    "region of no pixels": (b"SQR1" + struct.pack(">6H", 0, 0, 0, 40, 1280, 800) + jpeg(),
                            "a region and its frame are at least 1×1 pixel"),
    "region frame cut short": (REGION[:10], "this region frame is cut short: 10 bytes, its header alone has 16"),
    "region frame without a JPEG": (REGION[:16] + b"GIF89a" + bytes(20),
                                    "a region frame's header is followed by one JPEG image (FF D8 at byte 16)"),
    "region frame over 2 MiB": (REGION + bytes(2 * 1024 * 1024 + 1 - len(REGION)),
                                "this frame has 2097153 bytes; frames are limited to 2097152 bytes: "
                                "send a smaller or more compressed JPEG"),
}

EXPERT_CASES = {
    "chat of 2001 characters": (TOO_LONG_CHAT, "a chat message has at most 2000 characters; this one has 2001"),
    "empty chat": ({"type": "chat", "text": ""}, "a chat message needs some text"),
    "chat with a NUL": ({"type": "chat", "text": "a\x00b"}, CONTROL),
    "malformed JSON": ("{nope", NOT_JSON),
    "unknown type": ({"type": "consent", "allowed": True},
                     f"unknown message type 'consent'; experts send: {EXPERTS_SEND}"),
    "message over 16 KiB": (TOO_BIG_MESSAGE, f"this message has {len(TOO_BIG_MESSAGE)} bytes; "
                                             "messages are limited to 16384 bytes"),
    "input without the customer's consent": ({"type": "input.button", "button": "left", "down": True, "x": 10, "y": 20,
                                               "width": 1280, "height": 800}, NOT_IN_CONTROL),
    "keys without the customer's consent": ({"type": "input.key", "key": "Enter"}, NOT_IN_CONTROL),
    "an input type that does not exist": ({"type": "input.mouse", "x": 10},
                                          f"unknown message type 'input.mouse'; experts send: {EXPERTS_SEND}"),
    "a frame": (jpeg(), "experts do not send frames; send JSON messages"),
}


def send_raw(socket, payload) -> None:
    socket.send(json.dumps(payload) if isinstance(payload, dict) else payload)


@pytest.mark.parametrize("payload, detail", list(CUSTOMER_CASES.values()), ids=list(CUSTOMER_CASES))
def test_the_customers_bad_input_is_answered_with_an_error_and_the_session_goes_on(sockets, expert, payload, detail):
    customer, [browser] = sockets.sharing(sockets.file(), expert)
    send_raw(customer, payload)
    assert receive(customer) == {"type": "error", "detail": detail}
    send(customer, {"type": "chat", "text": "still here"})
    assert receive(browser)["text"] == "still here"
    frame = jpeg(noise=64)
    customer.send(frame)
    assert receive_frame(browser) == frame


def test_a_region_frame_reaches_the_expert_as_the_very_bytes(sockets, expert):
    customer, [browser] = sockets.sharing(sockets.file(), expert)
    customer.send(whole := jpeg(noise=8))
    assert receive_frame(browser) == whole
    customer.send(REGION)
    assert receive_frame(browser) == REGION


@pytest.mark.parametrize("payload, detail", list(EXPERT_CASES.values()), ids=list(EXPERT_CASES))
def test_an_experts_bad_input_is_answered_with_an_error_and_the_session_goes_on(sockets, expert, payload, detail):
    customer, [browser] = sockets.sharing(sockets.file(), expert)
    send_raw(browser, payload)
    assert receive(browser) == {"type": "error", "detail": detail}
    send(browser, {"type": "chat", "text": "still here"})
    assert receive(customer)["text"] == "still here"
    assert receive(browser)["text"] == "still here"
    customer.send(frame := jpeg(noise=4))
    assert receive_frame(browser) == frame
    send(browser, {"type": "ack"})
    assert receive(customer) == {"type": "ack"}
