"""The service queue's operations. Routes decide who may act; this module changes state."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import (JSON, String, TextClause, and_, bindparam, delete, func, insert, literal, or_, select, text,
                        update)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, joinedload, lazyload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from server import driver_sql, lifecycle
from sosqueue import codes
from server.actors import Actor
from server.assignment import Choice, choose_assignee
from server.lifecycle import Presence
from sosqueue.events import MAX_NOTES_PER_REQUEST, EventType
from sosqueue.statuses import OPEN_STATUSES, Status
from server.models import (
    OPEN_STATUS_SQL,
    Company,
    Group,
    GroupMember,
    IdempotencyKey,
    Module,
    ModuleBrand,
    Participant,
    RequestEvent,
    ServiceRequest,
    UTCDateTime,
    User,
    utcnow,
)
from server.schemas import ServiceRequestCreate
from sosqueue import module_config

_CODE_ATTEMPTS = 20
_KEPT_COMPANIES = "companies"  # session.info: the company rows read by expiry_for, held to the session's end
_OPEN = [status.value for status in OPEN_STATUSES]


class NotFound(LookupError):
    """No such thing for this company (also what a foreign company's things look like)."""


class IdempotencyMismatch(ValueError):
    """An Idempotency-Key was reused with a different request body."""


class IdempotencyRace(Exception):
    """Another transaction stored the same Idempotency-Key first; retry to replay its request."""


class Conflict(ValueError):
    """A change that the request's current state does not allow."""


class AlreadyClaimed(Conflict):
    """The request was claimed by its code before, and this claim is not the claimant's retry."""


@dataclass(frozen=True)
class Created:
    request: ServiceRequest
    replayed: bool


def effective_status(request: ServiceRequest, now: datetime) -> Status:
    """The status to serve: an open request past its deadline is expired, swept or not."""
    status = Status(request.status)
    if status.is_open and request.valid_until <= now:
        return Status.EXPIRED
    return status


def record_event(
    session: Session, request: ServiceRequest, *, type: EventType, actor: str, data: dict | None = None
) -> RequestEvent:
    event = RequestEvent(
        request_id=request.id,
        company_id=request.company_id,
        code=request.code,
        type=type,
        actor=actor,
        status=request.status,
        data=data or {},
        created_at=utcnow(),
    )
    session.add(event)
    session.info.setdefault("events", []).append(event)
    return event


# -- creation ------------------------------------------------------------------------------


#: Fields added later: left out of the fingerprint while empty, so a key stored before they existed still matches.
_LATER_FIELDS = ("waiting_message", "custom_api")


def body_fingerprint(payload: ServiceRequestCreate) -> str:
    fields = payload.model_dump(mode="json")
    for name in _LATER_FIELDS:
        if not fields[name]:
            del fields[name]
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def find_idempotent(session: Session, *, actor: Actor, key: str, fingerprint: str) -> ServiceRequest | None:
    record = _idempotency_record(session, principal=actor.key, key=key, fingerprint=fingerprint)
    return None if record is None else session.get(ServiceRequest, record.request_id)


def _idempotency_record(session: Session, *, principal: str, key: str, fingerprint: str) -> IdempotencyKey | None:
    """What ``key`` did before for ``principal``; the same key with another body is refused."""
    record = session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.principal == principal, IdempotencyKey.key == key)
    )
    if record is not None and record.body_hash != fingerprint:
        raise IdempotencyMismatch(
            "this Idempotency-Key was already used with a different body; use a new key"
        )
    return record


def expiry_for(session: Session, company_id: str, default_hours: float) -> timedelta:
    """How long the company's new requests stay open: its own setting, or the server's."""
    # The whole row, held by the session to its end: the notification outbox reads it from there at
    # commit, and the other filings of a batch read it from there too (a session's identity map
    # holds rows only weakly, so without this reference each would read it again).
    kept = session.info.setdefault(_KEPT_COMPANIES, {})
    if company_id not in kept:
        kept[company_id] = session.get(Company, company_id)
    company = kept[company_id]
    return timedelta(hours=(company.expiry_hours if company else None) or default_hours)


