"""Filing a service request: the one operation behind the API's POST and the dashboard's form.

It applies, in this order, the caller's creation rate limit, then (in one write transaction)
the company's expiry, the idempotency key if one was sent, and the filing itself. A concurrent
retry with the same idempotency key that committed first makes the transaction start over once,
which then replays that retry's request.
"""

import math
from dataclasses import dataclass

from server import queue
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


def check_rate(state: AppState, actor: Actor) -> None:
    """Take one creation from the caller's allowance; raises ``RateLimited`` when it is used up."""
    wait = state.create_limiter.acquire(actor.key)
    if wait > 0:
        raise RateLimited(math.ceil(wait))


def file_request(
    state: AppState,
    *,
    actor: Actor,
    payload: ServiceRequestCreate,
    source: str,
    idempotency_key: str | None = None,
) -> Filed:
    """File a new request (or replay the one ``idempotency_key`` filed), within the rate limit."""
    check_rate(state, actor)
    try:
        return _file_once(state, actor=actor, payload=payload, source=source, idempotency_key=idempotency_key)
    except queue.IdempotencyRace:
        # A concurrent retry with the same key committed first: starting over replays its request.
        return _file_once(state, actor=actor, payload=payload, source=source, idempotency_key=idempotency_key)


def _file_once(
    state: AppState, *, actor: Actor, payload: ServiceRequestCreate, source: str, idempotency_key: str | None
) -> Filed:
    with state.db.write() as session:
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
