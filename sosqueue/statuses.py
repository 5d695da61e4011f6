"""A service request's statuses, as the service queue defines them.

``new`` until someone starts the session, ``pending`` while one partner has joined (or after
partners left a started session), ``in_progress`` while the customer and an expert are both
joined, ``closed`` when an expert or the creator closes it, ``expired`` when it was not closed
within the expiry window. ``closed`` and ``expired`` are final. The transitions live with the
server (``server/lifecycle.py``), which alone changes a status.
"""

from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


OPEN_STATUSES = frozenset({Status.NEW, Status.PENDING, Status.IN_PROGRESS})
FINAL_STATUSES = frozenset({Status.CLOSED, Status.EXPIRED})


class Progress(StrEnum):
    """What the customer sees while the request is on its way, before the queue gives it a status."""

    SENDING = "sending"
    OFFLINE = "offline"  # the queue cannot be reached; the request waits in the outbox
