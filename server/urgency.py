"""How long an open request has waited for a supporter, and how urgent that makes it on the queue page.

A request waits for a supporter until one joins it: since its assignee last changed (to somebody, or
back to nobody), or since it was filed when that never happened. Its group's alert thresholds (``Group.unassigned_alert_minutes`` and
``Group.unjoined_alert_minutes``, the ones that alert in ``server/routing.py``) colour the wait: amber
from half the threshold on (time to take it), red from the threshold on (the group has been alerted).
A group without a threshold, or a request of no group, never turns.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import case, func

from server.models import ServiceRequest


class Urgency(StrEnum):
    CALM = "calm"
    AMBER = "amber"
    RED = "red"


#: The share of its group's threshold a request has waited when it turns amber; red at the whole threshold.
AMBER_SHARE = 0.5

#: The start of the current wait of a request no supporter has joined, in SQL (:func:`wait_start` in Python).
WAIT_START_SQL = func.coalesce(ServiceRequest.assigned_at, ServiceRequest.created_at)
#: The queue page's order: the start of the current wait, for a joined request its filing time.
WAITING_SINCE_SQL = case((ServiceRequest.first_joined_at.is_(None), WAIT_START_SQL), else_=ServiceRequest.created_at)


def wait_start(request: ServiceRequest) -> datetime:
    """When the current wait of ``request`` (no supporter joined yet) began."""
    return request.assigned_at or request.created_at


@dataclass(frozen=True)
class Wait:
    """A request's wait for a supporter: since when (None once one joined), and when it turns amber and red."""

    since: datetime | None
    amber_at: datetime | None = None
    red_at: datetime | None = None

    def steps(self) -> list[tuple[datetime, Urgency]]:
        """From when on each urgency holds, in order; none for a request that waits no more."""
        if self.since is None:
            return []
        turns = [(self.amber_at, Urgency.AMBER), (self.red_at, Urgency.RED)] if self.red_at else []
        return [(self.since, Urgency.CALM), *turns]

    def urgency(self, now: datetime) -> Urgency:
        reached = [urgency for at, urgency in self.steps() if at <= now]
        return reached[-1] if reached else Urgency.CALM


def wait_of(request: ServiceRequest) -> Wait:
    """The request's current wait; its group must be loaded."""
    if request.first_joined_at is not None:
        return Wait(since=None)
    group = request.group
    since = wait_start(request)
    if group is None:
        minutes = None
    else:
        minutes = group.unassigned_alert_minutes if request.assignee_id is None else group.unjoined_alert_minutes
    if minutes is None:
        return Wait(since=since)
    threshold = timedelta(minutes=minutes)
    return Wait(since=since, amber_at=since + threshold * AMBER_SHARE, red_at=since + threshold)
