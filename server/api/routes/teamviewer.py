"""A TeamViewer-compatible service-case API: ``/tv/api/v1`` in place of ``https://webapi.teamviewer.com/api/v1``.

Integrations written for TeamViewer's Web API keep working with a user's API token as the Bearer
token: ping, the account, the company's users, sessions (create, list, look up, change, close) and
the connection report. Every error under this prefix, a bad token or body included, is in
TeamViewer's shape (``server.teamviewer.errors``); :class:`TeamViewerRoute` renders them.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from server import creation, links, queue
from server.actors import Actor
from server.api.deps import ActorDep, ReadDB, StateDep, WriteDB, resolve_token
from server.lifecycle import IllegalTransition
from server.models import Company, utcnow
from server.problems import Problem
from server.schemas import PRINTABLE
from server.state import AppState
from server.teamviewer import connections, errors, ids, schemas, sessions
from server.teamviewer.errors import TvError

log = logging.getLogger("sosqueue.api")

PREFIX = "/tv/api/v1"
TAG = "TeamViewer compatibility"
_NO_TOKEN = "send a user's API token as 'Authorization: Bearer <token>'; a TeamViewer script token does not work here"


class TeamViewerRoute(APIRoute):
    """A route whose every error, its parameters' and token's included, is in TeamViewer's shape."""

    #: Read by ``server.api.openapi``: what this route's error answers are.
    error_model = errors.TeamViewerError
    error_media_type = errors.MEDIA_TYPE
    error_descriptions = errors.DESCRIPTIONS

    def get_route_handler(self) -> Callable:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception as error:  # noqa: BLE001 - every error leaves in TeamViewer's shape
                raise errors.Answered(as_tv_error(error)) from error

        return handler


def install(app) -> None:
    """The compatibility API and the handler that answers its errors."""
    app.include_router(router)
    errors.install(app)


def as_tv_error(error: Exception) -> TvError:
    """Any error a route or its dependencies raise, as TeamViewer's error of the same meaning."""
    if isinstance(error, TvError):
        return error
    if isinstance(error, RequestValidationError):
        return _invalid_input(error)
    if isinstance(error, Problem):
        detail = _NO_TOKEN if error.code == "unauthenticated" else error.detail
        return errors.for_status(error.status, detail, error.headers)
    if isinstance(error, queue.NotFound):
        return TvError(errors.NOT_FOUND, str(error))
    if isinstance(error, (IllegalTransition, queue.Conflict)):
        return errors.invalid(str(error))
    if isinstance(error, creation.RateLimited):
        return TvError(errors.RATE_LIMIT_REACHED, str(error), headers={"Retry-After": str(error.retry_after)})
    if isinstance(error, HTTPException):
        return errors.for_status(error.status_code, str(error.detail), getattr(error, "headers", None))
    if isinstance(error, ids.IdCollision):
        log.error("TeamViewer id collision: %s", error)
        return TvError(errors.INTERNAL_ERROR, str(error))
    log.exception("unexpected error", exc_info=error)
    return TvError(errors.INTERNAL_ERROR, "the server hit an unexpected error; it has been logged")


def _invalid_input(error: RequestValidationError) -> TvError:
    found = error.errors()
    if any(item.get("type") == "json_invalid" for item in found):
        return errors.invalid("the request body is not valid JSON")
    described = []
    for item in found[:3]:
        where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("body", "query"))
        message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
        described.append(f"{where}: {message}" if where else message)
    return errors.invalid("; ".join(described) or "the request is invalid")


# strict_content_type=False: a body sent without a Content-Type is read as JSON, as TeamViewer does.
router = APIRouter(prefix=PREFIX, tags=[TAG], route_class=TeamViewerRoute, strict_content_type=False)


def require_user(actor: ActorDep) -> Actor:
    if actor.kind != "user":
        raise TvError(errors.INVALID_PERMISSION, "this API takes a user's API token (a module's or a customer's "
                                                 "token is for the native API)")
    return actor


UserActor = Annotated[Actor, Depends(require_user)]


def _base(state: AppState, request: Request) -> str:
    return links.public_base(state.settings.public_url, request)


