"""Live events: committed request events fan out to the event streams of this process.

With SQLite every writer is in this process, so commits publish directly. With PostgreSQL
several server processes share the database: commits send ``NOTIFY`` with the new event ids
and every process (the writer included) ``LISTEN``s, loads them once and fans them out.

Clients never see an event's number, only its public id (``server.event_ids``).
"""

import asyncio
import json
import logging
import sys
import threading
from collections import deque
from dataclasses import dataclass

from anyio.to_thread import current_default_thread_limiter
from sqlalchemy import event as sa_event, func, select, text
from sqlalchemy.orm import Session

from server.actors import actor_public
from server.db import Database
from server.event_ids import EventIds
from server.memory import release_freed_memory
from server.models import RequestEvent
from sosqueue import codes

log = logging.getLogger("sosqueue.events")

CHANNEL = "sosqueue_events"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; an expiry sweep commits 5000 events.
_NOTIFY_BYTES = 7500
_QUEUE_SIZE = 512
# Watchers handed an event before the fan-out lets the loop run something else (a request's
# answer, say): each one handed an event wakes its stream, which writes to its socket.
_FAN_OUT_SLICE = 128
# Between slices, while requests await their answer (``answers_pending``) or run in the thread
# pool, the fan-out waits for them (in steps, up to the limit): each stream it wakes writes to its
# socket, holding the loop and the GIL, which the request's callbacks on the loop and its work in
# other threads (the group commit's writer, at each of its database calls) then wait for.
_YIELD_STEP_S = 0.001
_YIELD_LIMIT_S = 0.01
# And while the fan-out runs, a thread waiting for the GIL asks for it after this long instead
# of Python's 5 ms: a creation takes it back a dozen times (each statement, the commit).
_FAN_OUT_SWITCH_INTERVAL_S = 0.0005
# Once this many watchers were connected and three quarters of them have left, the memory they
# used is given back (``server.memory``), a little after the last of the crowd left.
RELEASE_AFTER_WATCHERS = 1000
_RELEASE_DELAY_S = 1.0


@dataclass(frozen=True)
class WireEvent:
    """An event rendered once, however many watchers it goes to."""

    id: int  # the event's number: orders the stream on the server, never sent
    company_id: str
    request_id: int
    type: str
    data: str
    frame: bytes  # the whole SSE message, encoded once for every watcher


def latest_event(session: Session, company_id: str, request_id: int | None = None) -> int:
    """The number of the company's (or one request's) latest event; 0 before any."""
    scope = [RequestEvent.company_id == company_id]
    if request_id is not None:
        scope.append(RequestEvent.request_id == request_id)
    return session.scalar(select(func.max(RequestEvent.id)).where(*scope)) or 0


def render(event: RequestEvent, ids: EventIds) -> WireEvent:
    public_id = ids.public(event.company_id, event.id)
    body = {
        "id": public_id,
        "type": event.type,
        "code": codes.display(event.code),
        "status": event.status,
        "actor": actor_public(event.actor),
        "data": event.data or {},
        "created_at": event.created_at.isoformat(),
    }
    data = json.dumps(body)
    frame = f"id: {public_id}\nevent: {event.type}\ndata: {data}\n\n".encode()
    return WireEvent(event.id, event.company_id, event.request_id, event.type, data, frame)


#: Handed to a watcher that has had nothing for a keepalive period: its stream sends a comment.
KEEPALIVE = object()


