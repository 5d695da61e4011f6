"""Live event streams (server-sent events): a company's queue, or one request."""

import asyncio
import functools
from typing import Annotated

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.types import Receive

from server.actors import Actor
from server.api.deps import ActorDep, StateDep, UserActor
from server.api.present import request_public
from server.api.routes.service_requests import MODULES_READ_NO_REQUESTS, visible_request
from server.events import KEEPALIVE, Subscription, WireEvent, latest_event, render
from server.models import RequestEvent, ServiceRequest, utcnow
from server.state import AppState
from sosqueue.events import STREAM_SUBSCRIBED

router = APIRouter(prefix="/api/v1", tags=["events"])

_BACKLOG_LIMIT = 1000
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
LastEventId = Annotated[str | None, Header(max_length=20, description=(
    "the id of the last event received: the stream goes on after it; an id this stream did not send "
    "starts it afresh, from the current position"))]

#: The comment a stream starts with when it cannot resume after the client's Last-Event-ID.
STARTING_AFRESH = "unknown Last-Event-ID, starting afresh"

# Threads opening streams at once (token, backlog, snapshot). A crowd of watchers connecting
# together then neither takes every thread and database connection from the requests, nor grows
# the thread and connection pools for good (their objects would pin the memory the crowd used).
OPENING_THREADS = 4
_opening_threads: RunVar[CapacityLimiter] = RunVar("sosqueue_stream_openings")

_STREAM_DOC = {200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}}


@router.get("/events", response_class=StreamingResponse, responses=_STREAM_DOC)
async def company_events(actor: UserActor, state: StateDep, last_event_id: LastEventId = None) -> StreamingResponse:
    """Every change to the caller's company queue, live; resumes after ``Last-Event-ID``."""
    return _stream(state, actor, None, parse_last_event_id(last_event_id))


@router.get("/service-requests/{code}/events", response_class=StreamingResponse,
            responses=_STREAM_DOC | MODULES_READ_NO_REQUESTS)
async def request_events(
    code: str, actor: ActorDep, state: StateDep, last_event_id: LastEventId = None
) -> StreamingResponse:
    """Changes to one request, live (user or customer token); starts with a snapshot."""
    request_id = await in_opening_thread(_visible_id, state, actor, code)
    return _stream(state, actor, request_id, parse_last_event_id(last_event_id))


async def in_opening_thread(func, *args):
    """``func(*args)`` in the thread pool, at most :data:`OPENING_THREADS` at once."""
    try:
        limiter = _opening_threads.get()
    except LookupError:
        limiter = CapacityLimiter(OPENING_THREADS)
        _opening_threads.set(limiter)
    return await to_thread.run_sync(functools.partial(func, *args), limiter=limiter)


def _visible_id(state: AppState, actor: Actor, code: str) -> int:
    with state.db.read() as session:
        return visible_request(session, actor, code).id


def _snapshot(state: AppState, request_id: int, staff: bool) -> str:
    with state.db.read() as session:
        return request_public(session.get(ServiceRequest, request_id), utcnow(), staff=staff).model_dump_json()


def parse_last_event_id(header: str | None) -> str | None:
    """The public id a client resumes after (``server.event_ids``), or None to start afresh."""
    return (header.strip() or None) if header else None


def _stream(state: AppState, actor: Actor, request_id: int | None, last_id: str | None) -> StreamingResponse:
    return StreamingResponse(
        messages(state, actor.company_id, request_id, last_id, staff=actor.is_staff), media_type="text/event-stream",
        headers=SSE_HEADERS
    )


async def messages(
    state: AppState, company_id: str, request_id: int | None, last_id: str | None, receive: Receive | None = None,
    *, announce: bool = False, staff: bool = True,
):
    """The stream's chunks, after the event ``last_id`` names (a public id), or from now on.

    An id this stream did not send (garbled, another company's, or a number from before public
    ids) starts it afresh, as a first connect does: the request stream's snapshot says where the
    request stands, and the dashboard reloads its rows on reconnecting. Not an error answer: the
    browser would then stop reconnecting, and the agent would take the request for gone.

    With ``receive`` it ends by itself when the client goes away; without, whoever runs it must
    stop it then (Starlette's StreamingResponse does). ``announce`` sends a
    :data:`~sosqueue.events.STREAM_SUBSCRIBED` event once nothing can be missed. The request
    stream's snapshot shows the assignee's email address only to ``staff`` (the company's users)."""
    # Subscribe before reading the snapshot or backlog so that nothing falls in between.
    broker = state.broker
    subscription = broker.subscribe(company_id=company_id, request_id=request_id)
    watch = asyncio.ensure_future(_end_on_disconnect(receive, subscription)) if receive else None
    try:
        yield b"retry: 2000\n\n"
        after, backlog = await in_opening_thread(_opening, state, subscription, last_id)
        if backlog is None:
            if last_id is not None:
                yield f": {STARTING_AFRESH}\n\n".encode()
            # An id right away: a reconnect before the first event then resumes from here.
            yield f"id: {broker.ids.public(company_id, after)}\n\n".encode()
        if announce:
            yield f"event: {STREAM_SUBSCRIBED}\ndata: {{}}\n\n".encode()
        if request_id is not None:
            yield f"event: snapshot\ndata: {await in_opening_thread(_snapshot, state, request_id, staff)}\n\n".encode()
        sent = 0 if backlog is None else after  # a fresh start passes on whatever arrives
        for wire in backlog or ():
            yield wire.frame
            sent = wire.id
        subscription.keep_alive(state.settings.keepalive_seconds)
        while not subscription.overflowed:
            wire = await subscription.get()
            if wire is None:  # the client went away
                break
            if wire is KEEPALIVE:
                yield b": keepalive\n\n"
            elif wire.id > sent:
                yield wire.frame
                sent = wire.id
    finally:
        if watch is not None:
            watch.cancel()
        broker.unsubscribe(subscription)


async def _end_on_disconnect(receive: Receive, subscription: Subscription) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    subscription.end()


def _opening(state: AppState, subscription: Subscription, last_id: str | None) -> tuple[int, list[WireEvent] | None]:
    """Where the stream starts: after the event ``last_id`` names, with the events since (up to
    ``_BACKLOG_LIMIT``); or, when it names none the stream could have sent, after the latest event
    (and no backlog). Event numbers, not public ids."""
    ids = state.broker.ids
    number = ids.number(subscription.company_id, last_id) if last_id is not None else None
    scope = _scope(subscription)
    with state.db.read() as session:
        known = number == 0 or number is not None and session.scalar(
            select(RequestEvent.id).where(RequestEvent.id == number, *scope)) is not None
        if known:
            backlog = select(RequestEvent).where(RequestEvent.id > number, *scope).order_by(RequestEvent.id)
            return number, [render(e, ids) for e in session.scalars(backlog.limit(_BACKLOG_LIMIT))]
        return latest_event(session, subscription.company_id, subscription.request_id), None


def _scope(subscription: Subscription) -> list:
    """The events the subscription's stream sends. A request's stream counts from its own events
    only: its position tells nothing of the company's other requests."""
    if subscription.request_id is None:
        return [RequestEvent.company_id == subscription.company_id]
    return [RequestEvent.request_id == subscription.request_id, RequestEvent.company_id == subscription.company_id]
