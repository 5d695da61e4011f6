"""The customer's waiting room: where their open request stands in its group's queue.

The queue serves it to the request's customer (``GET /api/v1/service-requests/{code}/waiting-room``)
and the agent shows it in its window and tray while the request is open.

- ``position``: 1 for the next request to be taken. The group's queue is its open requests that
  nobody is assigned to and no supporter has joined, oldest first; ``None`` once the request is
  out of that queue (assigned, joined, over).
- ``expected_wait_seconds``: how much longer it will probably take until a supporter joins, from
  the group's recent history (:func:`expected_wait`); ``None`` when the history is too thin to say.
- ``assignee``: the display name of the supporter the request is assigned to, once there is one.
- ``message``: what the request's supporters (or their ticket system) tell the waiting customer, as
  plain text; "" for none. A queue older than this field sends none: the agent reads it as "".
"""

from dataclasses import dataclass

#: How far back, and how many of the group's latest first joins, the expected wait looks at.
HISTORY_DAYS = 14
HISTORY_SIZE = 50
#: Fewer first joins than this (of requests that had waited at least as long) and the room shows no expected wait.
MIN_HISTORY = 5
#: How long a server process reuses a group's history for the expected wait before reading it again.
HISTORY_CACHE_SECONDS = 30
#: The most a request's waiting message (what its supporters tell the waiting customer) may hold.
MAX_WAITING_MESSAGE_CHARS = 1000
#: How often the agent asks while its request waits (it also asks at once on each of the request's events).
POLL_SECONDS = 15


@dataclass(frozen=True)
class WaitingRoom:
    status: str
    position: int | None = None
    expected_wait_seconds: int | None = None
    assignee: str | None = None
    message: str = ""

    def to_json(self) -> dict:
        return {"status": self.status, "position": self.position,
                "expected_wait_seconds": self.expected_wait_seconds, "assignee": self.assignee,
                "message": self.message}

    @classmethod
    def from_json(cls, data: dict) -> "WaitingRoom":
        """:raises TypeError, ValueError: for anything but the queue's answer."""
        position, expected, assignee = data.get("position"), data.get("expected_wait_seconds"), data.get("assignee")
        if not isinstance(data.get("status"), str):
            raise TypeError("waiting room: status must be text")
        for name, value in (("position", position), ("expected_wait_seconds", expected)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ValueError(f"waiting room: {name} must be a whole number, 0 or more, or null")
        if assignee is not None and not isinstance(assignee, str):
            raise TypeError("waiting room: assignee must be text or null")
        message = data.get("message") or ""
        if not isinstance(message, str):
            raise TypeError("waiting room: message must be text")
        return cls(status=data["status"], position=position, expected_wait_seconds=expected, assignee=assignee,
                   message=message[:MAX_WAITING_MESSAGE_CHARS])


def expected_wait(first_join_seconds: list[float], waited_seconds: float) -> int | None:
    """How much longer a request that has waited ``waited_seconds`` will probably wait.

    ``first_join_seconds`` are the times to first join of the group's recent requests. Of those
    that had waited at least as long, the median time to first join, less what was waited already:
    the conditional median. ``None`` when fewer than :data:`MIN_HISTORY` such requests are known.
    """
    longer = [seconds for seconds in first_join_seconds if seconds >= waited_seconds]
    if len(longer) < MIN_HISTORY:
        return None
    import statistics  # here, not at the top: it pulls in fractions and decimal, which the idle agent never needs

    return max(0, round(statistics.median(longer) - waited_seconds))
