"""Sessions: the queue's requests as TeamViewer's Web API shows and changes them."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session as DbSession

from server import admin, links, queue
from server.actors import Actor
from server.lifecycle import CUSTOMER
from server.models import Company, Group, ServiceRequest, User, utcnow
from server.schemas import EndCustomer as QueueEndCustomer
from server.schemas import ServiceRequestCreate
from server.teamviewer import ids, schemas
from server.teamviewer.errors import invalid
from server.teamviewer.states import State, state_of, statuses_of
from sosqueue import codes
from sosqueue.statuses import Status

#: Sessions in one page of a listing.
PAGE_SIZE = 100


def session_object(request: ServiceRequest, now: datetime, base: str) -> schemas.Session:
    """The whole session object of ``request``; ``base`` is the server's public address (``server.links``)."""
    status = queue.effective_status(request, now)
    return schemas.Session(
        **_brief_fields(request, status),
        description=request.description,
        end_customer=schemas.EndCustomer(name=request.end_customer_name, email=request.end_customer_email),
        assigned_at=request.assigned_at if request.assignee_id else None,
        closed_at=_closed_at(request, status),
        waiting_message=request.waiting_message,
        custom_api=request.custom_api,
        online=any(participant.party == CUSTOMER for participant in request.participants),
        end_customer_link=links.end_customer_link(base, request.code),
        supporter_link=links.supporter_link(base, request.code),
    )


def session_brief(request: ServiceRequest, now: datetime) -> schemas.SessionBrief:
    return schemas.SessionBrief(**_brief_fields(request, queue.effective_status(request, now)))


def _brief_fields(request: ServiceRequest, status: Status) -> dict:
    return {
        "code": codes.display(request.code),
        "state": state_of(status),
        "groupid": ids.group_tv_id(request.group_id) if request.group_id else None,
        "assigned_userid": ids.user_tv_id(request.assignee_id) if request.assignee_id else None,
        "created_at": request.created_at,
        "valid_until": request.valid_until,
    }


def _closed_at(request: ServiceRequest, status: Status) -> datetime | None:
    if status == Status.EXPIRED:
        return request.closed_at or request.valid_until  # it expired at its deadline, swept or not
    return request.closed_at


# -- groups and users ----------------------------------------------------------------------


def resolve_group(session: DbSession, company_id: str, groupid: str | None, groupname: str | None) -> Group | None:
    """The company's group that ``groupid`` and ``groupname`` name (both given: they must agree); None if neither is."""
    group, _ = _group(session, company_id, groupid, groupname, create=False)
    return group


def group_or_new(session: DbSession, actor: Actor, groupid: str | None, groupname: str | None
                 ) -> tuple[Group | None, bool]:
    """As :func:`resolve_group`, but for an admin a ``groupname`` alone that names no group creates it, as
    TeamViewer makes a session group on first use (groups are the admins' to make, as in the native API);
    and whether it did (in ``session``'s transaction)."""
    return _group(session, actor.company_id, groupid, groupname, create=actor.is_admin)


def _group(session: DbSession, company_id: str, groupid: str | None, groupname: str | None, *,
           create: bool) -> tuple[Group | None, bool]:
    by_id = by_name = None
    created = False
    if groupid is not None:
        by_id = ids.find_group(session, company_id, groupid)
        if by_id is None:
            raise invalid(f"groupid {groupid} is not a group of your company (sessions' groupid shows them)")
    if groupname is not None:
        by_name = _group_named(session, company_id, groupname)
        if by_name is None and create and by_id is None:
            by_name, created = _new_group(session, company_id, groupname)
        elif by_name is None:
            raise invalid(f"there is no group named {groupname!r} in your company; give the name of one of its "
                          "groups, or let an admin's token create it on first use (or an admin on the dashboard)")
    if by_id is not None and by_name is not None and by_id.id != by_name.id:
        raise invalid(f"groupid {groupid} and groupname {groupname!r} name two different groups; give one of them")
    return by_id or by_name, created


def forget_new_group(db, group: Group) -> None:
    """Remove a group a refused creation made, unless something uses it already (a concurrent creation)."""
    with db.write() as session:
        unused = session.scalar(select(func.count()).select_from(ServiceRequest)
                                .where(ServiceRequest.group_id == group.id)) == 0
        if unused:
            session.execute(delete(Group).where(Group.id == group.id))


def _group_named(session: DbSession, company_id: str, name: str) -> Group | None:
    return session.scalar(select(Group).where(Group.company_id == company_id, Group.name == name))


def _new_group(session: DbSession, company_id: str, name: str) -> tuple[Group, bool]:
    """A new group ``name``, or the one a concurrent call created a moment ago; and whether it is new."""
    try:
        return admin.create_group(session, company=session.get(Company, company_id), name=name), True
    except queue.Conflict:
        return _group_named(session, company_id, name), False


