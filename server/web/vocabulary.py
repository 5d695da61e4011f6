"""The shared vocabulary as the dashboard's JavaScript reads it: rendered into every page.

``base.html`` puts it, as JSON, in ``<meta name="sosqueue-vocabulary" content="…">`` beside the
CSRF token's meta tag: data, never run, so the Content-Security-Policy (scripts only from
/static) has nothing to allow, and the page keeps exactly one script element. ``app.js`` and
``session.js`` parse it at start; the names come from ``sosqueue``, so the scripts hold no
copies of event types, statuses, message types, close codes or the region frame's header.
"""

import json

from sosqueue.connect import REGION_FIELDS, REGION_HEADER_BYTES, REGION_MAGIC, CloseCode, Message, StopReason
from sosqueue.events import QUEUE_EVENTS, EventType
from sosqueue.statuses import Status

NAME = "sosqueue-vocabulary"


def vocabulary() -> dict:
    """Event types (and those the queue refreshes on), statuses, Connect's message types, close codes, stop reasons
    and the region frame's header (its magic, its length, and its 16-bit big-endian fields in order)."""
    return {
        "event": {event.name: event.value for event in EventType},
        "queueEvents": [event.value for event in QUEUE_EVENTS],
        "status": {status.name: status.value for status in Status},
        "message": {message.name: message.value for message in Message},
        "close": {code.name: code.value for code in CloseCode},
        "stopReason": {reason.name: reason.value for reason in StopReason},
        "regionFrame": {"magic": REGION_MAGIC.decode("ascii"), "headerBytes": REGION_HEADER_BYTES,
                        "fields": list(REGION_FIELDS)},
    }


def vocabulary_json() -> str:
    """The vocabulary as JSON text (autoescaping makes it a safe attribute value)."""
    return json.dumps(vocabulary(), sort_keys=True, separators=(",", ":"))
