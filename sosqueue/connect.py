"""Connect's wire vocabulary: message types, consent scopes and WebSocket close codes.

The protocol itself (who sends what, and the server's checks) is described in
``server/connect/protocol.py``; the agent, the server and the session view's JavaScript
(through the page's rendered constants) all take the names from here.
"""

import re
import secrets
import struct
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Message(StrEnum):
    """The ``type`` of a JSON message on a Connect socket."""

    HELLO = "hello"
    #: Expert → server, the first message of an expert's socket and only then: the login's CSRF token.
    AUTH = "auth"
    EXPERT_JOINED = "expert_joined"
    EXPERT_LEFT = "expert_left"
    CUSTOMER_JOINED = "customer_joined"
    CUSTOMER_LEFT = "customer_left"
    VIEW_REQUEST = "view_request"
    VIEW_STOP = "view_stop"
    VIEW_STOPPED = "view_stopped"
    CONSENT = "consent"
    ACK = "ack"
    CHAT = "chat"
    END = "end"
    SESSION_ENDED = "session_ended"
    ERROR = "error"
    #: Server → customer: an expert missed part of the screen; send the whole screen next.
    REFRESH = "refresh"
    #: Expert → server → customer: may I use the mouse and keyboard? (answered with a consent).
    CONTROL_REQUEST = "control_request"
    #: Customer → server: take control back; expert → server: give it back; server → customer: control ends.
    CONTROL_STOP = "control_stop"
    #: Server → experts: control ended (``reason``: a :class:`StopReason`).
    CONTROL_STOPPED = "control_stopped"
    #: Customer → server → experts: this computer cannot be controlled (``detail`` says why).
    CONTROL_UNAVAILABLE = "control_unavailable"
    #: Customer → server → experts: one input could not be carried out (``detail`` says why).
    INPUT_ERROR = "input_error"
    #: The input messages (expert → server → customer, only under a control consent).
    INPUT_MOVE = "input.move"
    INPUT_BUTTON = "input.button"
    INPUT_WHEEL = "input.wheel"
    INPUT_TEXT = "input.text"
    INPUT_KEY = "input.key"
    INPUT_SECURE_ATTENTION = "input.secure_attention"
    INPUT_MONITOR = "input.monitor"


#: The prefix of remote-control input messages (``input.move`` …).
INPUT_PREFIX = "input."
#: The input messages, relayed only from the expert the customer gave control to.
INPUT_MESSAGES = frozenset(message for message in Message if message.startswith(INPUT_PREFIX))
#: Message types that each side may send; anything else is refused.
CUSTOMER_SENDS = frozenset({Message.CONSENT, Message.VIEW_STOP, Message.CHAT, Message.END, Message.CONTROL_STOP,
                            Message.CONTROL_UNAVAILABLE, Message.INPUT_ERROR})
EXPERT_SENDS = frozenset({Message.VIEW_REQUEST, Message.ACK, Message.CHAT, Message.END, Message.CONTROL_REQUEST,
                          Message.CONTROL_STOP}) | INPUT_MESSAGES


class Scope(StrEnum):
    """What a customer's consent allows."""

    VIEW = "view"
    CONTROL = "control"


#: The scopes of a consent to viewing, and of a consent to control (which needs the screen shared).
VIEW_SCOPES = frozenset({Scope.VIEW})
CONTROL_SCOPES = frozenset({Scope.VIEW, Scope.CONTROL})


class CloseCode(IntEnum):
    """Why the server closed a Connect socket."""

    NOT_SIGNED_IN = 4401
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    NOT_OPEN = 4409
    REPLACED = 4000
    ALREADY_CONNECTED = 4001
    TOO_SLOW = 1013


