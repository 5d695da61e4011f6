"""The service request's status machine: the transitions between the statuses of
:mod:`sosqueue.statuses`.

``new`` until someone starts the session, ``pending`` while one partner has joined (or
after partners left a started session), ``in_progress`` while the customer and an expert
are both joined, ``closed`` when an expert or the creator closes it, ``expired`` when it
was not closed within the expiry window. ``closed`` and ``expired`` are final.
"""

from dataclasses import dataclass, field

from sosqueue.statuses import FINAL_STATUSES, Status

CUSTOMER = "customer"


class IllegalTransition(Exception):
    """A change that the status machine does not allow (a closed request cannot be joined)."""

    def __init__(self, status: Status, action: str):
        super().__init__(f"this request is {status.value}; it cannot be {action}")
        self.status = status
        self.action = action


@dataclass(frozen=True)
class Presence:
    """Who is in the request's session right now, and whether it was ever started."""

    parties: frozenset[str] = field(default_factory=frozenset)
    started: bool = False

    @property
    def customer_joined(self) -> bool:
        return CUSTOMER in self.parties

    @property
    def experts_joined(self) -> int:
        return len(self.parties - {CUSTOMER})


def status_for(presence: Presence) -> Status:
    """The open status that a session with this presence has."""
    if presence.customer_joined and presence.experts_joined:
        return Status.IN_PROGRESS
    if presence.parties or presence.started:
        return Status.PENDING
    return Status.NEW


def join(status: Status, presence: Presence, party: str) -> Presence:
    """Presence after ``party`` (``customer`` or ``user:<id>``) joins."""
    require_open(status, "joined")
    return Presence(parties=presence.parties | {party}, started=True)


def leave(status: Status, presence: Presence, party: str) -> Presence:
    """Presence after ``party`` leaves; leaving twice is harmless."""
    require_open(status, "left")
    return Presence(parties=presence.parties - {party}, started=presence.started)


def close(status: Status) -> Status:
    require_open(status, "closed")
    return Status.CLOSED


def expire(status: Status) -> Status:
    require_open(status, "expired")
    return Status.EXPIRED


def require_open(status: Status, action: str) -> None:
    """Raise ``IllegalTransition`` unless a request in ``status`` may still be ``action``."""
    if status in FINAL_STATUSES:
        raise IllegalTransition(status, action)
