"""The customer's waiting room (``sosqueue.waiting_room``): where an open request stands in its group's queue."""

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from server.models import OPEN_STATUS_SQL, ServiceRequest
from server.queue import effective_status, waiting_for_a_supporter
from sosqueue.waiting_room import (HISTORY_CACHE_SECONDS, HISTORY_DAYS, HISTORY_SIZE, MAX_WAITING_MESSAGE_CHARS,
                                   WaitingRoom, expected_wait)


class HistoryCache:
    """Each group's recent first joins, read at most every :data:`HISTORY_CACHE_SECONDS` per group and
    server process: every waiting customer of a group polls, and the history moves slowly."""

    MAX_GROUPS = 10_000

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, str | None], tuple[float, list[float]]] = {}

    def first_join_seconds(self, session: Session, request: ServiceRequest, now: datetime) -> list[float]:
        key, moment = (request.company_id, request.group_id), self._clock()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and moment - kept[0] < HISTORY_CACHE_SECONDS:
            return kept[1]
        samples = first_join_seconds(session, request, now)
        with self._lock:
            if len(self._kept) >= self.MAX_GROUPS:
                self._kept.clear()
            self._kept[key] = (moment, samples)
        return samples


def waiting_room(session: Session, request: ServiceRequest, now: datetime, *,
                 history: HistoryCache | None = None) -> WaitingRoom:
    """The request's status, place in its group's queue, expected wait, assignee and waiting message,
    as of ``now``; with ``history`` the group's first joins may be up to :data:`HISTORY_CACHE_SECONDS` old."""
    status = effective_status(request, now)
    position = None
    if status.is_open and request.assignee_id is None and request.first_joined_at is None:
        position = 1 + _waiting_before(session, request, now)
    expected = None
    if position is not None:
        waited = (now - request.created_at).total_seconds()
        samples = (history.first_join_seconds if history else first_join_seconds)(session, request, now)
        expected = expected_wait(samples, waited)
    return WaitingRoom(status=status.value, position=position, expected_wait_seconds=expected,
                       assignee=assignee_name(request), message=waiting_message(request))


def _same_queue(request: ServiceRequest):
    """The request's company and group; requests without a group form the company's ungrouped queue."""
    group = (ServiceRequest.group_id.is_(None) if request.group_id is None
             else ServiceRequest.group_id == request.group_id)
    return ServiceRequest.company_id == request.company_id, group


def _waiting_before(session: Session, request: ServiceRequest, now: datetime) -> int:
    """How many of the queue's waiting requests are older (smaller id) than ``request``."""
    # Only the WHERE clause picks the index: ix_requests_open_group_id's own clause, word for
    # word (SQLite uses a partial index only then, see queue.expire_due), and its columns. The
    # rest is a FILTER on the few rows found: in the WHERE clause, SQLite without statistics
    # (the server never runs ANALYZE) would walk ix_requests_group_first_joined instead, every
    # closed and expired request of the group that nobody joined.
    return session.scalar(
        select(func.count().filter(waiting_for_a_supporter(now)))
        .select_from(ServiceRequest)
        .where(text(OPEN_STATUS_SQL), *_same_queue(request), ServiceRequest.id < request.id)
    )


def first_join_seconds(session: Session, request: ServiceRequest, now: datetime) -> list[float]:
    """Times to first join of the queue's latest HISTORY_SIZE first joins within HISTORY_DAYS."""
    rows = session.execute(
        select(ServiceRequest.created_at, ServiceRequest.first_joined_at)
        .where(*_same_queue(request), ServiceRequest.first_joined_at >= now - timedelta(days=HISTORY_DAYS))
        .order_by(ServiceRequest.first_joined_at.desc())
        .limit(HISTORY_SIZE)
    )
    return [(joined - created).total_seconds() for created, joined in rows]


def assignee_name(request: ServiceRequest) -> str | None:
    """The assignee's display name; None without one, and for a user without a name: the
    customer must not see a supporter's email address in its place, and position None already
    tells the agent that someone has the request."""
    if request.assignee is None:
        return None
    return request.assignee.name.strip() or None


def waiting_message(request: ServiceRequest) -> str:
    """What the request's supporters tell the waiting customer; "" for none. A longer one than the agent
    takes (stored by other means than the API's checks) is cut."""
    return request.waiting_message[:MAX_WAITING_MESSAGE_CHARS]
