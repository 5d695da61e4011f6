"""The shared vocabulary as the dashboard's JavaScript reads it: rendered into every page.

``base.html`` puts it, as JSON, in ``<meta name="sosqueue-vocabulary" content="…">`` beside the
CSRF token's meta tag: data, never run, so the Content-Security-Policy (scripts only from
/static) has nothing to allow, and the page keeps exactly one script element. ``app.js`` and
``session.js`` parse it at start; the names come from ``sosqueue``, so the scripts hold no
copies of event types, statuses, message types, close codes, the region frame's header or remote
control's names (keys, modifiers, buttons, scopes, the customer's take-back combination and the
input limits).
"""

import json

from sosqueue.connect import (
    MAX_INPUT_TEXT_CHARS,
    MAX_MONITORS,
    MAX_WHEEL_NOTCHES,
    REGION_FIELDS,
    REGION_HEADER_BYTES,
    REGION_MAGIC,
    TAKE_BACK_KEY,
    TAKE_BACK_LABEL,
    TAKE_BACK_MODIFIERS,
    Button,
    CloseCode,
    Key,
    Message,
    Modifier,
    Scope,
    StopReason,
)
from sosqueue.events import QUEUE_EVENTS, STREAM_SUBSCRIBED, EventType
from sosqueue.statuses import Status

NAME = "sosqueue-vocabulary"


def vocabulary() -> dict:
    """Event types (and those the queue refreshes on), statuses, Connect's message types, close codes, stop reasons,
    the region frame's header (its magic, its length, and its 16-bit big-endian fields in order), and remote
    control's keys, modifiers, buttons, consent scopes, the take-back combination and the input limits."""
    return {
        "event": {event.name: event.value for event in EventType},
        "queueEvents": [event.value for event in QUEUE_EVENTS],
        "streamSubscribed": STREAM_SUBSCRIBED,
        "status": {status.name: status.value for status in Status},
        "message": {message.name: message.value for message in Message},
        "close": {code.name: code.value for code in CloseCode},
        "stopReason": {reason.name: reason.value for reason in StopReason},
        "regionFrame": {"magic": REGION_MAGIC.decode("ascii"), "headerBytes": REGION_HEADER_BYTES,
                        "fields": list(REGION_FIELDS)},
        "key": {key.name: key.value for key in Key},
        "modifier": {modifier.name: modifier.value for modifier in Modifier},
        "button": {button.name: button.value for button in Button},
        "scope": {scope.name: scope.value for scope in Scope},
        "takeBack": {"modifiers": sorted(modifier.value for modifier in TAKE_BACK_MODIFIERS),
                     "key": TAKE_BACK_KEY.value, "label": TAKE_BACK_LABEL},
        "inputLimits": {"wheelNotches": MAX_WHEEL_NOTCHES, "textChars": MAX_INPUT_TEXT_CHARS,
                        "monitors": MAX_MONITORS},
    }


def vocabulary_json() -> str:
    """The vocabulary as JSON text (autoescaping makes it a safe attribute value)."""
    return json.dumps(vocabulary(), sort_keys=True, separators=(",", ":"))