def resolve_user(session: DbSession, company_id: str, userid: str) -> User | None:
    """The company's active user of ``userid``; None for ``u0`` (nobody)."""
    if userid == ids.NOBODY:
        return None
    user = ids.find_user(session, company_id, userid)
    if user is None:
        raise invalid(f"assigned_userid {userid} is not an active user of your company; GET /users lists them")
    return user


def name_of(user: User) -> str:
    """How TeamViewer's name fields show a user: their display name, else their email."""
    return user.name or user.email


def users_of(session: DbSession, company_id: str) -> list[schemas.User]:
    """The company's active users, as ``GET /users`` lists them."""
    found = session.scalars(select(User).where(User.company_id == company_id, User.active.is_(True))
                            .order_by(User.email))
    users = [schemas.User(id=ids.user_tv_id(user.id), name=name_of(user), email=user.email)
             for user in found]
    if len({user.id for user in users}) != len(users):
        raise ids.IdCollision("two users of this company have the same TeamViewer id; sosqueue refuses to guess")
    return users


# -- creation ------------------------------------------------------------------------------


def creation_payload(body: schemas.SessionCreate, group: Group | None) -> ServiceRequestCreate:
    """What the queue files for ``body``: a manual request of ``group``."""
    return ServiceRequestCreate(
        description=body.description,
        end_customer=QueueEndCustomer(name=body.end_customer.name, email=body.end_customer.email),
        group=group.name if group else None,
        waiting_message=body.waiting_message,
        custom_api=body.custom_api,
    )


# -- listing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """What ``GET /sessions`` asks for, its ids resolved in the caller's company."""

    states: set[State]
    group_id: str | None
    assignee: str | None  # a user id, or "none" for the unassigned (queue.request_filters)
    before_id: int | None  # the offset's request: the page continues after it


def parse_states(text: str | None) -> set[State]:
    """``open``, ``closed`` or both, comma-separated, in any case; open when not given."""
    if not text:
        return {State.OPEN}
    names = {part.strip().lower() for part in text.split(",") if part.strip()}
    known = {state.value.lower(): state for state in State}
    if not names or names - set(known):
        raise invalid("state takes open, closed, or both comma-separated (open,closed)")
    return {known[name] for name in names}


def listing(session: DbSession, company_id: str, *, state: str | None, groupid: str | None,
            assigned_userid: str | None, offset: str | None) -> Listing:
    group = resolve_group(session, company_id, groupid, None) if groupid is not None else None
    assignee = None
    if assigned_userid is not None:
        user = resolve_user(session, company_id, assigned_userid)
        assignee = user.id if user else "none"
    before_id = None
    if offset is not None:
        try:
            before_id = queue.find_request(session, company_id=company_id, code=offset, participants=False).id
        except queue.NotFound:
            raise invalid(f"offset {offset} is not a session code of your company; give next_offset "
                          "of the previous page") from None
    return Listing(parse_states(state), group.id if group else None, assignee, before_id)


def list_page(session: DbSession, company_id: str, wanted: Listing, now: datetime
              ) -> tuple[list[ServiceRequest], int]:
    """A page of the company's sessions, newest first, and how many come after it."""
    statuses = statuses_of(wanted.states)
    page, after = queue.list_requests(session, company_id=company_id, statuses=statuses, assignee=wanted.assignee,
                                      group_id=wanted.group_id, limit=PAGE_SIZE, before_id=wanted.before_id, now=now)
    remaining = 0
    if after is not None:
        where = queue.request_filters(company_id=company_id, statuses=statuses, assignee=wanted.assignee,
                                      group_id=wanted.group_id, topic=None, now=now)
        remaining = session.scalar(select(func.count()).select_from(ServiceRequest)
                                   .where(*where, ServiceRequest.id < page[-1].id))
    return page, remaining


# -- changes -------------------------------------------------------------------------------


def update(session: DbSession, *, request: ServiceRequest, actor: Actor, body: schemas.SessionUpdate) -> None:
    """Apply ``body`` to the request, all of it or (raising) nothing: every id is checked before anything changes."""
    given = body.model_fields_set
    moving = body.groupid is not None or body.groupname is not None
    group, _ = group_or_new(session, actor, body.groupid, body.groupname) if moving else (None, False)
    assigning = body.assigned_userid is not None
    assignee = resolve_user(session, actor.company_id, body.assigned_userid) if assigning else None
    changes = {name: getattr(body, name) for name in ("description", "waiting_message", "custom_api")
               if name in given and getattr(body, name) is not None}
    if body.end_customer is not None:
        for field in ("name", "email"):
            if getattr(body.end_customer, field) is not None:
                changes[f"end_customer_{field}"] = getattr(body.end_customer, field)
    if moving:
        changes["group_id"] = group.id
    queue.amend(session, request=request, actor=actor, changes=changes)
    user_id = assignee.id if assignee else None
    if assigning and request.assignee_id != user_id:
        queue.assign(session, request=request, actor=actor, user_id=user_id)
    if body.state is not None and state_of(queue.effective_status(request, utcnow())) == State.OPEN:
        queue.close(session, request=request, actor=actor)  # closing a closed session again changes nothing
