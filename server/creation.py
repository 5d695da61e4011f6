"""Filing a service request: the one operation behind the API's POST and the dashboard's form.

Filings go through the process's group commit (``server.group_commit``): each runs in its own
savepoint of a write transaction that several filings share, and is answered once that transaction
committed. A filing takes, in this order, the caller's creation allowance (``server.ratelimit``,
shared by every server process through the database), the company's expiry, the idempotency key if
one was sent, and the filing itself. A filing that fails rolls back its savepoint, so it takes
nothing from the allowance and leaves the other filings of its batch alone. A concurrent retry
with the same idempotency key that committed first (another process, PostgreSQL) makes the filing
run again in the next batch, which then replays that retry's request.

The allowance is taken inside the filing's savepoint on both databases. On PostgreSQL that holds
the caller's ``rate_limits`` row locked until the batch commits; the filings of one process share
that transaction, so only batches of other processes wait for it, one commit each.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from server import group_commit, queue, ratelimit
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


Caller = Callable[[Session], tuple[Actor, str]]
"""Who files, and as which source, found (and checked) in the filing's own session."""


def file_request(
    state: AppState,
    *,
    actor: Actor,
    payload: ServiceRequestCreate,
    source: str,
    idempotency_key: str | None = None,
) -> Filed:
    """File a new request (or replay the one ``idempotency_key`` filed), within the rate limit,
    waiting in this thread until it is committed."""
    return state.db.group_commit.run(_filing(state, lambda _session: (actor, source), payload, idempotency_key))


async def file_request_async(
    state: AppState, *, caller: Caller, payload: ServiceRequestCreate, idempotency_key: str | None = None
) -> Filed:
    """``file_request`` for the event loop, with the caller found in the filing's session: no
    thread of the pool waits, and no session of its own is opened for the token."""
    return await state.db.group_commit.run_async(_filing(state, caller, payload, idempotency_key))


def _filing(state: AppState, caller: Caller, payload: ServiceRequestCreate, idempotency_key: str | None):
    def job(session: Session) -> Filed:
        actor, source = caller(session)
        check_rate(state, actor, session)
        try:
            created = queue.create_request(
                session,
                actor=actor,
                payload=payload,
                source=source,
                expiry=queue.expiry_for(session, actor.company_id, state.settings.expiry_hours),
                idempotency_key=idempotency_key,
            )
        except queue.IdempotencyRace:
            raise group_commit.Retry() from None  # the next batch sees the other filing and replays it
        return Filed(created.request, request_public(created.request, utcnow()), created.replayed)

    return job
