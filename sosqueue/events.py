"""The types of events in a service request's history (the API's events, the live streams,
webhooks and the dashboard's history all use these names)."""

from enum import StrEnum


class EventType(StrEnum):
    CREATED = "created"
    ASSIGNED = "assigned"
    CLAIMED = "claimed"
    JOINED = "joined"
    LEFT = "left"
    STATUS_CHANGED = "status_changed"
    CLOSED = "closed"
    EXPIRED = "expired"
    SCREEN_SHARED = "screen_shared"
    SCREEN_DENIED = "screen_denied"
    SCREEN_STOPPED = "screen_stopped"
    CONTROL_GRANTED = "control_granted"
    CONTROL_DENIED = "control_denied"
    #: Control ended: ``by`` the customer (taken back), the expert (given back) or the system.
    CONTROL_STOPPED = "control_stopped"
    #: The customer added to the request's description (a second SOS while it is open): ``{text}``.
    NOTE_ADDED = "note_added"
    #: The request lapsed at its group's threshold (``server/routing.py``): ``{reason, minutes}``, with
    #: ``reason`` ``unassigned`` or ``not_joined``, and ``lapsed_by`` (a user id) when an assignee let it lapse.
    ESCALATED = "escalated"
    #: The request's own texts or its group changed through the API: ``{fields}`` names the columns
    #: changed (not their values: ``custom_api`` is an integration's own), ``group`` the new group's id.
    UPDATED = "updated"


#: The dashboard's live feed says this first, once the server passes on every change to the page:
#: only then is the page live (the stream's opening alone comes before that).
STREAM_SUBSCRIBED = "subscribed"

#: The most a note (``NOTE_ADDED``'s text) may hold, after trimming.
MAX_NOTE_CHARS = 2000
#: The most notes one request takes: enough for any customer, and a runaway script cannot fill the history.
MAX_NOTES_PER_REQUEST = 20

#: Events that end a request: nothing follows them.
ENDING_EVENTS = frozenset({EventType.CLOSED, EventType.EXPIRED})
#: Events that change what the queue's list shows (the dashboard refreshes its rows on these).
QUEUE_EVENTS = (EventType.CREATED, EventType.ASSIGNED, EventType.CLAIMED, EventType.JOINED, EventType.LEFT,
                EventType.STATUS_CHANGED, EventType.CLOSED, EventType.EXPIRED, EventType.ESCALATED, EventType.UPDATED)