def create_request(
    session: Session,
    *,
    actor: Actor,
    payload: ServiceRequestCreate,
    source: str,
    expiry: timedelta,
    idempotency_key: str | None = None,
    attach: bool = True,
) -> Created:
    """File a new request, or return the one this idempotency key already filed.

    The rows go in on the driver's cursor, not through the ORM's unit of work (which costs several
    times more per row); the request is built as stored and, with ``attach``, added to the session,
    so that what changes it later in this transaction is written. Without (the filings of the
    group commit, which change nothing after), adding it would cost more than its insert: the
    notification outbox, the only other reader in the transaction, then loads it by its id when it
    has someone to notify.
    """
    if idempotency_key is not None:
        fingerprint = body_fingerprint(payload)
        _lock_idempotency_key(session, principal=actor.key, key=idempotency_key)
        existing = find_idempotent(session, actor=actor, key=idempotency_key, fingerprint=fingerprint)
        if existing is not None:
            return Created(existing, replayed=True)
    now = utcnow()
    route = _resolve_group(session, actor=actor, name=payload.group, topic=payload.topic)
    group_id = route.group.id if route.group else None
    choice = _auto_assign(session, module=actor.module, group_id=group_id, now=now) if actor.module else None
    assignee = choice.user if choice else None
    row = {
        "company_id": actor.company_id,
        "group_id": group_id,
        "module_id": actor.module.id if actor.module else None,
        "source": source,
        "status": Status.NEW.value,
        "topic": payload.topic or "",
        "description": payload.description,
        "end_customer_name": payload.end_customer.name,
        "end_customer_email": payload.end_customer.email,
        "diagnostics": payload.diagnostics,
        "assignee_id": assignee.id if assignee else None,
        "created_by": actor.key,
        "session_started": False,
        "created_at": now,
        "assigned_at": now if assignee else None,
        "first_joined_at": None,
        "escalated_at": None,
        "lapsed_by": [],
        "valid_until": now + expiry,
        "closed_at": None,
        "closed_by": None,
        "waiting_message": payload.waiting_message,
        "custom_api": payload.custom_api,
    }
    created = {"source": source, **({"routing": route.note} if route.note else {})}
    events = [(EventType.CREATED, actor.key, created)]
    if choice is not None:
        assigned = {"assignee": row["assignee_id"], "strategy": actor.module.assignment, "reason": choice.reason}
        events.append((EventType.ASSIGNED, "system", assigned))
    request = _insert_filed(session, row, events, group=route.group, assignee=assignee, attach=attach)
    if idempotency_key is not None:
        try:
            _remember_key(session, principal=actor.key, key=idempotency_key, fingerprint=fingerprint, request=request,
                          now=now)
        except BaseException:
            if attach:
                session.expunge(request)  # its row goes with the rollback; the session must not keep it
            raise
    return Created(request, replayed=False)


FirstEvents = list[tuple[EventType, str, dict]]
"""A new request's first events: type, actor and data of each, in order."""


def _insert_filed(session: Session, row: dict, events: FirstEvents, *, group: Group | None,
                  assignee: User | None, attach: bool) -> ServiceRequest:
    """Insert the request under a free random code, and its first events (``record_event`` for
    them, on the driver's cursor); returns it as stored (attached to the session with ``attach``).

    On PostgreSQL the request and its events go in as one statement: one round trip where there
    would be one per row, for each filing the group commit's writer waits on in turn.
    """
    connection = session.connection()
    together = connection.dialect.name == "postgresql"
    if together:
        statement = _insert_with_events(len(events), connection.dialect)
    else:
        statement = _insert_unless_present(ServiceRequest, ("code",))
    for _ in range(_CODE_ATTEMPTS):
        code = codes.generate()
        if together:
            parameters = {**row, "code": code, **_event_parameters(events)}
            request_id, event_ids = driver_sql.first_row(connection, statement, parameters)
        else:
            request_id, event_ids = driver_sql.first_value(connection, statement, {**row, "code": code}), None
        if request_id is not None:
            break
    else:
        raise RuntimeError("could not find a free session code; the code space is exhausted")
    request = _as_stored(ServiceRequest, {"id": request_id, "code": code, **row})
    # nobody has joined yet (participants); group and assignee are known: no lazy loads later
    for name, value in (("group", group), ("assignee", assignee), ("participants", [])):
        set_committed_value(request, name, value)
    make_transient_to_detached(request)
    if attach:
        session.add(request)
    try:
        _record_first_events(session, request, events, event_ids)
    except BaseException:
        if attach:
            session.expunge(request)  # its row goes with the rollback; the session must not keep it
        raise
    return request


