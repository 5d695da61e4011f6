"""The Connect protocol: messages between a customer's agent, the queue server and experts.

Two WebSocket endpoints meet in one in-process relay per service request:

- the customer's agent: ``ws(s)://SERVER/api/v1/service-requests/{code}/session`` with
  ``Authorization: Bearer <customer token>`` (the ``sqc_…`` token of that very request) and
  ``Sosqueue-Agent-Instance: <instance>`` (``sosqueue.connect.INSTANCE_HEADER``: a random id the
  agent makes once per session, 16 to 128 characters of ``A-Z a-z 0-9 _ -``, and sends on every
  connection of it);
- an expert's browser: ``ws(s)://SERVER/requests/{code}/session/ws`` with the dashboard's login
  cookie and an ``Origin`` that matches ``Host``; any user of the request's company may connect.
  Its first message, sent as soon as it opens and within ``routes.AUTH_SECONDS`` (10 s), is
  ``{"type": "auth", "csrf": <the login's CSRF token>}``; the server sends nothing before it, and
  ``auth`` is refused anywhere else. ``?mode=session`` (the default, the session page's) joins the
  session; ``?mode=chat`` (the request page's) opens a chat-only socket beside it (below).

No secret rides in either URL: access logs (the server's, a proxy's) keep URLs, not headers or
messages.

Both sockets of one request must reach the same server process. With several processes, the
shipped ``build_scripts/nginx/sosqueue.conf`` routes ``…/{code}/session`` and
``…/{code}/session/ws`` to one process by a hash of the code.

One customer socket per request: a second one takes the open one's place only when it comes from
the same agent instance (an agent reconnecting after a drop the server has not noticed yet: the
old socket closes with 4000). Any other (no instance, or another one: someone else holding the
customer token) is closed with 4001 and the open one stays; the agent tries again later, so a
restarted agent gets in once the server has noticed its old socket gone (its pings go unanswered).

Refusals and endings close the socket with a code (after accepting it, so clients see the code):
4401 not signed in or unknown token (also mid-session, when the expert's login ends: logout,
deactivation, password reset, expiry), 4403 forbidden (another kind of token, bad ``Origin``, an
unknown ``mode``, a first message that is not ``auth`` with the login's CSRF token or none in
time), 4404 no such request (also a request of another company, or another request's
customer token), 4409 the request is closed or expired (also when that happens mid-session),
4000 a newer connection of the same agent took over (do not reconnect), 4001 the customer is
connected already from another agent (try again later), 1013 the socket fell too far behind the
session (reconnect).

Messages are JSON objects in text frames, ``{"type": …}``, those a client sends at most
``connect_max_message_bytes`` (16 KiB; an expert's ``hello`` with the chat so far may be longer);
screen frames are binary messages of at most ``connect_max_frame_bytes`` (2 MiB),
each either a whole frame, one JPEG (``FF D8 …``), or a region frame: ``SQR1``, then x, y,
width, height of the region and width, height of the whole frame (big-endian unsigned 16-bit
each; the region inside the frame), then one JPEG of the region (``sosqueue.connect.pack_region``).
A viewer draws a region over the last whole frame of that size and ignores it before one.

A socket that falls behind gets only the newest screen: an unsent frame gives way to the next.
When a region frame takes the place of an unsent frame, or goes to a socket that never got a
whole frame (a second tab of an expert, say), that expert lacks part of the screen: the customer
gets ``refresh`` (once, until its next whole frame) and sends a whole frame next. Anything refused is answered with
``{"type": "error", "detail": "one line"}`` to its sender, and the session goes on.

Server → customer:
    ``hello`` {role: "customer", code, experts: [{id, name}]} · ``expert_joined`` {expert} ·
    ``expert_left`` {expert} (that expert's last socket closed or ended the session) ·
    ``view_request`` {expert: {id, name}, company} (show the consent dialog) · ``view_stop``
    {reason: "expert_ended" | "experts_left" | "withdrawn"} (stop capturing at once, or close the
    consent dialog: "withdrawn" when the expert who asked left; control, and a control question,
    end with it) ·
    ``ack`` (an expert drew the newest frame: send the next one; one frame in flight, one ack per
    frame, from the first expert who drew it) ·
    ``refresh`` (an expert missed a region: make the next frame a whole one) ·
    ``control_request`` {expert: {id, name}, company} (show the control question) ·
    ``control_stop`` {reason: "expert_stopped" | "expert_ended" | "experts_left" | "withdrawn"}
    (stop taking input at once, or close the control question) · ``input.*`` (below) ·
    ``chat`` {from: "expert", name, text, at} (from a socket in the session or a chat-only one) ·
    ``session_ended`` {by: "system", reason:
    "closed" | "expired"} (then close 4409) · ``error`` {detail}
Customer → server:
    ``consent`` {allowed: bool, scopes: ["view"]} (the answer to a view_request) ·
    ``consent`` {allowed: bool, scopes: ["view", "control"], monitors: [{x, y, width, height}],
    secure_attention: bool} (the answer to a control_request; ``monitors``, at most 16, and
    ``secure_attention``, whether Ctrl+Alt+Del can be sent, only with allowed) ·
    binary frames (whole or region), only while sharing (after consent and before any stop; else dropped with
    an error) · ``view_stop`` (stop sharing; control ends too) · ``control_stop`` (take control
    back; the screen stays shared) · ``control_unavailable`` {detail} (this computer cannot be
    controlled: the answer to a control_request, or the end of control) · ``input_error``
    {detail} (one input could not be carried out) · ``chat`` {text} · ``end`` (end the session;
    the sockets stay open)
Server → expert:
    ``hello`` {role: "expert", code, customer_connected, sharing, control: {expert: {id, name},
    monitors, secure_attention} | null, chat: [chat, …] (the room's latest chat messages, at most
    ``relay.CHAT_BACKLOG``, oldest first, kept while any socket of the request is open)} ·
    ``customer_joined`` ·
    ``customer_left`` · ``consent`` {allowed, scopes} (a view consent) · ``consent`` {allowed,
    scopes: ["view", "control"], expert: {id, name}, monitors, secure_attention} (a control
    consent: only that expert may send input) · binary frames (whole or region) · ``view_stopped`` {reason:
    "customer_stopped" | "customer_left" | "expert_ended"} · ``control_stopped`` {reason:
    "customer_stopped" | "expert_stopped" | "expert_ended" | "experts_left" | "customer_left" |
    "unavailable"} (control ended; it always ends before viewing does) ·
    ``control_unavailable`` {detail} · ``input_error`` {detail} · ``session_ended`` {by: "customer" |
    "expert" | "system", reason?} (by "expert": to the other experts at once, to the expert who
    ended once they are recorded as left) · ``chat`` {from: "customer" | "expert", name, text, at}
    (all chat goes to every expert socket in the session and every chat-only one, an expert's to
    its sender too) · ``error`` {detail}
Expert → server:
    ``auth`` {csrf} (the first message, and only then: see above) · ``view_request`` (ask the customer; answered at once with ``consent`` when already sharing) ·
    ``ack`` (after drawing a frame) · ``chat`` {text} · ``end`` (stop viewing, for every expert, and
    leave the session: this expert is recorded as left unless another of their sockets is still in
    it, and the customer gets ``expert_left``; the socket stays open, out of the session: it gets
    ``customer_joined``, ``customer_left`` and the request's ``session_ended`` only, its chat is
    refused, a repeated ``end`` is answered with ``session_ended`` alone, and its ``view_request``
    joins the session again, recorded as joined, before asking the customer) ·
    ``control_request`` (ask for the mouse and keyboard; only while the screen is shared and
    nobody else is in control; answered at once with the control ``consent`` when this expert is
    in control already) · ``control_stop`` (give control back) · ``input.*``

A chat-only expert socket (``mode=chat``) talks with the customer while nobody needs to join:
it is not recorded as a participant, so it changes neither the request's status nor its first
join, and the customer gets no ``expert_joined`` or ``expert_left`` for it. It gets ``hello``
{role: "expert", mode: "chat", code, customer_connected, chat: [chat, …]}, then only
``customer_joined``, ``customer_left``, ``chat``, ``error`` and the request's ``session_ended``
{by: "system", reason} (then close 4409); it sends ``chat`` {text} alone: anything else (a
``view_request``, ``control_request``, ``input.*``…) is refused with an ``error``, and so is a
frame. Its chat goes where any expert's goes; the customer's chat goes to every expert socket
open, in the session or chat-only, and is kept for the ``hello`` of the next one to open (the
customer may write while nobody looks: the supporter who opens the request page reads it).

Input (expert → server → customer), relayed only while a control consent stands, only from the
expert it names, at most ``connect_input_per_second`` messages a second (more are dropped, with
one ``error`` a second); each is checked and passed on with exactly these fields:
    ``input.move`` {x, y, width, height} (a point of the picture the expert sees, width × height
    pixels; x and y are clamped into it) · ``input.button`` {button: "left" | "middle" | "right",
    down: bool, x, y, width, height} · ``input.wheel`` {dx, dy} (notches, -20 to 20 each) ·
    ``input.text`` {text} (1 to 200 characters; line breaks and tabs are the only control
    characters) · ``input.key`` {key, modifiers} (a ``sosqueue.connect.Key`` name or one printable
    character, and ``Modifier`` names; the take-back combination, Ctrl+Alt+Space, is refused) ·
    ``input.secure_attention`` (Ctrl+Alt+Del, where the consent said it can be sent) ·
    ``input.monitor`` {monitor: index | null} (show and control one monitor, null: the whole
    desktop)

Chat text: 1 to ``connect_max_chat_chars`` (2000) characters after trimming; line breaks and
tabs are the only control characters allowed (``\\r\\n`` counts as a line break).
"""

