"""Filing a service request: the one operation behind the API's POST and the dashboard's form.

It applies, in this order, the caller's creation rate limit (shared by every server process
through the database, ``server.ratelimit``), then (in one write transaction) the company's expiry,
the idempotency key if one was sent, and the filing itself. A concurrent retry with the same
idempotency key that committed first makes the transaction start over once, which then replays
that retry's request.

Where the limit is taken depends on the database. SQLite has one writer at a time anyway, so the
check joins the filing's write transaction: one commit (one fsync) per creation, not two, and a
rollback gives the creation back. PostgreSQL takes it in one statement committed at once, because
inside the filing's transaction it would hold the caller's row locked until the commit and so
serialise every concurrent creation of one module.
"""

import math
from dataclasses import dataclass

from sqlalchemy.orm import Session

from server import queue, ratelimit
from server.actors import Actor
from server.api.present import request_public
from server.models import ServiceRequest, utcnow
from server.schemas import ServiceRequestCreate, ServiceRequestPublic
from server.state import AppState


class RateLimited(Exception):
    """This caller filed (or claimed) too many requests lately; ``retry_after`` is whole seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many requests created; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Filed:
    request: ServiceRequest
    public: ServiceRequestPublic
    replayed: bool


def check_rate(state: AppState, actor: Actor, session: Session | None = None) -> None:
    """Take one creation (or claim) from the caller's allowance; raises ``RateLimited`` when it is used up.

    Within ``session``'s write transaction when given (its rollback gives the creation back),
    else in a statement committed at once.
    """
    limit = _create_limit(state)
    if session is None:
        wait = ratelimit.take_alone(state.db, limit, actor.key)
    else:
        wait = ratelimit.take(session, limit, actor.key)
    if wait > 0:
        raise RateLimited(math.ceil(wait))


def _create_limit(state: AppState) -> ratelimit.Limit:
    return ratelimit.Limit("create", per_minute=state.settings.create_rate_per_minute,
                           burst=state.settings.create_burst)


def file_request(
    state: AppState,
    *,
    actor: Actor,
    payload: ServiceRequestCreate,
    source: str,
    idempotency_key: str | None = None,
) -> Filed:
    """File a new request (or replay the one ``idempotency_key`` filed), within the rate limit; a
    filing that fails takes nothing from the allowance, on either database."""
    if not state.db.is_sqlite:
        check_rate(state, actor)
    try:
        try:
            return _file_once(state, actor=actor, payload=payload, source=source, idempotency_key=idempotency_key)
        except queue.IdempotencyRace:
            # A concurrent retry with the same key committed first: starting over replays its request.
            return _file_once(state, actor=actor, payload=payload, source=source, idempotency_key=idempotency_key)
    except Exception:
        if not state.db.is_sqlite:  # on SQLite the filing's rollback gave it back
            with state.db.write() as session:
                ratelimit.give_back(session, _create_limit(state), actor.key)
        raise


def _file_once(
    state: AppState, *, actor: Actor, payload: ServiceRequestCreate, source: str, idempotency_key: str | None
) -> Filed:
    with state.db.write() as session:
        if state.db.is_sqlite:
            check_rate(state, actor, session)
        created = queue.create_request(
            session,
            actor=actor,
            payload=payload,
            source=source,
            expiry=queue.expiry_for(session, actor.company_id, state.settings.expiry_hours),
            idempotency_key=idempotency_key,
        )
        public = request_public(created.request, utcnow())
    return Filed(created.request, public, created.replayed)
