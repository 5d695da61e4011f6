"""Filing a service request: the one operation behind the API's POST and the dashboard's form.

Filings go through the process's group commit (``server.group_commit``): each runs in a write
transaction that several filings share, and is answered once that transaction committed. A filing
takes, in this order, the caller's creation allowance (``server.ratelimit``, shared by every server
process through the database), the company's expiry, the idempotency key if one was sent, and the
filing itself. A filing that fails leaves the other filings of its batch alone (they run again, each
in a savepoint; one refused for its allowance fails before it writes anything, and the batch goes
on without it) and takes nothing from the allowance. A concurrent retry with the same idempotency
key that committed first (another process, PostgreSQL) makes the filing run again in the next batch,
which then replays that retry's request.

Where the allowance is taken depends on the database. SQLite has one writer at a time anyway, so it
is taken in the batch's transaction: the rollback of a failed filing gives the creation back.
PostgreSQL takes it in one statement committed at once (a failed filing gives it back after),
because inside the batch's transaction it would hold the caller's row locked until that commits:
batches of other writers would wait for it, and two that took two callers' rows in turn would
deadlock. The filings of a batch take theirs together, in one round trip (``_Filing.prepare``).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from server import group_commit, queue, ratelimit
from server.actors import Actor
from server.api.present import request_public
from server.models import ServiceRequest, utcnow
from server.schemas import ServiceRequestCreate, ServiceRequestPublic
from server.state import AppState


class RateLimited(group_commit.Declined):
    """This caller filed (or claimed) too many requests lately; ``retry_after`` is whole seconds.
    Raised before the filing writes anything: its batch goes on without it."""

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


_UNCHARGED = "uncharged filings"  # session.info: the prepared filings whose allowances are still to take

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
    filing = _Filing(state, lambda _session: (actor, source), payload, idempotency_key)
    try:
        return state.db.group_commit.run(filing)
    except Exception:
        filing.give_back()
        raise


async def file_request_async(
    state: AppState, *, caller: Caller, payload: ServiceRequestCreate, idempotency_key: str | None = None
) -> Filed:
    """``file_request`` for the event loop, with the caller found in the filing's session: no
    thread of the pool waits, and no session of its own is opened for the token."""
    filing = _Filing(state, caller, payload, idempotency_key)
    try:
        return await state.db.group_commit.run_async(filing)
    except Exception:
        if filing.charged is not None:
            await run_in_threadpool(filing.give_back)
        raise


class _Filing:
    """One filing, as a job of the group commit (``server.group_commit``)."""

    def __init__(self, state: AppState, caller: Caller, payload: ServiceRequestCreate, idempotency_key: str | None):
        self.state, self.caller, self.payload, self.idempotency_key = state, caller, payload, idempotency_key
        # PostgreSQL: whose allowance it took (the actor's key: the actor's rows may expire with a
        # rolled back batch), committed at once
        self.charged: str | None = None
        self.refused_for: float | None = None  # PostgreSQL: the wait its batch's taking answered instead

    def prepare(self, session: Session) -> None:
        """Find the caller; on PostgreSQL, have its allowance taken with those of the batch's other
        filings, by whichever of them runs first."""
        actor, _ = self.caller(session)
        if not self.state.db.is_sqlite and self.charged is None:
            session.info.setdefault(_UNCHARGED, []).append((self, actor.key))

    def __call__(self, session: Session) -> Filed:
        actor, source = self.caller(session)  # found once per session (server.api.deps.actor_in)
        if self.state.db.is_sqlite:
            check_rate(self.state, actor, session)
        elif self.charged is None:  # not again when the job runs once more
            self._charge(session, actor)
        try:
            created = queue.create_request(
                session,
                actor=actor,
                payload=self.payload,
                source=source,
                expiry=queue.expiry_for(session, actor.company_id, self.state.settings.expiry_hours),
                idempotency_key=self.idempotency_key,
                attach=False,
            )
        except queue.IdempotencyRace:
            raise group_commit.Retry() from None  # the next batch sees the other filing and replays it
        return Filed(created.request, request_public(created.request, utcnow(), staff=actor.is_staff),
                     created.replayed)

    def _charge(self, session: Session, actor: Actor) -> None:
        """PostgreSQL: take the allowances of every prepared filing of the batch still uncharged
        (this one's alone when it was not prepared), committed at once; raises ``RateLimited`` when
        this one's is used up."""
        if self.refused_for is None:
            uncharged = session.info.pop(_UNCHARGED, [])
            if self not in (filing for filing, _ in uncharged):
                uncharged = [(self, actor.key)]
            waits = ratelimit.take_many(self.state.db, _create_limit(self.state), [key for _, key in uncharged])
            for (filing, key), wait in zip(uncharged, waits):
                if wait > 0:
                    filing.refused_for = wait
                else:
                    filing.charged = key
        if self.charged is None:
            raise RateLimited(math.ceil(self.refused_for))

    def give_back(self) -> None:
        """After the filing failed: the allowance it took on PostgreSQL comes back (on SQLite its
        savepoint's rollback gave it back)."""
        if self.charged is not None:
            with self.state.db.write() as session:
                ratelimit.give_back(session, _create_limit(self.state), self.charged)
