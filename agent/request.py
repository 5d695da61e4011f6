"""The customer's request without any window: its states, how they change, and the work behind them.

:class:`State` is where the agent is with the customer's one request; :data:`TRANSITIONS` is the
only place that says which :class:`Event` moves it where. :class:`Progress` names what the agent
shows before the queue has given the request a :class:`~sosqueue.statuses.Status`.
"""

from enum import StrEnum

from sosqueue.statuses import Status


class State(StrEnum):
    """Where the agent is with the customer's request."""

    STARTING = "starting"  # asking the queue whether the remembered request is still open
    IDLE = "idle"  # no request: the form
    FILING = "filing"  # saved in the outbox, on its way to the queue
    JOINING = "joining"  # claiming a request by the code a supporter gave
    OPEN = "open"  # the queue has it: code, status, session
    FINAL = "final"  # closed or expired, still on screen
    QUITTING = "quitting"


class Progress(StrEnum):
    """What the customer sees while the request is on its way, before the queue gives it a status."""

    SENDING = "sending"
    OFFLINE = "offline"  # the queue cannot be reached; the request waits in the outbox


#: What the window shows as the request's status: the queue's, or the agent's own while sending.
Shown = Status | Progress