#: The close reason sent with each code.
CLOSE_REASONS = {
    CloseCode.NOT_SIGNED_IN: "not signed in: sign in to the dashboard, or send the request's customer token",
    CloseCode.FORBIDDEN: "forbidden: this login or token cannot open this session",
    CloseCode.NOT_FOUND: "no service request with this code",
    CloseCode.NOT_OPEN: "this service request is closed or expired",
    CloseCode.REPLACED: "a newer connection of this customer took over",
    CloseCode.ALREADY_CONNECTED: "the customer is connected already, from another agent; try again once it has left",
    CloseCode.TOO_SLOW: "this connection fell too far behind the session; reconnect",
}
#: Closes after which a client must not reconnect (every other close is worth a retry).
FINAL_CLOSES = frozenset({CloseCode.NOT_SIGNED_IN, CloseCode.FORBIDDEN, CloseCode.NOT_FOUND, CloseCode.NOT_OPEN,
                          CloseCode.REPLACED})

#: The customer socket's handshake header with the agent's instance: a random id the agent makes once per
#: session and sends on every connection. Only a socket with the same instance as the customer's open one
#: takes its place (the agent reconnecting after a drop the server has not noticed yet); any other is closed
#: with :attr:`CloseCode.ALREADY_CONNECTED`, so the token alone cannot push the real customer out.
INSTANCE_HEADER = "Sosqueue-Agent-Instance"
_INSTANCE = re.compile(r"[A-Za-z0-9_-]{16,128}")


def new_instance() -> str:
    """A fresh agent instance id (unguessable: 192 random bits)."""
    return secrets.token_urlsafe(24)


def is_instance(value: str) -> bool:
    """Whether ``value`` has the shape of an instance id (16 to 128 URL-safe characters)."""
    return _INSTANCE.fullmatch(value) is not None


#: A whole screen frame is one JPEG image; its bytes start so (a region frame: see REGION_MAGIC).
JPEG_START = b"\xff\xd8"


class StopReason(StrEnum):
    """Why viewing stopped (the ``reason`` of ``view_stop`` and ``view_stopped``)."""

    EXPERT_ENDED = "expert_ended"
    EXPERTS_LEFT = "experts_left"
    WITHDRAWN = "withdrawn"
    CUSTOMER_STOPPED = "customer_stopped"
    CUSTOMER_LEFT = "customer_left"
    #: Control only: the expert in control gave it back.
    EXPERT_STOPPED = "expert_stopped"
    #: Control only: the customer's computer can no longer be controlled (the screen locked, say).
    UNAVAILABLE = "unavailable"


class Key(StrEnum):
    """A named key of remote control, spelled as the browser's ``KeyboardEvent.key`` spells it.

    Printable characters are not keys here: they travel as text (or, in a shortcut, as the
    one character itself, ``"c"`` for Ctrl+C).
    """

    ENTER = "Enter"
    TAB = "Tab"
    ESCAPE = "Escape"
    BACKSPACE = "Backspace"
    DELETE = "Delete"
    INSERT = "Insert"
    HOME = "Home"
    END = "End"
    PAGE_UP = "PageUp"
    PAGE_DOWN = "PageDown"
    ARROW_LEFT = "ArrowLeft"
    ARROW_RIGHT = "ArrowRight"
    ARROW_UP = "ArrowUp"
    ARROW_DOWN = "ArrowDown"
    F1 = "F1"
    F2 = "F2"
    F3 = "F3"
    F4 = "F4"
    F5 = "F5"
    F6 = "F6"
    F7 = "F7"
    F8 = "F8"
    F9 = "F9"
    F10 = "F10"
    F11 = "F11"
    F12 = "F12"
    CONTROL = "Control"
    SHIFT = "Shift"
    ALT = "Alt"
    META = "Meta"
    CAPS_LOCK = "CapsLock"
    CONTEXT_MENU = "ContextMenu"
    SPACE = " "  # the DOM's key value for the space bar is the character itself


class Modifier(StrEnum):
    """A key held down while another is pressed (Ctrl+C); the values are the :class:`Key` names."""

    CONTROL = "Control"
    SHIFT = "Shift"
    ALT = "Alt"
    META = "Meta"