def _record_first_events(session: Session, request: ServiceRequest, events: FirstEvents,
                         ids: list[int] | None) -> None:
    """Keep the events for the commit hooks; insert them first unless they went in with the request
    (``ids``)."""
    connection, statement = session.connection(), _insert_unless_present(RequestEvent)
    recorded = session.info.setdefault("events", [])
    for index, (type, actor, data) in enumerate(events):
        row = {"request_id": request.id, "company_id": request.company_id, "code": request.code, "type": type,
               "actor": actor, "status": request.status, "data": data, "created_at": request.created_at}
        event_id = ids[index] if ids is not None else driver_sql.first_value(connection, statement, row)
        recorded.append(_as_stored(RequestEvent, {"id": event_id, **row}))


_EVENT_COLUMNS = ("type", "actor", "data")  # the rest of an event's row is its request's


def _event_parameters(events: FirstEvents) -> dict:
    return {f"event_{name}_{index}": value
            for index, event in enumerate(events) for name, value in zip(_EVENT_COLUMNS, event)}


def _insert_with_events(count: int, dialect: Dialect) -> TextClause:
    """PostgreSQL: the request's ``INSERT … ON CONFLICT (code) DO NOTHING`` and, if it went in, its
    ``count`` first events, in one statement that returns the request's id and the events' ids in
    their order (or no id when the code is taken: then no event went in either)."""
    statement = _WITH_EVENTS.get(count)
    if statement is None:
        shared = ("company_id", "code", "status", "created_at")  # an event's columns taken from its request
        columns = RequestEvent.__table__.c
        # a text's cast without its length, which would cut a value short where the column refuses it
        casts = {name: (String() if isinstance(columns[name].type, String) else columns[name].type).compile(dialect)
                 for name in _EVENT_COLUMNS}
        event_values = ", ".join(
            "(" + ", ".join([str(index)] + [f"CAST(:event_{name}_{index} AS {casts[name]})"
                                            for name in _EVENT_COLUMNS]) + ")"
            for index in range(count))
        sql = (
            f"WITH request AS ({_insert_sql(ServiceRequest, ('code',))} "
            f"RETURNING id, {', '.join(shared)}), "
            f"events AS (INSERT INTO {RequestEvent.__tablename__} "
            f"(request_id, {', '.join(shared)}, {', '.join(_EVENT_COLUMNS)}) "
            f"SELECT request.id, {', '.join('request.' + name for name in shared)}, "
            f"{', '.join('event.' + name for name in _EVENT_COLUMNS)} "
            f"FROM request, (VALUES {event_values}) AS event(position, {', '.join(_EVENT_COLUMNS)}) "
            f"ORDER BY event.position RETURNING id) "
            f"SELECT (SELECT id FROM request), ARRAY(SELECT id FROM events ORDER BY id)"
        )
        types = [bindparam(f"event_{name}_{index}", type_=columns[name].type)
                 for index in range(count) for name in _EVENT_COLUMNS]
        statement = text(sql).bindparams(*_column_binds(ServiceRequest), *types)
        _WITH_EVENTS[count] = statement
    return statement


_WITH_EVENTS: dict[int, TextClause] = {}