import json
import re
from dataclasses import dataclass
from typing import Literal

from server.config import Settings
from sosqueue.connect import (
    CONTROL_SCOPES,
    CUSTOMER_SENDS,
    EXPERT_SENDS,
    JPEG_START,
    MAX_INPUT_TEXT_CHARS,
    MAX_MONITORS,
    MAX_WHEEL_NOTCHES,
    MODIFIERS,
    REGION_MAGIC,
    TAKE_BACK_KEY,
    TAKE_BACK_LABEL,
    TAKE_BACK_MODIFIERS,
    VIEW_SCOPES,
    Button,
    Key,
    Message,
    Scope,
    parse_region,
)

Role = Literal["customer", "expert"]

#: ``?mode=`` of an expert's socket that only chats (the request page's), beside the session, not in it.
CHAT_MODE = "chat"
#: ``?mode=`` of an expert's socket in the session (the session page's); the default.
SESSION_MODE = "session"

#: The largest number in a point, a picture's size or a monitor's rectangle (16 bits, like frames).
_MAX_PIXELS = 0xFFFF
#: An expert's ``auth`` message is short: a CSRF token is some 43 characters.
_MAX_AUTH_CHARS = 1024
#: A line of detail (an input error, why control is unavailable) is cut to this many characters.
_MAX_DETAIL_CHARS = 300

