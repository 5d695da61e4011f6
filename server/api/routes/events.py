"""Live event streams (server-sent events): a company's queue, or one request."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive

from server.actors import Actor
from server.api.deps import ActorDep, StateDep, UserActor
from server.api.present import request_public
from server.api.routes.service_requests import visible_request
from server.events import Subscription, WireEvent, render
from server.models import RequestEvent, ServiceRequest, utcnow
from server.state import AppState
from sosqueue.events import STREAM_SUBSCRIBED

router = APIRouter(prefix="/api/v1", tags=["events"])

_BACKLOG_LIMIT = 1000
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
LastEventId = Annotated[str | None, Header(max_length=20)]

_STREAM_DOC = {200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}}


@router.get("/events", response_class=StreamingResponse, responses=_STREAM_DOC)
async def company_events(actor: UserActor, state: StateDep, last_event_id: LastEventId = None) -> StreamingResponse:
    """Every change to the caller's company queue, live; resumes after ``Last-Event-ID``."""
    return _stream(state, actor, None, parse_last_event_id(last_event_id))


@router.get("/service-requests/{code}/events", response_class=StreamingResponse, responses=_STREAM_DOC)
async def request_events(
    code: str, actor: ActorDep, state: StateDep, last_event_id: LastEventId = None
) -> StreamingResponse:
    """Changes to one request, live (user or customer token); starts with a snapshot."""
    request_id = await run_in_threadpool(_visible_id, state, actor, code)
    return _stream(state, actor, request_id, parse_last_event_id(last_event_id))


def _visible_id(state: AppState, actor: Actor, code: str) -> int:
    with state.db.read() as session:
        return visible_request(session, actor, code).id


def _snapshot(state: AppState, request_id: int) -> str:
    with state.db.read() as session:
        return request_public(session.get(ServiceRequest, request_id), utcnow()).model_dump_json()


def parse_last_event_id(header: str | None) -> int | None:
    return int(header) if header and header.isdigit() else None


def _stream(state: AppState, actor: Actor, request_id: int | None, last_id: int | None) -> StreamingResponse:
    return StreamingResponse(
        messages(state, actor.company_id, request_id, last_id), media_type="text/event-stream", headers=SSE_HEADERS
    )


async def messages(
    state: AppState, company_id: str, request_id: int | None, last_id: int | None, receive: Receive | None = None,
    *, announce: bool = False,
):
    """The stream's chunks. With ``receive`` it ends by itself when the client goes away;
    without, whoever runs it must stop it then (Starlette's StreamingResponse does).
    ``announce`` sends a :data:`~sosqueue.events.STREAM_SUBSCRIBED` event once nothing can be missed."""
    # Subscribe before reading the snapshot or backlog so that nothing falls in between.
    broker = state.broker
    subscription = broker.subscribe(company_id=company_id, request_id=request_id)
    watch = asyncio.ensure_future(_end_on_disconnect(receive, subscription)) if receive else None
    try:
        yield b"retry: 2000\n\n"
        if last_id is None:
            # An id right away: a reconnect before the first event then resumes from here.
            yield f"id: {await run_in_threadpool(_latest_id, state, subscription)}\n\n".encode()
        if announce:
            yield f"event: {STREAM_SUBSCRIBED}\ndata: {{}}\n\n".encode()
        if request_id is not None:
            yield f"event: snapshot\ndata: {await run_in_threadpool(_snapshot, state, request_id)}\n\n".encode()
        sent = last_id or 0
        if last_id is not None:
            for wire in await run_in_threadpool(_backlog, state, subscription, last_id):
                yield wire.frame
                sent = wire.id
        while not subscription.overflowed:
            try:
                # asyncio.timeout, not wait_for: no extra task per watcher and event.
                async with asyncio.timeout(state.settings.keepalive_seconds):
                    wire = await subscription.queue.get()
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if wire is None:  # the client went away
                break
            if wire.id > sent:
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


def _latest_id(state: AppState, subscription: Subscription) -> int:
    query = select(func.max(RequestEvent.id)).where(RequestEvent.company_id == subscription.company_id)
    with state.db.read() as session:
        return session.scalar(query) or 0


def _backlog(state: AppState, subscription: Subscription, last_id: int) -> list[WireEvent]:
    query = select(RequestEvent).where(RequestEvent.id > last_id, RequestEvent.company_id == subscription.company_id)
    if subscription.request_id is not None:
        query = query.where(RequestEvent.request_id == subscription.request_id)
    with state.db.read() as session:
        return [render(e) for e in session.scalars(query.order_by(RequestEvent.id).limit(_BACKLOG_LIMIT))]