def _lock_idempotency_key(session: Session, *, principal: str, key: str) -> None:
    """Make concurrent creations with one key take turns (SQLite writers already do)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"{principal}\n{key}", 0))))


def _remember_key(
    session: Session, *, principal: str, key: str, fingerprint: str, request: ServiceRequest, now: datetime
) -> None:
    row = {"principal": principal, "key": key, "body_hash": fingerprint, "request_id": request.id, "created_at": now}
    statement = _insert_unless_present(IdempotencyKey, ("principal", "key"))
    if driver_sql.first_value(session.connection(), statement, row) is None:
        # A concurrent retry with the same key committed first; the caller starts over and replays it.
        raise IdempotencyRace()


def _as_stored(model: type, row: dict):
    """A ``model`` object holding ``row`` as its stored state, as a query loads one: past ``__init__``,
    whose attribute events cost more than the insert itself."""
    instance = model.__mapper__.class_manager.new_instance()
    instance.__dict__.update(row)
    return instance


def _insert_unless_present(model: type, unique: tuple[str, ...] = ()) -> TextClause:
    """``INSERT … [ON CONFLICT (unique) DO NOTHING] RETURNING id`` of all columns but the id: the new
    id, or no row when ``unique`` is taken.

    As text with typed parameters, in the SQL SQLite (>= 3.35) and PostgreSQL share, built once: an
    ``insert()`` construct with ON CONFLICT is compiled again on every call (as in server.ratelimit).
    """
    statement = _INSERTS.get((model, unique))
    if statement is None:
        statement = text(f"{_insert_sql(model, unique)} RETURNING id").bindparams(*_column_binds(model))
        _INSERTS[(model, unique)] = statement
    return statement


def _insert_sql(model: type, unique: tuple[str, ...]) -> str:
    """``INSERT … [ON CONFLICT (unique) DO NOTHING]`` of all columns but the id, each its own parameter."""
    columns = _inserted_columns(model)
    names = ", ".join(f'"{column.name}"' for column in columns)
    values = ", ".join(f":{column.name}" for column in columns)
    conflict = f" ON CONFLICT ({', '.join(unique)}) DO NOTHING" if unique else ""
    return f"INSERT INTO {model.__tablename__} ({names}) VALUES ({values}){conflict}"


def _column_binds(model: type) -> list:
    return [bindparam(column.name, type_=column.type) for column in _inserted_columns(model)]


def _inserted_columns(model: type) -> list:
    return [column for column in model.__table__.columns if column.name != "id"]


_INSERTS: dict[tuple[type, tuple[str, ...]], TextClause] = {}


@dataclass(frozen=True)
class Route:
    """Where a new request goes, and why not where it asked to, if so (kept in its created event)."""

    group: Group | None
    note: str = ""


def _resolve_group(session: Session, *, actor: Actor, name: str | None, topic: str | None = None) -> Route:
    if actor.module is not None:
        module_group = actor.module.group
        if name is not None and (module_group is None or module_group.name != name):
            raise NotFound(f"this module files requests only for its own group, not {name!r}")
        return _topic_route(session, actor.module, topic) if topic else Route(module_group)
    if name is None:
        return Route(None)
    group = session.scalar(select(Group).where(Group.company_id == actor.company_id, Group.name == name))
    if group is None:
        raise NotFound(f"there is no group {name!r}; create it first or leave group out")
    return Route(group)


def _topic_route(session: Session, module: Module, label: str) -> Route:
    """The group of ``module``'s topic ``label``.

    A label the module no longer offers (its topics changed while the customer had the old ones on
    screen, or the request waited in the agent's outbox) is filed all the same, for the module's own
    group, with the label kept: refusing it would lose the customer's request. So is a topic whose
    group was deleted since.
    """
    topic = next((topic for topic in module_topics(session, module.id) if topic.label == label), None)
    if topic is None:
        return Route(module.group, f"topic {label!r} is not one of the module's topics (any more): "
                                   "filed for the module's own group")
    if not topic.group:
        return Route(module.group)
    group = session.scalar(select(Group).where(Group.company_id == module.company_id, Group.name == topic.group))
    if group is None:
        return Route(module.group, f"topic {label!r} goes to group {topic.group!r}, which no longer exists: "
                                   "filed for the module's own group")
    return Route(group)


def module_topics(session: Session, module_id: str) -> tuple[module_config.Topic, ...]:
    """The topics a module offers: those of its stored brand (none without one, or with unreadable options)."""
    options = session.scalar(select(ModuleBrand.options).where(ModuleBrand.module_id == module_id))
    try:
        return module_config.options_from_json(options).topics if options else ()
    except (TypeError, ValueError):
        return ()


def _auto_assign(session: Session, *, module: Module, group_id: str | None, now: datetime) -> Choice:
    """Who a new request of ``module`` goes to; chosen before it is inserted, which changes no pick:
    a request without an assignee counts for nobody."""
    turns = module.assignment in ("round_robin", "least_open")
    if turns:  # picks that depend on the other picks take turns; none and fixed need no lock
        # Lock the module row so that concurrent round-robin picks take turns (PostgreSQL), and read it
        # afresh (populate_existing): the session may hold it from the token's check.
        # FOR NO KEY UPDATE: request rows of this module inserted by this transaction hold KEY SHARE
        # locks on it (their foreign key), which a plain FOR UPDATE would wait for and deadlock on.
        module = session.scalar(select(Module).where(Module.id == module.id).with_for_update(key_share=True)
                                .execution_options(populate_existing=True))
    choice = choose_assignee(session, module=module, group_id=group_id, now=now)
    if turns and choice.user is not None:
        module.last_assigned_user_id = choice.user.id
    return choice


# -- look-ups ------------------------------------------------------------------------------


def find_request(session: Session, *, company_id: str, code: str, lock: bool = False,
                 participants: bool = True) -> ServiceRequest:
    """The company's request with this code, in any spelling; ``participants=False`` leaves them to
    be loaded when first touched (one query fewer where they are not needed)."""
    try:
        canonical = codes.normalize(code)
    except codes.InvalidCode:
        raise NotFound("no service request with this code") from None
    query = select(ServiceRequest).where(
        ServiceRequest.code == canonical, ServiceRequest.company_id == company_id
    )
    if not participants:
        query = query.options(lazyload(ServiceRequest.participants))
    request = session.scalar(query.with_for_update() if lock else query)
    if request is None:
        raise NotFound("no service request with this code")
    return request


def status_filter(statuses: set[Status], now: datetime):
    """A WHERE clause that filters on the effective status, deadlines included."""
    clauses = []
    open_wanted = [s.value for s in statuses if s.is_open]
    if open_wanted:
        clauses.append(and_(*_open_only(open_wanted), ServiceRequest.valid_until > now))
    if Status.CLOSED in statuses:
        clauses.append(ServiceRequest.status == Status.CLOSED.value)
    if Status.EXPIRED in statuses:
        clauses.append(
            or_(
                ServiceRequest.status == Status.EXPIRED.value,
                and_(text(OPEN_STATUS_SQL), ServiceRequest.valid_until <= now),
            )
        )
    return or_(*clauses)


def _open_only(wanted: list[str]) -> list:
    """The stored statuses ``wanted`` (open ones), as the open-only partial indexes need it.

    Led by the indexes' own clause word for word: SQLite, and PostgreSQL's generic plans (bound
    parameters), use a partial index only then. A subset is what it leaves out (NOT IN): PostgreSQL
    counts a second IN on status as if it were independent of the first and then expects a handful of
    rows, too few to read in id order (ix_requests_company_status_id and a sort instead).
    """
    left_out = [status for status in _OPEN if status not in wanted]
    return [text(OPEN_STATUS_SQL), *([ServiceRequest.status.not_in(left_out)] if left_out else [])]


def request_filters(*, company_id: str, statuses: set[Status] | None, assignee: str | None, group_id: str | None,
                    topic: str | None, now: datetime) -> list:
    """The WHERE clauses of a listing of the company's requests: by effective status, assignee (a user id,
    or "none" for the unassigned), group and topic (exactly; "" for none); None leaves a filter out."""
    clauses = [ServiceRequest.company_id == company_id]
    if statuses:
        clauses.append(status_filter(statuses, now))
    if assignee == "none":
        clauses.append(ServiceRequest.assignee_id.is_(None))
    elif assignee is not None:
        clauses.append(ServiceRequest.assignee_id == assignee)
    if group_id is not None:
        clauses.append(ServiceRequest.group_id == group_id)
    if topic is not None:
        clauses.append(ServiceRequest.topic == topic)
    return clauses


def list_requests(
    session: Session,
    *,
    company_id: str,
    statuses: set[Status] | None,
    assignee: str | None,
    group_id: str | None,
    limit: int,
    before_id: int | None,
    now: datetime,
    topic: str | None = None,
) -> tuple[list[ServiceRequest], int | None]:
    """Newest first; returns the page and the id to continue before, if there is more. ``topic`` is
    matched exactly; "" finds the requests without one."""
    open_only = bool(statuses) and all(status.is_open for status in statuses)
    where = request_filters(company_id=company_id, statuses=None if open_only else statuses, assignee=assignee,
                            group_id=group_id, topic=topic, now=now)
    if open_only:
        # Open requests are the recent ones, a correlation PostgreSQL's statistics do not see: with the
        # deadline in the query it expects a handful of rows, reads all open ones by deadline and sorts
        # them (44 ms at 1M stored). Without it, they come in id order from ix_requests_open_id; the few
        # past their deadline (not swept yet) are left out here.
        where.extend(_open_only([status.value for status in statuses]))
    query = select(ServiceRequest).where(*where).options(
        joinedload(ServiceRequest.group), joinedload(ServiceRequest.assignee))
    return _newest_first(session, query, limit=limit, before_id=before_id,
                         keep=(lambda request: request.valid_until > now) if open_only else None)


def _newest_first(session: Session, query, *, limit: int, before_id: int | None, keep) -> tuple[list, int | None]:
    """A page of ``query``'s rows that ``keep`` keeps (all without it), by id descending, and the id to
    continue before; reads on while rows left out leave the page short."""
    found = []
    while True:
        rows = list(session.scalars((query if before_id is None else query.where(ServiceRequest.id < before_id))
                                    .order_by(ServiceRequest.id.desc()).limit(limit + 1)))
        found += rows if keep is None else [row for row in rows if keep(row)]
        if len(found) > limit or len(rows) <= limit:
            break
        before_id = rows[-1].id
    page = found[:limit]
    return page, (page[-1].id if len(found) > limit else None)


# -- changes -------------------------------------------------------------------------------


def _require_open(request: ServiceRequest, action: str, now: datetime) -> None:
    lifecycle.require_open(effective_status(request, now), action)


def assign(
    session: Session, *, request: ServiceRequest, actor: Actor, user_id: str | None, reason: str | None = None
) -> None:
    now = utcnow()
    _require_open(request, "assigned", now)
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or user.company_id != request.company_id or not user.active:
            raise NotFound("no active user with this id in your company")
    if request.assignee_id == user_id:
        return
    request.assignee_id = user_id
    request.assigned_at = now
    request.escalated_at = None  # a new assignment starts a new wait
    data = {"assignee": user_id} | ({"reason": reason} if reason else {})
    record_event(session, request, type=EventType.ASSIGNED, actor=actor.key, data=data)


def claim(session: Session, *, request: ServiceRequest, actor: Actor, idempotency_key: str | None = None) -> bool:
    """Record that a customer's module took over this open request by its code; True when this is
    the claimant's retry (the same module and ``idempotency_key`` claimed it before), which records nothing.

    Only requests a supporter created by hand can be claimed: a module token ships inside
    every customer's download, and must not open other customers' requests by guessing codes.
    A request is claimed once, since the claim answers with the token that opens it: anyone else
    with the module and the code is refused. The caller holds the request's row lock, so
    concurrent claims take turns and only the first one finds the request unclaimed.
    """
    if request.source != "manual":
        raise NotFound("no service request with this code")
    now = utcnow()
    _require_open(request, "claimed", now)  # a retry too: the token is of no use on a closed request
    # The claim's key is kept among the idempotency keys under a principal of the request's own (no
    # caller's principal has a "claim:" prefix); its body_hash holds the claimant, not a body.
    principal = f"claim:{request.id}"
    claimant = hashlib.sha256(actor.key.encode()).hexdigest()
    if idempotency_key is not None and session.scalar(
        select(IdempotencyKey.id).where(IdempotencyKey.principal == principal, IdempotencyKey.key == idempotency_key,
                                        IdempotencyKey.body_hash == claimant)
    ):
        return True
    if session.scalar(select(RequestEvent.id).where(RequestEvent.request_id == request.id,
                                                    RequestEvent.type == EventType.CLAIMED.value).limit(1)):
        raise AlreadyClaimed("this request was already claimed by its code; "
                             "ask the supporter to create a new request for this customer")
    record_event(session, request, type=EventType.CLAIMED, actor=actor.key)
    if idempotency_key is not None:
        session.add(IdempotencyKey(principal=principal, key=idempotency_key, body_hash=claimant,
                                   request_id=request.id, created_at=now))
    return False


def close(session: Session, *, request: ServiceRequest, actor: Actor) -> None:
    now = utcnow()
    request.status = lifecycle.close(effective_status(request, now)).value
    request.closed_at = now
    request.closed_by = actor.key
    session.execute(delete(Participant).where(Participant.request_id == request.id))
    record_event(session, request, type=EventType.CLOSED, actor=actor.key)


#: What ``amend`` changes: the request's own texts, and its group.
AMENDABLE = frozenset({"description", "end_customer_name", "end_customer_email", "waiting_message", "custom_api",
                       "group_id"})


def amend(session: Session, *, request: ServiceRequest, actor: Actor, changes: dict[str, str | None]) -> None:
    """Change the open request's ``changes`` (columns of :data:`AMENDABLE` to their new values), with one
    ``updated`` event; values it already has change nothing, and a request that is no longer open refuses
    any other. ``group_id`` must be a group of the request's company (the caller checks it)."""
    if unknown := set(changes) - AMENDABLE:
        raise ValueError(f"not changed by amend: {sorted(unknown)}")
    changed = {name: value for name, value in changes.items() if getattr(request, name) != value}
    if not changed:
        return
    _require_open(request, "changed", utcnow())
    for name, value in changed.items():
        setattr(request, name, value)
    data: dict = {"fields": sorted(changed)}
    if "group_id" in changed:
        request.escalated_at = None  # the wait in its new group starts afresh, as after a new assignment
        session.expire(request, ["group"])
        data["group"] = changed["group_id"]
    record_event(session, request, type=EventType.UPDATED, actor=actor.key, data=data)