_TYPES: dict[Role, frozenset[Message]] = {"customer": CUSTOMER_SENDS, "expert": EXPERT_SENDS}
# Control characters (C0, DEL, C1) other than tab and line feed.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Refused(ValueError):
    """A message or frame the session does not take; ``detail`` is the one line to send back."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    frame_bytes: int
    message_bytes: int
    chat_chars: int
    backlog: int
    input_per_second: float

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        return cls(
            frame_bytes=settings.connect_max_frame_bytes,
            message_bytes=settings.connect_max_message_bytes,
            chat_chars=settings.connect_max_chat_chars,
            backlog=settings.connect_max_backlog,
            input_per_second=settings.connect_input_per_second,
        )


def parse(text: str, role: Role, limits: Limits) -> dict:
    """The message in a text frame from ``role``, checked; raises ``Refused`` with why not."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.message_bytes:
        raise Refused(f"this message has {size} bytes; messages are limited to {limits.message_bytes} bytes")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise Refused("this message is not valid JSON; send one JSON object per text message") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise Refused('send a JSON object with a "type", like {"type": "chat", "text": "Hello"}')
    kind = message["type"]
    if kind not in _TYPES[role]:
        expected = ", ".join(sorted(_TYPES[role]))
        raise Refused(f"unknown message type {kind[:40]!r}; {role}s send: {expected}")
    kind = Message(kind)
    if kind == Message.CHAT:
        return {"type": Message.CHAT, "text": chat_text(message.get("text"), limits)}
    if kind == Message.CONSENT:
        return _consent(message)
    if kind in _CHECKS:
        return {"type": kind, **_CHECKS[kind](message)}
    return {"type": kind}


