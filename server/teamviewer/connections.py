"""The connection report: each supporter's time in a request's session, from the request's history.

A connection starts with a ``joined`` event of a ``user:<id>`` party (``server.connect.presence``
records them as the supporter's sockets come and go; the REST join too) and ends with that party's
``left`` event, or the request's ``closed`` or ``expired`` event (which end every connection
without a ``left`` of their own). Records come oldest first, a page at a time.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, or_, select
from sqlalchemy.orm import Session, joinedload

from server.actors import USER_KEY_PREFIX
from server.event_ids import EventIds
from server.models import RequestEvent, ServiceRequest, User
from server.teamviewer import ids, schemas
from server.teamviewer.errors import invalid
from server.teamviewer.sessions import name_of
from sosqueue import codes
from sosqueue.events import ENDING_EVENTS, EventType

#: Records in one page, as TeamViewer's report gives them.
PAGE_SIZE = 1000


@dataclass(frozen=True)
class Filters:
    """Which connections ``GET /reports/connections`` asks for; None leaves a filter out."""

    userid: str | None = None
    username: str | None = None
    groupid: str | None = None
    session_code: str | None = None
    from_date: datetime | None = None
    to_date: datetime | None = None
    offset_id: str | None = None
    #: A supporter's report: their own connections only (admins see the whole company's, as in the dashboard).
    only_user_id: str | None = None


def report(session: Session, company_id: str, event_ids: EventIds, filters: Filters) -> schemas.Connections:
    where = _where(session, company_id, event_ids, filters)
    query = select(RequestEvent).where(*where).order_by(RequestEvent.id)
    found = list(session.scalars(query.limit(PAGE_SIZE + 1)))
    page, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
    remaining = 0
    if more:
        remaining = session.scalar(select(func.count()).select_from(RequestEvent)
                                   .where(*where, RequestEvent.id > page[-1].id))
    return schemas.Connections(
        records=_records(session, company_id, event_ids, page),
        records_remaining=remaining,
        next_offset=event_ids.public(company_id, found[PAGE_SIZE].id) if more else None,
    )


def _where(session: Session, company_id: str, event_ids: EventIds, filters: Filters) -> list:
    where = [RequestEvent.company_id == company_id, RequestEvent.type == EventType.JOINED.value,
             RequestEvent.actor.startswith(USER_KEY_PREFIX, autoescape=True)]
    if filters.userid is not None:
        user = ids.find_user(session, company_id, filters.userid)
        if user is None:
            raise invalid(f"userid {filters.userid} is not a user of your company; GET /users lists them")
        where.append(RequestEvent.actor == USER_KEY_PREFIX + user.id)
    if filters.only_user_id is not None:
        where.append(RequestEvent.actor == USER_KEY_PREFIX + filters.only_user_id)
    if filters.username is not None:
        named = select(literal(USER_KEY_PREFIX) + User.id).where(
            User.company_id == company_id, or_(User.name == filters.username, User.email == filters.username))
        where.append(RequestEvent.actor.in_(named))
    if filters.groupid is not None:
        group = ids.find_group(session, company_id, filters.groupid)
        if group is None:
            raise invalid(f"groupid {filters.groupid} is not a group of your company")
        where.append(RequestEvent.request_id.in_(select(ServiceRequest.id).where(ServiceRequest.group_id == group.id)))
    if filters.session_code is not None:
        try:
            where.append(RequestEvent.code == codes.normalize(filters.session_code))
        except codes.InvalidCode:
            raise invalid(f"session_code {filters.session_code!r} is not a session code like s12-345-678") from None
    if filters.from_date is not None:
        where.append(RequestEvent.created_at >= filters.from_date)
    if filters.to_date is not None:
        where.append(RequestEvent.created_at <= filters.to_date)
    if filters.offset_id is not None:
        number = event_ids.number(company_id, filters.offset_id)
        if number is None:
            raise invalid("offset_id is not a record id of this report; give next_offset of the previous page")
        where.append(RequestEvent.id >= number)
    return where


def _records(session: Session, company_id: str, event_ids: EventIds, joins: list[RequestEvent]
             ) -> list[schemas.Connection]:
    if not joins:
        return []
    request_ids = {join.request_id for join in joins}
    requests = {request.id: request for request in session.scalars(
        select(ServiceRequest).where(ServiceRequest.id.in_(request_ids)).options(joinedload(ServiceRequest.group)))}
    users = {user.id: user for user in session.scalars(
        select(User).where(User.id.in_({join.actor.removeprefix(USER_KEY_PREFIX) for join in joins})))}
    endings = defaultdict(list)
    for event in session.scalars(select(RequestEvent).where(
        RequestEvent.request_id.in_(request_ids), RequestEvent.id > joins[0].id,
        RequestEvent.type.in_([EventType.LEFT.value, *(event.value for event in ENDING_EVENTS)]),
    ).order_by(RequestEvent.id)):
        endings[event.request_id].append(event)
    return [_record(join, requests[join.request_id], users.get(join.actor.removeprefix(USER_KEY_PREFIX)),
                    _end(join, endings[join.request_id]), event_ids.public(company_id, join.id)) for join in joins]


def _end(join: RequestEvent, endings: list[RequestEvent]) -> datetime | None:
    """When the connection that ``join`` started ended: its party's leave, or the request's end
    (``endings``: the request's leaves and ends, oldest first)."""
    party = (join.data or {}).get("party", join.actor)
    for event in endings:
        if event.id > join.id and (event.type != EventType.LEFT.value or (event.data or {}).get("party") == party):
            return event.created_at
    return None


def _record(join: RequestEvent, request: ServiceRequest, user: User | None, end: datetime | None,
            record_id: str) -> schemas.Connection:
    user_id = join.actor.removeprefix(USER_KEY_PREFIX)
    return schemas.Connection(
        id=record_id,
        userid=ids.user_tv_id(user_id),
        username=name_of(user) if user else "",
        session_code=codes.display(request.code),
        groupid=ids.group_tv_id(request.group_id) if request.group_id else None,
        groupname=request.group.name if request.group else None,
        contact_name=request.end_customer_name,
        start_date=join.created_at,
        end_date=end,
        duration=shown_seconds_between(join.created_at, end) if end else None,
    )


def shown_seconds_between(start: datetime, end: datetime) -> int:
    """``end_date`` − ``start_date`` as the record shows them, in whole seconds (``schemas.tv_date``):
    what a reader who subtracts them gets, also across a second's boundary."""
    return max(0, int((end.replace(microsecond=0) - start.replace(microsecond=0)).total_seconds()))