def add_note(
    session: Session, *, request: ServiceRequest, actor: Actor, text: str, idempotency_key: str | None = None
) -> bool:
    """Add the customer's ``text`` to the open request's history; True when ``idempotency_key`` already did.

    The caller holds the request's row lock, so retries with one key take turns.
    """
    # Keys are remembered per request: a customer token opens just one.
    principal = f"{actor.key}:{request.id}"
    fingerprint = hashlib.sha256(text.encode()).hexdigest()
    if idempotency_key is not None and _idempotency_record(
        session, principal=principal, key=idempotency_key, fingerprint=fingerprint
    ):
        return True
    now = utcnow()
    _require_open(request, "added to", now)
    _require_room_for_a_note(session, request)
    record_event(session, request, type=EventType.NOTE_ADDED, actor=actor.key, data={"text": text})
    if idempotency_key is not None:
        _remember_key(session, principal=principal, key=idempotency_key, fingerprint=fingerprint, request=request,
                      now=now)
    return False


def _require_room_for_a_note(session: Session, request: ServiceRequest) -> None:
    # Counted in the database under the request's row lock, so the limit holds for every server process.
    notes = session.scalar(select(func.count()).select_from(RequestEvent).where(
        RequestEvent.request_id == request.id, RequestEvent.type == EventType.NOTE_ADDED))
    if notes >= MAX_NOTES_PER_REQUEST:
        raise Conflict(f"this request already has {MAX_NOTES_PER_REQUEST} notes, the most it takes; "
                       "tell your supporter the rest in the chat or on the phone")


