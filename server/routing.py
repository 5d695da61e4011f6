"""Routing: a group's requests that wait too long alert, and may move on to the next supporter.

A group's ``unassigned_alert_minutes`` is how long one of its open requests may wait unassigned
and ``unjoined_alert_minutes`` how long it may wait assigned with no supporter joined, each since its
current wait began (``server.urgency.wait_start``: when its assignee last changed, else when it was filed). ``None`` means never. A request past either
lapses: the sweep records an ``escalated`` event (which alerts by email and webhook) and, if the
group says ``reassign_on_lapse``, gives it to the group's next available supporter, never back to
one who let it lapse; with nobody left it stays unassigned for the group.

Each lapse alerts once. ``escalated_at`` marks it, and only a change of assignee
(``queue.assign``) clears it: a request that lapsed unassigned and stays unassigned is not alerted
again on every sweep. Its next alert needs a new wait, which only an assignment starts.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select, text
from sqlalchemy.orm import Session

from server import queue
from server.actors import SYSTEM
from server.assignment import next_in_group
from server.urgency import WAIT_START_SQL
from server.models import OPEN_STATUS_SQL, Group, ServiceRequest
from sosqueue.events import EventType

UNASSIGNED = "unassigned"
NOT_JOINED = "not_joined"
BATCH = 500


@dataclass(frozen=True)
class Lapse:
    reason: str  # UNASSIGNED or NOT_JOINED
    minutes: int


def escalate_due(session: Session, *, now: datetime, batch: int = BATCH) -> int:
    """Escalate up to ``batch`` lapsed requests of every group; returns how many.

    Rows another server process is escalating are skipped (``SKIP LOCKED``), and an escalated
    request no longer matches, so concurrent and repeated sweeps escalate each lapse once.
    """
    escalated = 0
    for group in session.scalars(select(Group).where(or_(
        Group.unassigned_alert_minutes.is_not(None), Group.unjoined_alert_minutes.is_not(None)
    )).order_by(Group.id)):
        for lapse, due in _lapses(group, now):
            requests = session.scalars(
                due.order_by(ServiceRequest.id).limit(batch - escalated)
                .with_for_update(skip_locked=True, of=ServiceRequest)
            ).all()
            for request in requests:
                escalate(session, request=request, group=group, lapse=lapse, now=now)
            escalated += len(requests)
            if escalated >= batch:
                return escalated
    return escalated


def _lapses(group: Group, now: datetime) -> list[tuple[Lapse, Select]]:
    """The group's thresholds, each with the query of its requests past it."""
    waiting = select(ServiceRequest).where(
        text(OPEN_STATUS_SQL),
        ServiceRequest.company_id == group.company_id,
        ServiceRequest.group_id == group.id,
        ServiceRequest.valid_until > now,
        ServiceRequest.escalated_at.is_(None),
    )
    lapses = []
    if group.unassigned_alert_minutes is not None:
        cutoff = now - timedelta(minutes=group.unassigned_alert_minutes)
        lapses.append((Lapse(UNASSIGNED, group.unassigned_alert_minutes), waiting.where(
            ServiceRequest.assignee_id.is_(None),
            WAIT_START_SQL <= cutoff,
        )))
    if group.unjoined_alert_minutes is not None:
        cutoff = now - timedelta(minutes=group.unjoined_alert_minutes)
        lapses.append((Lapse(NOT_JOINED, group.unjoined_alert_minutes), waiting.where(
            ServiceRequest.assignee_id.is_not(None),
            ServiceRequest.first_joined_at.is_(None),
            WAIT_START_SQL <= cutoff,
        )))
    return lapses


def escalate(session: Session, *, request: ServiceRequest, group: Group, lapse: Lapse, now: datetime) -> None:
    """Record that ``request`` lapsed, and move it on if its group says so."""
    lapsed_by = request.assignee_id if lapse.reason == NOT_JOINED else None
    data = {"reason": lapse.reason, "minutes": lapse.minutes} | ({"lapsed_by": lapsed_by} if lapsed_by else {})
    queue.record_event(session, request, type=EventType.ESCALATED, actor=SYSTEM.key, data=data)
    request.escalated_at = now
    if not group.reassign_on_lapse:
        return
    if lapsed_by:
        request.lapsed_by = [*(request.lapsed_by or []), lapsed_by]  # a new list: JSON changes in place go unseen
    _reassign(session, request=request, group=group, now=now)


def _reassign(session: Session, *, request: ServiceRequest, group: Group, now: datetime) -> None:
    choice = next_in_group(session, group=group, excluding=set(request.lapsed_by or []), now=now)
    user_id = choice.user.id if choice.user else None
    if user_id is None and request.assignee_id is None:
        # Unassigned it stays: still an assignment event, so the history says why nobody got it.
        queue.record_event(session, request, type=EventType.ASSIGNED, actor=SYSTEM.key,
                           data={"assignee": None, "reason": choice.reason})
        return
    queue.assign(session, request=request, actor=SYSTEM, user_id=user_id, reason=choice.reason)
