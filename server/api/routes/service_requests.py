"""Service requests: create, list, look up, assign, join, leave, close, history, the customer's notes."""

import base64
import binascii
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import creation, queue
from server.admin import group_by_name
from server.actors import Actor
from server.api.deps import (
    ActorDep,
    BearerToken,
    CustomerActor,
    ReadDB,
    StateDep,
    UserActor,
    WriteDB,
    actor_in,
)
from server.api.present import event_public, request_public
from sosqueue.module_config import MAX_TOPIC_CHARS
from sosqueue.problem_codes import ALREADY_CLAIMED
from sosqueue.statuses import Status
from server.models import RequestEvent, ServiceRequest, utcnow
from server.problems import Problem
from server.state import AppState
from server.schemas import (
    AssignRequest,
    EventPublic,
    NoteCreate,
    PRINTABLE,
    ServiceRequestCreate,
    ServiceRequestCreated,
    ServiceRequestPublic,
    ServiceRequestsPublic,
)
from server.security import customer_token

router = APIRouter(prefix="/api/v1/service-requests", tags=["service requests"])

IdempotencyKey = Annotated[
    str | None,
    Header(max_length=255, pattern=r"^[\x21-\x7e]+$", description="retries with the same key return the same request"),
]


# What the routes answer beyond what server.api.openapi derives from their parameters and dependencies.
MODULES_READ_NO_REQUESTS = {403: {"description": "a module token cannot read service requests"}}
CLOSED = "the request is closed or expired"


@router.post("", status_code=201, response_model=ServiceRequestCreated, responses={
    403: {"description": "only a user or a module token can create service requests, and only a user's sets "
                         "waiting_message or custom_api"},
    404: {"description": "no group of this name (or, for a module, not its own group)"},
    429: {"description": "this caller filed too many requests lately"}})
async def create_service_request(
    payload: ServiceRequestCreate,
    token: BearerToken,
    state: StateDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    source: Annotated[Literal["module", "sos"] | None, Query(description="for module tokens: module or sos")] = None,
) -> ServiceRequestCreated:
    """File a service request: manually (user token) or from a support module (module token)."""
    filed = await creation.file_request_async(state, caller=filing_caller(state, token, source, payload),
                                              payload=payload, idempotency_key=idempotency_key)
    answer, headers = created_answer(state, filed)
    response.headers.update(headers)
    return answer


#: What only the company's users set when creating: a module's token ships inside every download.
STAFF_FIELDS = ("waiting_message", "custom_api")


def filing_caller(state: AppState, token: str, source: str | None, payload: ServiceRequestCreate) -> creation.Caller:
    """Who files ``payload`` with ``token``, and as which source; also for the lean path (``server.lean_create``)."""

    def caller(session: Session) -> tuple[Actor, str]:
        actor = actor_in(session, state, token)
        if actor.kind not in ("user", "module"):
            raise Problem(403, "only a user or a support module can create service requests", code="forbidden")
        if actor.kind == "user" and source is not None:
            raise Problem(422, "source is only for support modules; users create manual requests",
                          code="invalid_request")
        if not actor.is_staff and any(getattr(payload, name) for name in STAFF_FIELDS):
            raise Problem(403, "waiting_message and custom_api are set by the company's users, not by a support "
                          "module; leave them out", code="forbidden")
        return actor, "manual" if actor.kind == "user" else source or "module"

    return caller


def created_answer(state: AppState, filed: creation.Filed) -> tuple[ServiceRequestCreated, dict[str, str]]:
    """The 201's body and its headers beyond the content's, in the order the route sends them."""
    headers = {"Idempotent-Replayed": "true"} if filed.replayed else {}
    headers["Location"] = f"{router.prefix}/{filed.public.code}"
    answer = ServiceRequestCreated(
        **filed.public.model_dump(),
        customer_token=customer_token(state.secret_key, filed.request.id, filed.request.code),
    )
    return answer, headers




@router.get("", response_model=ServiceRequestsPublic, responses={
    400: {"description": "the cursor is not one the server gave out"},
    404: {"description": "no group of this name in the caller's company"}})
