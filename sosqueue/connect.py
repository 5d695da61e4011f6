"""Connect's wire vocabulary: message types, consent scopes and WebSocket close codes.

The protocol itself (who sends what, and the server's checks) is described in
``server/connect/protocol.py``; the agent, the server and the session view's JavaScript
(through the page's rendered constants) all take the names from here.
"""

from enum import IntEnum, StrEnum


class Message(StrEnum):
    """The ``type`` of a JSON message on a Connect socket."""

    HELLO = "hello"
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


#: Message types that each side may send; anything else is refused.
CUSTOMER_SENDS = frozenset({Message.CONSENT, Message.VIEW_STOP, Message.CHAT, Message.END})
EXPERT_SENDS = frozenset({Message.VIEW_REQUEST, Message.ACK, Message.CHAT, Message.END})
#: The prefix reserved for remote-control input messages (``input.mouse`` …).
INPUT_PREFIX = "input."


class Scope(StrEnum):
    """What a customer's consent allows."""

    VIEW = "view"


VIEW_SCOPES = frozenset({Scope.VIEW})


class CloseCode(IntEnum):
    """Why the server closed a Connect socket."""

    NOT_SIGNED_IN = 4401
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    NOT_OPEN = 4409
    REPLACED = 4000
    TOO_SLOW = 1013


#: The close reason sent with each code.
CLOSE_REASONS = {
    CloseCode.NOT_SIGNED_IN: "not signed in: sign in to the dashboard, or send the request's customer token",
    CloseCode.FORBIDDEN: "forbidden: this login or token cannot open this session",
    CloseCode.NOT_FOUND: "no service request with this code",
    CloseCode.NOT_OPEN: "this service request is closed or expired",
    CloseCode.REPLACED: "a newer connection of this customer took over",
    CloseCode.TOO_SLOW: "this connection fell too far behind the session; reconnect",
}
#: Closes after which a client must not reconnect (every other close is worth a retry).
FINAL_CLOSES = frozenset({CloseCode.NOT_SIGNED_IN, CloseCode.FORBIDDEN, CloseCode.NOT_FOUND, CloseCode.NOT_OPEN,
                          CloseCode.REPLACED})

#: Every screen frame is one JPEG image; its bytes start so.
JPEG_START = b"\xff\xd8"


class StopReason(StrEnum):
    """Why viewing stopped (the ``reason`` of ``view_stop`` and ``view_stopped``)."""

    EXPERT_ENDED = "expert_ended"
    EXPERTS_LEFT = "experts_left"
    WITHDRAWN = "withdrawn"
    CUSTOMER_STOPPED = "customer_stopped"
    CUSTOMER_LEFT = "customer_left"


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


class Button(StrEnum):
    """A mouse button of remote control."""

    LEFT = "left"
    MIDDLE = "middle"
    RIGHT = "right"
