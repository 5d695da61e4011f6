"""The ASGI application: routers, error handling, the expiry and escalation sweeper and live events."""

import asyncio
import gc
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from server import api_docs, connect, problems, queue, ratelimit, routing, updates, web
from server import brands as server_brands
from server.api import openapi
from server.api.routes import agent_brand
from server.api.routes import agent_updates, brands, events, groups, health, modules, service_requests, users
from server.api.routes import metrics, queue_next, teamviewer, waiting_room
from server.config import Settings
from server.db import Database, upgrade
from server.event_ids import DELIVERY_CONTEXT, EventIds
from server.events import Broker, PostgresListener, install_commit_hooks
from server.lean_create import LeanCreate
from server.limits import BodySizeLimit
from server.models import utcnow
from server.notify import deliver_forever, install_outbox
from server.state import AppState, load_secret_key
from server.streams import CompanyEventStreams
from server.timing import ServerTiming

log = logging.getLogger("sosqueue.server")

API_VERSION = "1.0.0"


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    settings = settings or Settings()
    db = Database(settings.database_url)
    if migrate:
        upgrade(db)
    secret_key = load_secret_key(db, settings)
    broker = Broker(EventIds(secret_key))
    install_commit_hooks(db, broker)
    notify_wakeup = install_outbox(db, settings)
    state = AppState(
        settings=settings,
        db=db,
        broker=broker,
        secret_key=secret_key,
        delivery_ids=EventIds(secret_key, context=DELIVERY_CONTEXT),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        broker.bind(asyncio.get_running_loop())
        listener = PostgresListener(db, broker) if db.is_postgres else None
        if listener:
            listener.start()
        await run_in_threadpool(connect.clear_left_behind, db)
        updates.log_bases(settings.bases_dir)
        sweeper = asyncio.create_task(_sweep_forever(state))
        notifier = asyncio.create_task(deliver_forever(state, notify_wakeup))
        _tune_gc()
        try:
            yield
        finally:
            sweeper.cancel()
            notifier.cancel()
            if listener:
                listener.stop()
            db.dispose()

    app = FastAPI(
        title="sosqueue",
        version=API_VERSION,
        summary="The service queue: service requests with session codes, statuses and live events.",
        lifespan=lifespan,
        docs_url=None,  # server.api_docs serves them from files this server ships
        redoc_url=None,
    )
    app.state.sosqueue = state
    problems.install(app)
    app.add_middleware(LeanCreate, state=state, handlers=app.exception_handlers)  # inside the body limit
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       larger=[(brands.LOGO_PATH, server_brands.MAX_UPLOAD_BYTES), *web.LARGER_BODIES])
    app.add_middleware(CompanyEventStreams, state=state)
    app.add_middleware(ServerTiming)  # added last: the outermost of ours
    for module in (health, service_requests, events, users, groups, modules, brands, agent_updates):
        app.include_router(module.router)
    app.include_router(agent_brand.router)
    app.include_router(metrics.router)
    app.include_router(waiting_room.router)
    app.include_router(queue_next.router)
    teamviewer.install(app)
    if settings.api_docs:
        api_docs.install(app)
    web.install(app)
    connect.install(app)
    openapi.install(app)
    return app


def _tune_gc() -> None:
    """Keep the cyclic GC from stalling every stream for seconds with thousands of watchers.

    What start-up loaded lives as long as the process: freeze it out of the GC's scans. Watcher
    streams are long-lived too: collect the young generation less often, the old one rarely.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


def sweep_once(state: AppState) -> int:
    """Expire every open request past its deadline, and escalate lapsed ones; returns how many expired."""
    total = _in_batches(state, queue.expire_due, 5000)
    escalated = _in_batches(state, routing.escalate_due, routing.BATCH)
    if escalated:
        log.info("escalated %d service requests", escalated)
    retention = timedelta(hours=max(state.settings.expiry_hours, 24))
    with state.db.write() as session:
        queue.purge_idempotency_keys(session, older_than=utcnow() - 2 * retention)
        ratelimit.prune(session)
    return total


def _in_batches(state: AppState, step: Callable[..., int], batch: int) -> int:
    """``step(session, now=…)`` in one write transaction after another until one does less than ``batch``
    (expire_due, escalate_due: each does up to ``batch``); returns how many in all."""
    total = 0
    while True:
        with state.db.write() as session:
            count = step(session, now=utcnow())
        total += count
        if count < batch:
            return total


async def _sweep_forever(state: AppState) -> None:
    while True:
        try:
            expired = await run_in_threadpool(sweep_once, state)
            if expired:
                log.info("expired %d service requests", expired)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database hiccup must not stop expiry for good
            log.exception("expiry sweep failed; trying again")
        await asyncio.sleep(state.settings.effective_sweep_interval)