def _presence(request: ServiceRequest) -> Presence:
    return Presence(
        parties=frozenset(p.party for p in request.participants), started=request.session_started
    )


def join(session: Session, *, request: ServiceRequest, party: str, actor: Actor) -> None:
    now = utcnow()
    before = _presence(request)
    after = lifecycle.join(effective_status(request, now), before, party)
    if after == before:
        return
    session.add(Participant(request_id=request.id, party=party, joined_at=now))
    request.session_started = True
    if party != lifecycle.CUSTOMER and request.first_joined_at is None:
        request.first_joined_at = now
    _apply_presence(session, request=request, presence=after, actor=actor, type=EventType.JOINED, party=party)


def leave(session: Session, *, request: ServiceRequest, party: str, actor: Actor) -> None:
    now = utcnow()
    before = _presence(request)
    after = lifecycle.leave(effective_status(request, now), before, party)
    if after == before:
        return
    session.execute(
        delete(Participant).where(Participant.request_id == request.id, Participant.party == party)
    )
    _apply_presence(session, request=request, presence=after, actor=actor, type=EventType.LEFT, party=party)


def _apply_presence(
    session: Session, *, request: ServiceRequest, presence: Presence, actor: Actor, type: EventType, party: str
) -> None:
    session.expire(request, ["participants"])
    old, new = request.status, lifecycle.status_for(presence).value
    request.status = new
    record_event(session, request, type=type, actor=actor.key, data={"party": party})
    if old != new:
        record_event(session, request, type=EventType.STATUS_CHANGED, actor=actor.key, data={"from": old, "to": new})