def auth_csrf(text: object) -> str:
    """The CSRF token in an expert's first message, when that is ``{"type": "auth", "csrf": …}``; else ""."""
    if not isinstance(text, str) or len(text) > _MAX_AUTH_CHARS:
        return ""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return ""
    if not isinstance(message, dict) or message.get("type") != Message.AUTH:
        return ""
    csrf = message.get("csrf")
    return csrf if isinstance(csrf, str) else ""


def chat_text(value: object, limits: Limits) -> str:
    """The chat's text, trimmed; raises ``Refused`` when empty, too long or with control characters."""
    if not isinstance(value, str):
        raise Refused('a chat message needs "text": a string')
    text = value.replace("\r\n", "\n").strip()
    if not text:
        raise Refused("a chat message needs some text")
    if len(text) > limits.chat_chars:
        raise Refused(f"a chat message has at most {limits.chat_chars} characters; this one has {len(text)}")
    if _CONTROL.search(text):
        raise Refused("a chat message cannot contain control characters (line breaks and tabs are fine)")
    return text


def _consent(message: dict) -> dict:
    """A view consent (scopes ["view"], the default) or a control consent (["view", "control"])."""
    allowed = _bool(message, "allowed", "consent")
    scopes = message.get("scopes", [Scope.VIEW])
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        raise Refused('consent "scopes" is a list of strings, like ["view"]')
    if set(scopes) not in ({*VIEW_SCOPES}, {*CONTROL_SCOPES}, set()):
        raise Refused('consent "scopes" are ["view"] (to see the screen) or ["view", "control"] (to use the '
                      'mouse and keyboard)')
    if Scope.CONTROL not in scopes:
        return {"type": Message.CONSENT, "allowed": allowed, "scopes": sorted(VIEW_SCOPES)}
    consent = {"type": Message.CONSENT, "allowed": allowed, "scopes": sorted(CONTROL_SCOPES)}
    if allowed:
        consent["monitors"] = _monitors(message.get("monitors", []))
        consent["secure_attention"] = _bool(message, "secure_attention", "a control consent", default=False)
    return consent


def _monitors(value: object) -> list[dict]:
    if not isinstance(value, list) or len(value) > MAX_MONITORS:
        raise Refused(f'consent "monitors" is a list of at most {MAX_MONITORS} {{x, y, width, height}} objects')
    monitors = []
    for monitor in value:
        if not isinstance(monitor, dict):
            raise Refused('each of consent "monitors" is an object {x, y, width, height}')
        monitors.append({"x": _int(monitor, "x", "a monitor", -_MAX_PIXELS, _MAX_PIXELS),
                         "y": _int(monitor, "y", "a monitor", -_MAX_PIXELS, _MAX_PIXELS),
                         "width": _int(monitor, "width", "a monitor", 1, _MAX_PIXELS),
                         "height": _int(monitor, "height", "a monitor", 1, _MAX_PIXELS)})
    return monitors


def _detail(message: dict) -> dict:
    detail = message.get("detail")
    if not isinstance(detail, str) or not detail.strip():
        raise Refused(f'{message["type"]} needs "detail": one line that says why')
    line = _CONTROL.sub(" ", detail.strip())
    return {"detail": line[:_MAX_DETAIL_CHARS]}


def _point(message: dict) -> dict:
    """x and y within the picture of width × height the expert sees, clamped into it."""
    what = message["type"]
    width = _int(message, "width", what, 1, _MAX_PIXELS)
    height = _int(message, "height", what, 1, _MAX_PIXELS)
    x = _int(message, "x", what, -_MAX_PIXELS, _MAX_PIXELS)
    y = _int(message, "y", what, -_MAX_PIXELS, _MAX_PIXELS)
    return {"x": min(max(x, 0), width - 1), "y": min(max(y, 0), height - 1), "width": width, "height": height}