@router.get("/ping", response_model=schemas.Ping)
def ping(state: StateDep, session: ReadDB, request: Request) -> schemas.Ping:
    """Whether the Bearer token (``Authorization: Bearer <token>``, optional here) is one this API takes:
    a user's API token, active."""
    # Read from the request, not declared as a parameter: any value, or none, is a valid question.
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    actor = resolve_token(session, state, token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    return schemas.Ping(token_valid=actor is not None and actor.kind == "user")


@router.get("/account", response_model=schemas.Account)
def account(actor: UserActor, session: ReadDB) -> schemas.Account:
    """The token's user."""
    user = actor.user
    return schemas.Account(userid=ids.user_tv_id(user.id), name=sessions.name_of(user), email=user.email,
                           company_name=session.get(Company, actor.company_id).name)


@router.get("/users", response_model=schemas.Users)
def users(actor: UserActor, session: ReadDB) -> schemas.Users:
    """The active users of the caller's company."""
    return schemas.Users(users=sessions.users_of(session, actor.company_id))


@router.post("/sessions", response_model=schemas.Session, responses={
    429: {"description": errors.DESCRIPTIONS[429]}})
def create_session(body: schemas.SessionCreate, actor: UserActor, state: StateDep, request: Request) -> schemas.Session:
    """Create a session: a manual request in the queue, for the group of ``groupid`` or ``groupname`` (a new
    group when no group has that name, as TeamViewer makes one)."""
    with state.db.write() as session:
        group, created = sessions.group_or_new(session, actor, body.groupid, body.groupname)
    try:
        filed = creation.file_request(state, actor=actor, payload=sessions.creation_payload(body, group),
                                      source="manual")
    except Exception:
        if created:
            sessions.forget_new_group(state.db, group)  # a refused call changes nothing
        raise
    with state.db.read() as session:
        stored = queue.find_request(session, company_id=actor.company_id, code=filed.request.code)
        return sessions.session_object(stored, utcnow(), _base(state, request))


UserFilter = Annotated[str | None, Query(pattern=ids.USER_PATTERN, description="u0: the unassigned")]
GroupFilter = Annotated[str | None, Query(pattern=ids.GROUP_PATTERN)]


@router.get("/sessions", response_model=schemas.Sessions)
def list_sessions(
    actor: UserActor,
    session: ReadDB,
    state: StateDep,
    request: Request,
    groupid: GroupFilter = None,
    assigned_userid: UserFilter = None,
    state_: Annotated[str | None, Query(alias="state", max_length=20, pattern=PRINTABLE,
                                        description="open, closed, or open,closed; open when not given")] = None,
    full_list: Annotated[bool, Query(description="true: each session whole; false: its code, state, group, "
                                                 "assignee and dates")] = False,
    offset: Annotated[str | None, Query(max_length=20, pattern=PRINTABLE,
                                        description="next_offset of the previous page")] = None,
) -> schemas.Sessions:
    """The company's sessions, newest first, a page at a time."""
    now = utcnow()
    wanted = sessions.listing(session, actor.company_id, state=state_, groupid=groupid,
                              assigned_userid=assigned_userid, offset=offset)
    page, remaining = sessions.list_page(session, actor.company_id, wanted, now)
    base = _base(state, request)
    items = [sessions.session_object(r, now, base) if full_list else sessions.session_brief(r, now) for r in page]
    return schemas.Sessions(sessions=items, next_offset=items[-1].code if remaining else None,
                            sessions_remaining=remaining)


@router.get("/sessions/{code}", response_model=schemas.Session)
def get_session(code: str, actor: UserActor, session: ReadDB, state: StateDep, request: Request) -> schemas.Session:
    """One session by its code, in any spelling."""
    found = queue.find_request(session, company_id=actor.company_id, code=code)
    return sessions.session_object(found, utcnow(), _base(state, request))


@router.put("/sessions/{code}", status_code=204, response_class=Response)
def update_session(code: str, body: schemas.SessionUpdate, actor: UserActor, session: WriteDB) -> Response:
    """Change a session: any of its texts, its assignee (u0 unassigns), its group, or close it; all or nothing."""
    found = queue.find_request(session, company_id=actor.company_id, code=code, lock=True)
    sessions.update(session, request=found, actor=actor, body=body)
    session.flush()  # what the database refuses is refused here, in TeamViewer's shape, before the commit
    return Response(status_code=204)


@router.get("/reports/connections", response_model=schemas.Connections)
def connection_report(
    actor: UserActor,
    session: ReadDB,
    state: StateDep,
    userid: Annotated[str | None, Query(pattern=ids.USER_PATTERN)] = None,
    username: Annotated[str | None, Query(max_length=254, pattern=PRINTABLE)] = None,
    groupid: GroupFilter = None,
    session_code: Annotated[str | None, Query(max_length=20, pattern=PRINTABLE)] = None,
    from_date: Annotated[datetime | None, Query(description="ISO 8601; without a zone, UTC")] = None,
    to_date: Annotated[datetime | None, Query(description="ISO 8601; without a zone, UTC")] = None,
    offset_id: Annotated[str | None, Query(max_length=16, pattern=PRINTABLE,
                                           description="next_offset of the previous page")] = None,
) -> schemas.Connections:
    """Supporters' connections to sessions, oldest first, a page at a time: the company's for an admin, a
    supporter's own for a supporter (as the dashboard's reports are for admins only)."""
    filters = connections.Filters(userid=userid, username=username, groupid=groupid, session_code=session_code,
                                  from_date=_utc(from_date), to_date=_utc(to_date), offset_id=offset_id,
                                  only_user_id=None if actor.is_admin else actor.user.id)
    return connections.report(session, actor.company_id, state.broker.ids, filters)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        return value.astimezone(timezone.utc) if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    except OverflowError:
        raise errors.invalid("from_date and to_date take dates between the years 1 and 9999, in UTC") from None


@router.api_route("/{path:path}", methods=["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"],
                  include_in_schema=False)
def unknown(path: str, request: Request) -> Response:
    """Anything else under the prefix (declared last): TeamViewer's not_found rather than the native problem."""
    raise TvError(errors.NOT_FOUND, f"this API has no {request.method} {PREFIX}/{path}; "
                                    "see the TeamViewer compatibility part of /openapi.json")