def expire_due(session: Session, *, now: datetime, batch: int = 5000) -> int:
    """Mark open requests past their deadline as expired, with an event each; returns how many.

    Set-based: the batch is chosen, expired, unjoined and given its events by the database itself,
    without a round trip per request or a parameter per id; each event comes back to be published.
    """
    # The partial index ix_requests_open_deadline's own WHERE clause, word for word: SQLite uses a
    # partial index only then (bound parameters, or another order, hide it).
    table = ServiceRequest.__table__
    due = (select(table.c.id).where(text(OPEN_STATUS_SQL), table.c.valid_until <= now)
           .order_by(table.c.valid_until, table.c.id).limit(batch))
    if session.get_bind().dialect.name == "postgresql":
        rows = _expire_in_one_statement(session, due, now)
    else:
        rows = _expire_one_writer(session, due, now)
    events = sorted((SimpleNamespace(**row._mapping, type=EventType.EXPIRED.value, actor=_SWEEPER,
                                     status=Status.EXPIRED.value, data={}, created_at=now) for row in rows),
                    key=lambda event: event.id)
    session.info.setdefault("events", []).extend(events)
    return len(events)


_SWEEPER = "system"


def _expired_events(source, now: datetime):
    """INSERT of one expired event for each request of ``source`` (id, company_id, code), returning
    what publishing needs; in the order the requests became due."""
    events = RequestEvent.__table__
    rows = select(source.c.id, source.c.company_id, source.c.code, literal(EventType.EXPIRED.value),
                  literal(_SWEEPER), literal(Status.EXPIRED.value), literal({}, JSON),
                  literal(now, UTCDateTime)).order_by(source.c.valid_until, source.c.id)
    columns = ["request_id", "company_id", "code", "type", "actor", "status", "data", "created_at"]
    return (insert(events).from_select(columns, rows)
            .returning(events.c.id, events.c.request_id, events.c.company_id, events.c.code))


