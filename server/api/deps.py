"""Dependencies shared by the routes: app state, database sessions and the caller."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import security
from server.actors import Actor
from server.models import ApiToken, Module, ServiceRequest, User
from server.problems import Problem
from server.state import AppState

_ACTORS = "actors"  # session.info: token -> Actor, for actor_in
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="sosqueue"'}


async def get_state(request: Request) -> AppState:
    # async, as ``bearer_token``: a sync dependency, however trivial, costs a hop to the thread pool.
    return request.app.state.sosqueue


StateDep = Annotated[AppState, Depends(get_state)]


def read_session(state: StateDep) -> Iterator[Session]:
    with state.db.read() as session:
        yield session


def write_session(state: StateDep) -> Iterator[Session]:
    """One write transaction for the route: committed when it returns, rolled back when it raises."""
    with state.db.write() as session:
        yield session


ReadDB = Annotated[Session, Depends(read_session)]
# scope="function": the transaction ends when the route function returns, before the response
# is sent, so a client that reads right after sees the change, and a failed commit is an error
# response instead of a write lost after a 2xx. Declare it after the form and login: the write
# (on SQLite, the process's write lock) starts only once the form is read and the caller known.
WriteDB = Annotated[Session, Depends(write_session, scope="function")]


async def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str:
    # async: it only reads a header (see get_state).
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "send an API, module or customer token as 'Authorization: Bearer <token>'",
                      code="unauthenticated", headers=_CHALLENGE)
    return token.strip()


BearerToken = Annotated[str, Depends(bearer_token)]


def get_actor(state: StateDep, token: BearerToken) -> Actor:
    with state.db.read() as session:
        return known_actor(resolve_token(session, state, token))


def actor_in(session: Session, state: AppState, token: str) -> Actor:
    """The token's caller, found in ``session``: once per transaction, which the filings of a group
    commit share (``server.group_commit``), so a module's burst resolves its token once."""
    known = session.info.setdefault(_ACTORS, {})
    if token not in known:
        known[token] = known_actor(resolve_token(session, state, token))
    return known[token]


def known_actor(actor: Actor | None) -> Actor:
    if actor is None:
        raise Problem(401, "this token is unknown, revoked or expired; ask your admin for a new one",
                      code="invalid_token", headers=_CHALLENGE)
    return actor


@dataclass(frozen=True)
class Reading:
    """The caller and a read session, the caller resolved in that session."""

    actor: Actor
    session: Session


def read_as_caller(state: StateDep, token: BearerToken) -> Iterator[Reading]:
    """One read session for the token check and the route: one connection and one thread hop fewer
    than ``ActorDep`` with ``ReadDB``, for the calls every agent repeats (the waiting room's poll)."""
    with state.db.read() as session:
        yield Reading(actor=known_actor(resolve_token(session, state, token)), session=session)


def resolve_token(session: Session, state: AppState, token: str) -> Actor | None:
    if token.startswith(security.USER_TOKEN_PREFIX):
        row = session.scalar(
            select(ApiToken).where(ApiToken.token_hash == security.token_hash(token), ApiToken.revoked_at.is_(None))
        )
        if row is None or not row.user.active:
            return None
        return Actor(kind="user", company_id=row.user.company_id, user=row.user)
    if token.startswith(security.MODULE_TOKEN_PREFIX):
        module = session.scalar(select(Module).where(Module.token_hash == security.token_hash(token)))
        if module is None or module.revoked_at is not None:
            return None
        module.group  # loaded now, used after the session closes
        return Actor(kind="module", company_id=module.company_id, module=module)
    if token.startswith(security.CUSTOMER_TOKEN_PREFIX):
        code = security.parse_customer_token(token)
        # The columns alone: the request's entity would load its participants too, and an agent's
        # every poll passes here.
        found = session.execute(
            select(ServiceRequest.id, ServiceRequest.code, ServiceRequest.company_id).where(ServiceRequest.code == code)
        ).one_or_none() if code else None
        if found is None or not security.customer_token_matches(state.secret_key, found.id, found.code, token):
            return None
        return Actor(kind="customer", company_id=found.company_id, request_id=found.id)
    return None


ActorDep = Annotated[Actor, Depends(get_actor)]
ReadAsCaller = Annotated[Reading, Depends(read_as_caller)]


def require_user(actor: ActorDep) -> Actor:
    if actor.kind != "user":
        raise Problem(403, "this needs a user's API token", code="forbidden")
    return actor


def require_admin(actor: Annotated[Actor, Depends(require_user)]) -> Actor:
    if not actor.is_admin:
        raise Problem(403, "this needs an admin of the company", code="forbidden")
    return actor


def require_module(actor: ActorDep) -> Actor:
    if actor.kind != "module":
        raise Problem(403, "this needs a module's token", code="forbidden")
    return actor


def require_customer(actor: ActorDep) -> Actor:
    if actor.kind != "customer":
        raise Problem(403, "this needs the request's customer token", code="forbidden")
    return actor


UserActor = Annotated[Actor, Depends(require_user)]
CustomerActor = Annotated[Actor, Depends(require_customer)]
AdminActor = Annotated[Actor, Depends(require_admin)]
ModuleActor = Annotated[Actor, Depends(require_module)]


def current_user(session: Session, actor: Actor) -> User:
    """The caller's user row in ``session`` (the actor's copy belongs to another session)."""
    return session.get(User, actor.user.id)