def list_service_requests(
    actor: UserActor,
    session: ReadDB,
    status: Annotated[str | None, Query(description="comma-separated: new,pending,in_progress,closed,expired")] = None,
    assignee: Annotated[str | None, Query(max_length=36, pattern=PRINTABLE, description="me, none or a user id")] = None,
    group: Annotated[str | None, Query(max_length=100, pattern=PRINTABLE)] = None,
    topic: Annotated[str | None, Query(max_length=MAX_TOPIC_CHARS, pattern=PRINTABLE,
                                       description="a topic's label, exactly; empty for the requests without one")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> ServiceRequestsPublic:
    """The company's queue, newest first, one page at a time."""
    now = utcnow()
    group_id = None
    if group is not None:
        group_id = group_by_name(session, company_id=actor.company_id, name=group).id
    page, after = queue.list_requests(
        session,
        company_id=actor.company_id,
        statuses=_parse_statuses(status),
        assignee=actor.user.id if assignee == "me" else assignee,
        group_id=group_id,
        topic=topic,
        limit=limit,
        before_id=_decode_cursor(cursor),
        now=now,
    )
    return ServiceRequestsPublic(
        items=[request_public(r, now) for r in page], next=_encode_cursor(after) if after else None
    )


def _parse_statuses(text: str | None) -> set[Status] | None:
    if not text:
        return None
    try:
        return {Status(part.strip()) for part in text.split(",") if part.strip()}
    except ValueError:
        raise Problem(422, "status takes new, pending, in_progress, closed and expired, comma-separated",
                      code="invalid_request") from None


def _encode_cursor(request_id: int) -> str:
    return base64.urlsafe_b64encode(f"before:{request_id}".encode()).decode()


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode("ascii")).decode().partition(":")
        if kind == "before" and value.isdigit():
            return int(value)
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise Problem(400, "this cursor is not one the server gave out; start again without cursor", code="bad_cursor")


def visible_request(session: Session, actor: Actor, code: str, *, lock: bool = False,
                    participants: bool = True) -> ServiceRequest:
    """The request as this caller may see it; anything else looks like an unknown code."""
    if actor.kind == "module":
        raise Problem(403, "a module token cannot read service requests", code="forbidden")
    request = queue.find_request(session, company_id=actor.company_id, code=code, lock=lock,
                                 participants=participants)
    if actor.kind == "customer" and request.id != actor.request_id:
        raise queue.NotFound("no service request with this code")
    return request


@router.get("/{code}", response_model=ServiceRequestPublic, responses=MODULES_READ_NO_REQUESTS)
def get_service_request(code: str, actor: ActorDep, session: ReadDB) -> ServiceRequestPublic:
    """One request by its session code, in any spelling (s12345678, S12-345-678, 12 345 678)."""
    return request_public(visible_request(session, actor, code), utcnow(), staff=actor.is_staff)


@router.get("/{code}/history", response_model=list[EventPublic], responses=MODULES_READ_NO_REQUESTS)
def get_history(code: str, actor: ActorDep, session: ReadDB, state: StateDep) -> list[EventPublic]:
    """The request's full event history, oldest first."""
    request = visible_request(session, actor, code)
    events = session.scalars(select(RequestEvent).where(RequestEvent.request_id == request.id).order_by(RequestEvent.id))
    return [event_public(e, state.broker.ids) for e in events]


@router.post("/{code}/assign", response_model=ServiceRequestPublic, responses={409: {"description": CLOSED}})
def assign_service_request(code: str, body: AssignRequest, actor: UserActor, session: WriteDB) -> ServiceRequestPublic:
    """Assign to yourself ("me"), to a colleague (user id), or unassign (null)."""
    request = visible_request(session, actor, code, lock=True)
    queue.assign(session, request=request, actor=actor, user_id=actor.user.id if body.user == "me" else body.user)
    return request_public(_reloaded(session, request), utcnow())


@router.post("/{code}/close", response_model=ServiceRequestPublic,
             responses=MODULES_READ_NO_REQUESTS | {409: {"description": CLOSED}})
def close_service_request(code: str, actor: ActorDep, session: WriteDB) -> ServiceRequestPublic:
    """Close the request: an expert of the company, or its creator (customer token)."""
    request = visible_request(session, actor, code, lock=True)
    queue.close(session, request=request, actor=actor)
    return request_public(_reloaded(session, request), utcnow(), staff=actor.is_staff)


@router.post("/{code}/notes", status_code=201, response_model=ServiceRequestPublic, responses={
    409: {"description": f"{CLOSED}, or it has as many notes as it takes"}})
def add_note(
    code: str,
    body: NoteCreate,
    actor: CustomerActor,
    response: Response,
    session: WriteDB,
    idempotency_key: IdempotencyKey = None,
) -> ServiceRequestPublic:
    """The customer adds to the open request (customer token): recorded as a ``note_added`` event."""
    request = visible_request(session, actor, code, lock=True)
    if queue.add_note(session, request=request, actor=actor, text=body.text, idempotency_key=idempotency_key):
        response.headers["Idempotent-Replayed"] = "true"
    return request_public(_reloaded(session, request), utcnow(), staff=actor.is_staff)


def claiming_module(actor: ActorDep, state: StateDep) -> Actor:
    """The module that claims, within its rate limit: checked before the write transaction begins."""
    if actor.kind != "module":
        raise Problem(403, "only a support module can claim a request by its code", code="forbidden")
    creation.check_rate(state, actor)
    return actor


@router.post("/{code}/claim", response_model=ServiceRequestCreated, responses={
    403: {"description": "only a module token can claim a request"},
    409: {"description": f"{CLOSED}, or another computer claimed it already (code `already_claimed`)"},
    429: {"description": "this caller claimed too many requests lately"}})
def claim_service_request(
    code: str,
    actor: Annotated[Actor, Depends(claiming_module)],
    state: StateDep,
    response: Response,
    session: WriteDB,
    idempotency_key: IdempotencyKey = None,
) -> ServiceRequestCreated:
    """A support module takes over a request a supporter created, by the code the customer typed.

    Answers with the customer token, so the customer's agent can join, follow and close it. A
    request is claimed once: another claim is 409 ``already_claimed``, unless it is the claimant's
    retry (the same module and ``Idempotency-Key``), which gets the answer again.
    """
    request = queue.find_request(session, company_id=actor.company_id, code=code, lock=True)
    try:
        replayed = queue.claim(session, request=request, actor=actor, idempotency_key=idempotency_key)
    except queue.AlreadyClaimed as error:
        raise Problem(409, str(error), code=ALREADY_CLAIMED) from None
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    public = request_public(request, utcnow(), staff=False)
    return ServiceRequestCreated(
        **public.model_dump(), customer_token=customer_token(state.secret_key, request.id, request.code)
    )


@router.post("/{code}/join", response_model=ServiceRequestPublic,
             responses=MODULES_READ_NO_REQUESTS | {409: {"description": CLOSED}})
def join_session(code: str, actor: ActorDep, session: WriteDB) -> ServiceRequestPublic:
    """Join the request's session as its customer (customer token) or as an expert (user token)."""
    request = visible_request(session, actor, code, lock=True)
    queue.join(session, request=request, party=_party(actor), actor=actor)
    return request_public(_reloaded(session, request), utcnow(), staff=actor.is_staff)


@router.post("/{code}/leave", response_model=ServiceRequestPublic,
             responses=MODULES_READ_NO_REQUESTS | {409: {"description": CLOSED}})
def leave_session(code: str, actor: ActorDep, session: WriteDB) -> ServiceRequestPublic:
    """Leave the request's session; leaving twice is harmless."""
    request = visible_request(session, actor, code, lock=True)
    queue.leave(session, request=request, party=_party(actor), actor=actor)
    return request_public(_reloaded(session, request), utcnow(), staff=actor.is_staff)


def _party(actor: Actor) -> str:
    return "customer" if actor.kind == "customer" else actor.key


def _reloaded(session: Session, request: ServiceRequest) -> ServiceRequest:
    session.flush()
    session.refresh(request)
    return request