class Subscription:
    """One watcher: the events handed to it that its stream has not taken yet.

    Small on purpose (slots, no queue object, no timer per wait): with ten thousand watchers,
    every object one holds is ten thousand objects to allocate, scan and give back. An idle
    stream waits on one future, which the fan-out resolves with the event itself. One reader
    per subscription.
    """

    __slots__ = ("company_id", "request_id", "overflowed", "_items", "_waiter", "_quiet", "_keepalive")

    def __init__(self, company_id: str, request_id: int | None = None):
        self.company_id = company_id
        self.request_id = request_id
        self.overflowed = False
        self._items: list | None = None  # handed while the stream was busy, oldest first
        self._waiter: asyncio.Future | None = None
        self._quiet = False  # nothing handed since the last keepalive tick
        self._keepalive: asyncio.TimerHandle | None = None

    @property
    def queue(self) -> "Subscription":
        """What readers take events from, one at a time (``get``)."""
        return self

    def put_nowait(self, item) -> None:
        """Hand over an event, ``KEEPALIVE`` or ``None`` (the end); a watcher too far behind is
        marked overflowed instead (it reconnects and catches up with Last-Event-ID)."""
        self._quiet = False
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(item)
                return
        items = self._items
        if items is None:
            self._items = [item]
        elif len(items) < _QUEUE_SIZE:
            items.append(item)
        else:
            self.overflowed = True

    def get_nowait(self):
        items = self._items
        if not items:
            raise asyncio.QueueEmpty
        if len(items) == 1:
            self._items = None
        return items.pop(0)

    async def get(self):
        """The next item handed over, waiting for it."""
        if self._items:
            return self.get_nowait()
        self._waiter = waiter = asyncio.get_running_loop().create_future()
        try:
            return await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def end(self) -> None:
        """Wake the stream and let it finish (its client went away)."""
        self.put_nowait(None)

    def keep_alive(self, seconds: float) -> None:
        """Hand over ``KEEPALIVE`` after each period of ``seconds`` in which nothing was handed
        over: one timer per period, not one per wait (so at most two periods pass silent)."""
        self._quiet = True
        self._keepalive = asyncio.get_running_loop().call_later(seconds, self._tick, seconds)

    def _tick(self, seconds: float) -> None:
        if self._quiet and not self._items:  # a stream with something still to send is not idle
            self.put_nowait(KEEPALIVE)
        self.keep_alive(seconds)

    def close(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None


class Broker:
    """Fans events out to subscriptions; ``publish`` may be called from any thread.

    ``publish`` only hands the events over: one task on the loop hands them to the watchers in
    the order published, in slices of :data:`_FAN_OUT_SLICE` with the loop free in between, so
    that ten thousand watchers do not hold up the answer to the request that wrote the event.

    ``ids`` shows the events' numbers to clients as their public ids.
    """

    def __init__(self, ids: EventIds):
        self.ids = ids
        self._loop: asyncio.AbstractEventLoop | None = None
        self._by_company: dict[str, set[Subscription]] = {}
        self._by_request: dict[int, set[Subscription]] = {}
        self._pending: deque[WireEvent] = deque()
        self._fan_out_task: asyncio.Task | None = None
        self._count = 0
        self._peak = 0  # the most watchers since memory was last given back
        self._release: asyncio.TimerHandle | None = None
        #: Requests being handled that have not started their answer (``server.streams`` counts
        #: them): the fan-out gives way to them.
        self.answers_pending = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def watchers(self) -> int:
        return self._count

    def subscribe(self, *, company_id: str, request_id: int | None = None) -> Subscription:
        subscription = Subscription(company_id, request_id)
        if request_id is None:
            self._by_company.setdefault(company_id, set()).add(subscription)
        else:
            self._by_request.setdefault(request_id, set()).add(subscription)
        self._count += 1
        self._peak = max(self._peak, self._count)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        if subscription.request_id is None:
            index, key = self._by_company, subscription.company_id
        else:
            index, key = self._by_request, subscription.request_id
        watchers = index.get(key)
        if watchers is None or subscription not in watchers:
            return
        watchers.remove(subscription)
        if not watchers:
            del index[key]
        self._count -= 1
        if self._peak >= RELEASE_AFTER_WATCHERS and self._count <= self._peak // 4:
            self._release_soon()

    def _release_soon(self) -> None:
        """Give the crowd's memory back once it has finished leaving (each leaver pushes it on)."""
        if self._loop is None:
            return
        if self._release is not None:
            self._release.cancel()
        self._release = self._loop.call_later(_RELEASE_DELAY_S, self._release_memory)

    def _release_memory(self) -> None:
        self._release = None
        self._peak = self._count
        release_freed_memory()

    def is_watched(self, company_id: str, request_id: int) -> bool:
        return company_id in self._by_company or request_id in self._by_request

    def publish(self, events: list[WireEvent]) -> None:
        """Queue the events for their watchers and return at once."""
        if self._loop is not None and events:
            self._loop.call_soon_threadsafe(self._enqueue, events)

    def _enqueue(self, events: list[WireEvent]) -> None:
        self._pending.extend(events)
        if self._fan_out_task is None:
            self._fan_out_task = self._loop.create_task(self._fan_out())

    async def _fan_out(self) -> None:
        """Hand the pending events out, oldest first, each to the watchers it has when its turn comes."""
        handed = 0
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(_FAN_OUT_SWITCH_INTERVAL_S)
        try:
            while self._pending:
                wire = self._pending.popleft()
                for subscription in self._watchers_of(wire):
                    subscription.put_nowait(wire)
                    handed += 1
                    if handed == _FAN_OUT_SLICE:
                        handed = 0
                        await self._let_requests_run()
        finally:
            sys.setswitchinterval(switch_interval)
            self._fan_out_task = None

    async def _let_requests_run(self) -> None:
        await asyncio.sleep(0)
        threads = current_default_thread_limiter()
        waited = 0.0
        while (self.answers_pending or threads.borrowed_tokens) and waited < _YIELD_LIMIT_S:
            await asyncio.sleep(_YIELD_STEP_S)
            waited += _YIELD_STEP_S

    def _watchers_of(self, wire: WireEvent) -> list[Subscription]:
        """A copy, as watchers come and go while the fan-out yields. A subscription is in one
        index only, so the two never overlap."""
        return [*self._by_company.get(wire.company_id, ()), *self._by_request.get(wire.request_id, ())]


def install_commit_hooks(database: Database, broker: Broker) -> None:
    """Publish each committed write's events: directly, or through PostgreSQL NOTIFY."""
    writer = database.writer_factory

    @sa_event.listens_for(writer, "before_commit")
    def _notify(session: Session) -> None:
        events = session.info.get("events")
        if events and database.is_postgres:
            session.flush()
            for ids in _id_lists(str(e.id) for e in events):
                session.execute(text("SELECT pg_notify(:channel, :ids)"), {"channel": CHANNEL, "ids": ids})

    @sa_event.listens_for(writer, "after_commit")
    def _publish(session: Session) -> None:
        events = session.info.pop("events", None)
        if events and not database.is_postgres:
            # Render only what someone watches: an expiry sweep commits thousands at once.
            broker.publish([render(e, broker.ids) for e in events if broker.is_watched(e.company_id, e.request_id)])

    @sa_event.listens_for(writer, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop("events", None)


def _id_lists(ids):
    """Comma-separated ids, in as few NOTIFY payloads as fit."""
    chunk, size = [], 0
    for text_id in ids:
        if chunk and size + len(text_id) + 1 > _NOTIFY_BYTES:
            yield ",".join(chunk)
            chunk, size = [], 0
        chunk.append(text_id)
        size += len(text_id) + 1
    if chunk:
        yield ",".join(chunk)


class PostgresListener:
    """Listens for NOTIFY in a thread and feeds the events into the broker."""

    def __init__(self, database: Database, broker: Broker):
        self._database = database
        self._broker = broker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sosqueue-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception:  # the database went away: log, wait, listen again
                log.exception("lost the PostgreSQL event listener; reconnecting")
                self._stop.wait(1.0)

    def _listen(self) -> None:
        import psycopg

        url = self._database.engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            while not self._stop.is_set():
                for note in connection.notifies(timeout=0.5):
                    self._broker.publish(self._load([int(i) for i in note.payload.split(",")]))

    def _load(self, ids: list[int]) -> list[WireEvent]:
        with self._database.read() as session:
            rows = session.scalars(select(RequestEvent).where(RequestEvent.id.in_(ids)).order_by(RequestEvent.id))
            # As on SQLite, render only what someone here watches: a sweep's NOTIFY names thousands.
            watched = self._broker.is_watched
            return [render(row, self._broker.ids) for row in rows if watched(row.company_id, row.request_id)]