def _button(message: dict) -> dict:
    button = message.get("button")
    if button not in set(Button):
        raise Refused(f'input.button needs "button": one of {", ".join(Button)}')
    return {"button": Button(button), "down": _bool(message, "down", "input.button"), **_point(message)}


def _wheel(message: dict) -> dict:
    dx = _int(message, "dx", "input.wheel", -MAX_WHEEL_NOTCHES, MAX_WHEEL_NOTCHES, default=0)
    dy = _int(message, "dy", "input.wheel", -MAX_WHEEL_NOTCHES, MAX_WHEEL_NOTCHES, default=0)
    if not (dx or dy):
        raise Refused('input.wheel needs "dx" or "dy": notches, not both 0')
    return {"dx": dx, "dy": dy}


def _text(message: dict) -> dict:
    text = message.get("text")
    if not isinstance(text, str) or not text:
        raise Refused('input.text needs "text": the characters to type')
    if len(text) > MAX_INPUT_TEXT_CHARS:
        raise Refused(f"input.text has at most {MAX_INPUT_TEXT_CHARS} characters; this one has {len(text)}")
    text = text.replace("\r\n", "\n")
    if _CONTROL.search(text):
        raise Refused("input.text cannot contain control characters (line breaks and tabs are fine); "
                      'send keys such as Escape as input.key')
    return {"text": text}


def _key(message: dict) -> dict:
    key, modifiers = message.get("key"), message.get("modifiers", [])
    if not isinstance(key, str) or not (key in set(Key) or (len(key) == 1 and key.isprintable())):
        raise Refused('input.key needs "key": a key name such as "Enter" or "ArrowLeft", or one character')
    if not isinstance(modifiers, list) or not set(modifiers) <= MODIFIERS:
        raise Refused(f'input.key "modifiers" is a list of {", ".join(sorted(MODIFIERS))}')
    if key == TAKE_BACK_KEY and TAKE_BACK_MODIFIERS <= set(modifiers):
        raise Refused(f"{TAKE_BACK_LABEL} is the customer's key to take back control; it is not sent")
    return {"key": key, "modifiers": sorted(set(modifiers))}


def _monitor(message: dict) -> dict:
    monitor = message.get("monitor")
    if monitor is None:
        return {"monitor": None}
    return {"monitor": _int(message, "monitor", "input.monitor", 0, MAX_MONITORS - 1)}


_UNSET = object()


def _int(message: dict, name: str, what: str, low: int, high: int, default: object = _UNSET) -> int:
    value = message.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise Refused(f'{what} needs "{name}": a whole number from {low} to {high}')
    return value


def _bool(message: dict, name: str, what: str, default: object = _UNSET) -> bool:
    value = message.get(name, default)
    if not isinstance(value, bool):
        raise Refused(f'{what} needs "{name}": true or false')
    return value


#: The checks of the messages with fields (besides chat and consent): each returns the fields passed on.
_CHECKS = {
    Message.CONTROL_UNAVAILABLE: _detail, Message.INPUT_ERROR: _detail,
    Message.INPUT_MOVE: _point, Message.INPUT_BUTTON: _button, Message.INPUT_WHEEL: _wheel,
    Message.INPUT_TEXT: _text, Message.INPUT_KEY: _key, Message.INPUT_MONITOR: _monitor,
}


def check_frame(frame: bytes, limits: Limits) -> bool:
    """True for a whole frame, False for a region frame; ``Refused`` unless a sane one within the size limit."""
    if len(frame) > limits.frame_bytes:
        raise Refused(
            f"this frame has {len(frame)} bytes; frames are limited to {limits.frame_bytes} bytes: "
            "send a smaller or more compressed JPEG"
        )
    if frame.startswith(JPEG_START):
        return True
    if frame.startswith(REGION_MAGIC):
        try:
            parse_region(frame)
        except ValueError as error:
            raise Refused(str(error)) from None
        return False
    raise Refused(f"a frame must be one JPEG image (its bytes start with FF D8) or a region frame "
                  f"(a {REGION_MAGIC.decode()} header, then one JPEG)")


def encode(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))