def _expire_in_one_statement(session: Session, due, now: datetime):
    """PostgreSQL: lock, expire, unjoin and record in one statement (FOR UPDATE SKIP LOCKED: a request
    that a concurrent transaction holds waits for the next sweep)."""
    table = ServiceRequest.__table__
    locked = due.with_for_update(skip_locked=True).cte("due")
    expired = (update(table).where(table.c.id == locked.c.id).values(status=Status.EXPIRED.value)
               .returning(table.c.id, table.c.company_id, table.c.code, table.c.valid_until).cte("expired"))
    unjoined = delete(Participant.__table__).where(Participant.request_id.in_(select(expired.c.id))).cte("unjoined")
    return session.execute(_expired_events(expired, now).add_cte(unjoined)).all()


def _expire_one_writer(session: Session, due, now: datetime):
    """SQLite: one writer at a time, so ``due`` picks the same requests in each statement of the
    transaction until the last one expires them."""
    table = ServiceRequest.__table__
    batch = due.subquery("due")
    picked = select(batch.c.id)
    session.execute(delete(Participant.__table__).where(Participant.request_id.in_(picked)))
    source = select(table.c.id, table.c.company_id, table.c.code, table.c.valid_until).where(
        table.c.id.in_(picked)).subquery("expiring")
    rows = session.execute(_expired_events(source, now)).all()
    session.execute(update(table).where(table.c.id.in_(picked)).values(status=Status.EXPIRED.value))
    return rows


def purge_idempotency_keys(session: Session, *, older_than: datetime) -> None:
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < older_than))


def takeable_by(user_id: str):
    """A WHERE clause for the requests a supporter may take and is alerted about: those of the
    groups they are a member of, and those of no group. Admins too: a team's work goes to its members."""
    their_groups = select(GroupMember.group_id).where(GroupMember.user_id == user_id)
    return or_(ServiceRequest.group_id.is_(None), ServiceRequest.group_id.in_(their_groups))


def waiting_for_a_supporter(now: datetime):
    """A WHERE clause for the requests waiting for a supporter: open, not past their deadline, nobody
    assigned and no supporter joined yet (a group's queue: Get next, the waiting room)."""
    return and_(ServiceRequest.status.in_(_OPEN), ServiceRequest.valid_until > now,
                ServiceRequest.assignee_id.is_(None), ServiceRequest.first_joined_at.is_(None))


def take_next(session: Session, *, actor: Actor, now: datetime) -> ServiceRequest | None:
    """Assign the oldest request waiting for a supporter that ``actor`` may take to them; None when none waits.

    Waiting: :func:`waiting_for_a_supporter`. On PostgreSQL
    a request that a concurrent call is taking is skipped (FOR UPDATE SKIP LOCKED), so two supporters
    pressing at once never get the same one; SQLite runs one writer at a time.
    """
    request = session.scalar(
        select(ServiceRequest)
        .where(
            ServiceRequest.company_id == actor.company_id,
            waiting_for_a_supporter(now),
            takeable_by(actor.user.id),
        )
        .order_by(ServiceRequest.created_at, ServiceRequest.id)  # the one at position 1 of its waiting room
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if request is not None:
        assign(session, request=request, actor=actor, user_id=actor.user.id)
    return request
