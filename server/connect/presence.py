"""Who is recorded as joined to a request's session: kept in step with its sockets, and cleared on start-up.

``PresenceRecorder`` writes a room's joins and leaves; a write that fails is tried again until it
succeeds or the request ends, so a lost leave cannot keep a request ``in_progress``.
``clear_left_behind`` records, when the server starts, that nobody is joined any more: a killed
process closed no socket and recorded no leave.
"""

import asyncio
import logging
from collections.abc import Callable
from itertools import groupby

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from server import queue
from server.actors import SYSTEM, Actor
from server.db import Database
from sosqueue.statuses import Status
from server.models import Participant, ServiceRequest, utcnow

log = logging.getLogger("sosqueue.connect")

RETRY_SECONDS = (0.5, 1, 2, 4, 8, 15, 30)


class PresenceRecorder:
    """Keeps the request's recorded participants in step with its open sockets, one write at a time.

    Sockets come and go faster than the database writes: two tabs of one expert, a customer
    reconnecting. Each party counts its sockets; a single task writes joins and leaves until the
    record matches the count, so a late leave can never overwrite an earlier join.
    """

    def __init__(self, db: Database, request_id: int, on_final: Callable[[Status], None]):
        self._db = db
        self._request_id = request_id
        self._on_final = on_final
        self._sockets: dict[str, int] = {}
        self._actors: dict[str, Actor] = {}
        self._recorded: set[str] = set()
        self._task: asyncio.Task | None = None
        self._finished = asyncio.Event()

    def want(self, party: str, actor: Actor) -> None:
        self._sockets[party] = self._sockets.get(party, 0) + 1
        self._actors[party] = actor

    def release(self, party: str) -> None:
        left = self._sockets[party] - 1
        if left:
            self._sockets[party] = left
        else:
            del self._sockets[party]

    def finish(self) -> None:
        """The request was closed or expired, which removed its participants: nothing is left to write."""
        self._finished.set()

    async def settle(self) -> None:
        """Return once the database records who is here now (or the request ended)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._catch_up())
        await asyncio.shield(self._task)

    def _next_change(self) -> tuple[str, bool] | None:
        for party in self._sockets:
            if party not in self._recorded:
                return party, True
        for party in self._recorded:
            if party not in self._sockets:
                return party, False
        return None

    async def _catch_up(self) -> None:
        failures = 0
        while not self._finished.is_set() and (change := self._next_change()) is not None:
            party, joining = change
            try:
                status = await run_in_threadpool(self._write, party, joining, self._actors[party])
            except Exception:
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                log.exception("could not record %s %s request %s; trying again in %s s",
                              party, "joining" if joining else "leaving", self._request_id, delay)
                failures += 1
                await self._pause(delay)
                continue
            failures = 0
            if joining:
                self._recorded.add(party)
            else:
                self._recorded.discard(party)
            if not status.is_open:
                self._on_final(status)

    async def _pause(self, seconds: float) -> None:
        """Wait before the next attempt; the request ending cuts the wait short."""
        try:
            await asyncio.wait_for(self._finished.wait(), seconds)
        except TimeoutError:
            pass

    def _write(self, party: str, joining: bool, actor: Actor) -> Status:
        with self._db.write() as session:
            request = session.get(ServiceRequest, self._request_id, with_for_update=True)
            status = queue.effective_status(request, utcnow())
            if status.is_open:
                change = queue.join if joining else queue.leave
                change(session, request=request, party=party, actor=actor)
            return status


def clear_left_behind(db: Database) -> int:
    """Record every party still joined to an open request as left, by the system; returns how many.

    Call it when the server starts, before it takes sockets. Only with SQLite, where one server
    process holds every session: whoever is recorded as joined now was left behind by the last
    process (killed, or stopped before its leaves were written). Parties that joined through the
    REST ``/join`` are cleared too; the agent joins again when its event stream reconnects.
    With PostgreSQL other processes may hold live sessions, so nothing is cleared there.
    """
    if db.is_postgres:
        return 0
    now, cleared = utcnow(), 0
    with db.write() as session:
        rows = session.execute(
            select(Participant.request_id, Participant.party).order_by(Participant.request_id, Participant.party)
        ).all()
        for request_id, parties in groupby(rows, key=lambda row: row.request_id):
            request = session.get(ServiceRequest, request_id, with_for_update=True)
            if not queue.effective_status(request, now).is_open:
                continue  # past its deadline: the sweep expires it, which removes its participants
            for row in parties:
                queue.leave(session, request=request, party=row.party, actor=SYSTEM)
                cleared += 1
    return cleared