MODIFIERS = frozenset(Modifier)


#: The customer's key combination that takes control back at once, wherever the focus is
#: (the agent listens for it while an expert is in control, and never sends it itself).
TAKE_BACK_MODIFIERS = frozenset({Modifier.CONTROL, Modifier.ALT})
TAKE_BACK_KEY = Key.SPACE
TAKE_BACK_LABEL = "Ctrl+Alt+Space"


class Button(StrEnum):
    """A mouse button of remote control."""

    LEFT = "left"
    MIDDLE = "middle"
    RIGHT = "right"


#: Limits of input messages: a wheel turn's notches, a text's characters, a monitor list's length.
MAX_WHEEL_NOTCHES = 20
MAX_INPUT_TEXT_CHARS = 200
MAX_MONITORS = 16


#: A region frame: only a part of the screen. Its bytes are :data:`REGION_MAGIC`, then six
#: big-endian unsigned 16-bit numbers (:data:`REGION_FIELDS`: the region's x, y, width and height
#: in the whole frame's pixels, and the whole frame's width and height), then one JPEG of the
#: region (width × height pixels). A viewer draws it over the last whole frame of that size.
REGION_MAGIC = b"SQR1"
REGION_FIELDS = ("x", "y", "width", "height", "frameWidth", "frameHeight")
_REGION_HEADER = struct.Struct(">4s6H")
#: The bytes before a region frame's JPEG.
REGION_HEADER_BYTES = _REGION_HEADER.size
_MAX_SIDE = 0xFFFF


@dataclass(frozen=True)
class Region:
    """Where a region frame goes: x, y, width, height within a frame of frame_width × frame_height."""

    x: int
    y: int
    width: int
    height: int
    frame_width: int
    frame_height: int


def pack_region(region: Region, jpeg: bytes) -> bytes:
    """The region frame of ``jpeg`` (a picture of the region); ValueError when the region is not inside the frame."""
    _check_region(region)
    return _REGION_HEADER.pack(REGION_MAGIC, region.x, region.y, region.width, region.height,
                               region.frame_width, region.frame_height) + jpeg


def parse_region(frame: bytes) -> tuple[Region, bytes]:
    """The region and the JPEG bytes of a region frame; ValueError (one line, why) when it is not a sane one."""
    if not frame.startswith(REGION_MAGIC):
        raise ValueError(f"a region frame starts with {REGION_MAGIC.decode()}")
    if len(frame) < REGION_HEADER_BYTES + len(JPEG_START):
        raise ValueError(f"this region frame is cut short: {len(frame)} bytes, its header alone has "
                         f"{REGION_HEADER_BYTES}")
    _magic, *numbers = _REGION_HEADER.unpack_from(frame)
    region = Region(*numbers)
    _check_region(region)
    jpeg = frame[REGION_HEADER_BYTES:]
    if not jpeg.startswith(JPEG_START):
        raise ValueError(f"a region frame's header is followed by one JPEG image (FF D8 at byte {REGION_HEADER_BYTES})")
    return region, jpeg


def _check_region(region: Region) -> None:
    numbers = (region.x, region.y, region.width, region.height, region.frame_width, region.frame_height)
    if not all(isinstance(number, int) and 0 <= number <= _MAX_SIDE for number in numbers):
        raise ValueError(f"a region's numbers are whole numbers from 0 to {_MAX_SIDE}")
    if region.width < 1 or region.height < 1 or region.frame_width < 1 or region.frame_height < 1:
        raise ValueError("a region and its frame are at least 1×1 pixel")
    if region.x + region.width > region.frame_width or region.y + region.height > region.frame_height:
        raise ValueError(f"the region {region.width}×{region.height} at {region.x},{region.y} is not inside the "
                         f"{region.frame_width}×{region.frame_height} frame")
