"""A session's state, as TeamViewer names it, from the request's status: the one place that maps them."""

from enum import StrEnum

from sosqueue.statuses import FINAL_STATUSES, OPEN_STATUSES, Status


class State(StrEnum):
    OPEN = "Open"
    CLOSED = "Closed"


#: The statuses behind each state: new, pending and in_progress are Open; closed and expired are Closed.
STATUSES = {State.OPEN: OPEN_STATUSES, State.CLOSED: FINAL_STATUSES}


def state_of(status: Status) -> State:
    return State.OPEN if status in STATUSES[State.OPEN] else State.CLOSED


def statuses_of(states: set[State]) -> set[Status]:
    """The statuses of ``states`` together."""
    return {status for state in states for status in STATUSES[state]}
