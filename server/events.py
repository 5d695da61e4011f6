"""Live events: committed request events fan out to the event streams of this process.

With SQLite every writer is in this process, so commits publish directly. With PostgreSQL
several server processes share the database: commits send ``NOTIFY`` with the new event ids
and every process (the writer included) ``LISTEN``s, loads them once and fans them out.

Clients never see an event's number, only its public id (``server.event_ids``).
"""

import asyncio
import json
import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import event as sa_event, func, select, text
from sqlalchemy.orm import Session

from server.actors import actor_public
from server.db import Database
from server.event_ids import EventIds
from server.models import RequestEvent
from sosqueue import codes

log = logging.getLogger("sosqueue.events")

CHANNEL = "sosqueue_events"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; an expiry sweep commits 5000 events.
_NOTIFY_BYTES = 7500
_QUEUE_SIZE = 512


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


@dataclass(eq=False)
class Subscription:
    company_id: str
    request_id: int | None
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(_QUEUE_SIZE))
    overflowed: bool = False

    def end(self) -> None:
        """Wake the stream and let it finish (its client went away)."""
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            self.overflowed = True


class Broker:
    """Fans events out to subscriptions; ``publish`` may be called from any thread.

    ``ids`` shows the events' numbers to clients as their public ids.
    """

    def __init__(self, ids: EventIds):
        self.ids = ids
        self._loop: asyncio.AbstractEventLoop | None = None
        self._by_company: dict[str, set[Subscription]] = {}
        self._by_request: dict[int, set[Subscription]] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def watchers(self) -> int:
        return sum(len(s) for s in self._by_company.values()) + sum(len(s) for s in self._by_request.values())

    def subscribe(self, *, company_id: str, request_id: int | None = None) -> Subscription:
        subscription = Subscription(company_id, request_id)
        if request_id is None:
            self._by_company.setdefault(company_id, set()).add(subscription)
        else:
            self._by_request.setdefault(request_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription.request_id is None:
            index, key = self._by_company, subscription.company_id
        else:
            index, key = self._by_request, subscription.request_id
        watchers = index.get(key)
        if watchers is not None:
            watchers.discard(subscription)
            if not watchers:
                del index[key]

    def is_watched(self, company_id: str, request_id: int) -> bool:
        return company_id in self._by_company or request_id in self._by_request

    def publish(self, events: list[WireEvent]) -> None:
        if self._loop is not None and events:
            self._loop.call_soon_threadsafe(self._fan_out, events)

    def _fan_out(self, events: list[WireEvent]) -> None:
        for wire in events:
            watchers = self._by_company.get(wire.company_id, set()) | self._by_request.get(wire.request_id, set())
            for subscription in watchers:
                try:
                    subscription.queue.put_nowait(wire)
                except asyncio.QueueFull:
                    # A watcher this far behind reconnects and catches up with Last-Event-ID.
                    subscription.overflowed = True


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
            return [render(row, self._broker.ids) for row in rows]
