"""The queue page: filters, views (mine, unassigned), code search, availability, Get next."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session, joinedload

from server import queue
from sosqueue import codes
from sosqueue.i18n import N_
from server.api.deps import StateDep, WriteDB, current_user
from server.api.present import request_public
from sosqueue.statuses import OPEN_STATUSES, Status
from server.models import OPEN_STATUS_SQL, Group, Module, ModuleBrand, ServiceRequest, User, utcnow
from server.schemas import ServiceRequestPublic
from server.urgency import WAITING_SINCE_SQL, Urgency, Wait, wait_of
from server.web.deps import FormDep, LoginDep, TranslateDep
from server.web.i18n import Translate
from server.web.routes.auth import safe_next
from server.logins import Login
from server.web.templating import render

router = APIRouter()

PAGE_SIZE = 100
#: The most open requests the page lists (longest waiting first); narrower filters show the others.
OPEN_LIMIT = 300
#: The queue's status filter: the open ones, one status, or all.
STATUS_CHOICES = ("open", *(status.value for status in Status), "all")
_Short = Annotated[str, Query(max_length=100, pattern=r"^[^\x00]*$")]
_RowId = Annotated[int | None, Query(ge=1, le=2**62)]
#: What each urgency says beside its colour (see urgency_labels), for readers who cannot tell colours apart.
URGENCY_LABELS = {Urgency.CALM: "", Urgency.AMBER: N_("Waiting long"), Urgency.RED: N_("Overdue")}


@dataclass(frozen=True)
class QueueFilters:
    """What the queue page shows; also the query string its live refresh repeats."""

    status: str = "open"
    group: str = ""
    assignee: str = ""  # "", "me", "none" or a user id
    topic: str = ""  # a topic's label, exactly; "" for every topic
    before: int | None = None

    @property
    def statuses(self) -> set[Status] | None:
        if self.status == "all":
            return None
        if self.status in Status.__members__.values():
            return {Status(self.status)}
        return set(OPEN_STATUSES)

    @property
    def by_waiting(self) -> bool:
        """Open requests only: listed by how long they waited, not newest first."""
        return self.statuses is not None and all(status.is_open for status in self.statuses)

    def query(self, **changes) -> str:
        values = {"status": self.status, "group": self.group, "assignee": self.assignee, "topic": self.topic,
                  **changes}
        return urlencode({key: value for key, value in values.items() if value})


def queue_filters(
    status: _Short = "open", group: _Short = "", assignee: _Short = "", topic: _Short = "", before: _RowId = None
) -> QueueFilters:
    """The filters from the query string; an unknown status shows the open requests."""
    return QueueFilters(status=status if status in STATUS_CHOICES else "open", group=group, assignee=assignee,
                        topic=topic, before=before)


FiltersDep = Annotated[QueueFilters, Depends(queue_filters)]


@dataclass(frozen=True)
class QueueRow:
    item: ServiceRequestPublic
    wait: Wait
    urgency: Urgency
    mine: bool  # one the supporter may take (Get next) and is alerted about

    @property
    def urgency_steps(self) -> list[list[str]]:
        """From when on the row shows which urgency, for the page's script: ``[[instant, urgency], …]``."""
        return [[at.isoformat(), urgency.value] for at, urgency in self.wait.steps()]


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    more: int | None = None  # newest first: the id to continue before
    overflow: bool = False  # by waiting: more open requests than the page shows


def load_queue(session: Session, login: Login, filters: QueueFilters) -> QueuePage:
    """Open requests: those waiting for a supporter first, longest waiting first, then the joined ones,
    oldest first. Other views: newest first, a page at a time."""
    now = utcnow()
    query = _filtered(session, login, filters, now)
    if query is None:
        return QueuePage([])
    if filters.by_waiting:
        order = (ServiceRequest.first_joined_at.is_not(None), WAITING_SINCE_SQL, ServiceRequest.id)
        found = session.execute(query.order_by(*order).limit(OPEN_LIMIT + 1)).all()
        return QueuePage(_rows(found[:OPEN_LIMIT], now), overflow=len(found) > OPEN_LIMIT)
    if filters.before is not None:
        query = query.where(ServiceRequest.id < filters.before)
    found = session.execute(query.order_by(ServiceRequest.id.desc()).limit(PAGE_SIZE + 1)).all()
    page = found[:PAGE_SIZE]
    return QueuePage(_rows(page, now), more=page[-1][0].id if len(found) > PAGE_SIZE else None)


def _filtered(session: Session, login: Login, filters: QueueFilters, now: datetime) -> Select | None:
    """The company's requests that the filters let through, each with whether it is the supporter's; None: none."""
    company_id = login.user.company_id
    group_id = None
    if filters.group:
        group_id = session.scalar(select(Group.id).where(Group.company_id == company_id, Group.name == filters.group))
        if group_id is None:
            return None
    assignee = login.user.id if filters.assignee == "me" else filters.assignee
    where = queue.request_filters(company_id=company_id, statuses=filters.statuses, assignee=assignee or None,
                                  group_id=group_id, topic=filters.topic or None, now=now)
    return (
        select(ServiceRequest, queue.takeable_by(login.user.id).label("mine"))
        .where(*where)
        .options(joinedload(ServiceRequest.group), joinedload(ServiceRequest.assignee))
    )


def _rows(found, now: datetime) -> list[QueueRow]:
    rows = []
    for request, mine in found:
        item = request_public(request, now)
        wait = wait_of(request) if item.status.is_open else Wait(since=None)
        rows.append(QueueRow(item=item, wait=wait, urgency=wait.urgency(now), mine=bool(mine)))
    return rows


def urgency_labels(translate: Translate) -> dict[str, str]:
    """Each urgency's label in the page's language, by its name (the rows and the script read them)."""
    return {urgency.value: translate(label) if label else "" for urgency, label in URGENCY_LABELS.items()}


def topics_seen(session: Session, company_id: str, selected: str) -> list[str]:
    """The topics to filter by: those the company's modules offer, those of its open requests, the selected one."""
    offered = {
        topic.get("label")
        for options in session.scalars(select(ModuleBrand.options).join(Module).where(Module.company_id == company_id))
        for topic in (options or {}).get("topics", [])
        if isinstance(topic, dict)
    }
    open_topics = session.scalars(
        select(ServiceRequest.topic).distinct().where(ServiceRequest.company_id == company_id, text(OPEN_STATUS_SQL))
    )
    return sorted({*offered, *open_topics, selected} - {"", None}, key=str.casefold)


def colleagues(session: Session, company_id: str) -> list[User]:
    return list(session.scalars(
        select(User).where(User.company_id == company_id, User.active.is_(True)).order_by(User.email)
    ))


def group_names(session: Session, company_id: str) -> list[str]:
    return list(session.scalars(select(Group.name).where(Group.company_id == company_id).order_by(Group.name)))


@router.get("/")
def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue")
def queue_page(
    request: Request, login: LoginDep, state: StateDep, filters: FiltersDep, translate: TranslateDep, q: _Short = "",
    nothing_waiting: bool = False,
) -> Response:
    """The company's queue, live: open requests by how long they waited for a supporter."""
    search_error = None
    if q.strip():
        found, search_error = _search(state, login, q)
        if found:
            return RedirectResponse(f"/requests/{codes.display(found)}", status_code=303)
    with state.db.read() as session:
        page = load_queue(session, login, filters)
        me = current_user(session, login.actor)
        company_id = login.user.company_id
        return render(
            request, "queue.html", login=login, page=page, filters=filters, search=q, search_error=search_error,
            statuses=STATUS_CHOICES, groups=group_names(session, company_id), users=colleagues(session, company_id),
            topics=topics_seen(session, company_id, filters.topic), available=me.available,
            nothing_waiting=nothing_waiting, urgency_labels=urgency_labels(translate),
        )


@router.get("/queue/rows")
def queue_rows(
    request: Request, login: LoginDep, state: StateDep, filters: FiltersDep, translate: TranslateDep
) -> Response:
    """Just the rows of the queue, for the page's live refresh."""
    with state.db.read() as session:
        page = load_queue(session, login, filters)
    return render(request, "_rows.html", login=login, page=page, filters=filters,
                  urgency_labels=urgency_labels(translate))


@router.post("/queue/next")
def get_next(login: LoginDep, form: FormDep, session: WriteDB) -> Response:
    """Get next: take the oldest request waiting for you and open it, or say that nothing is waiting."""
    taken = queue.take_next(session, actor=login.actor, now=utcnow())
    if taken is None:
        return RedirectResponse("/queue?nothing_waiting=1", status_code=303)
    return RedirectResponse(f"/requests/{codes.display(taken.code)}", status_code=303)


def _search(state, login: Login, text: str) -> tuple[str | None, tuple[str, dict] | None]:
    """The canonical code of the company's request typed in any spelling, or why not."""
    try:
        code = codes.normalize(text)
    except codes.InvalidCode:
        return None, ("{text} is not a session code; it looks like s12-345-678.", {"text": text.strip()[:40]})
    with state.db.read() as session:
        try:
            queue.find_request(session, company_id=login.user.company_id, code=code)
        except queue.NotFound:
            return None, ("There is no service request {code} in your queue.", {"code": codes.display(code)})
    return code, None


@router.post("/me/availability")
def set_availability(request: Request, login: LoginDep, form: FormDep, session: WriteDB) -> Response:
    """Switch yourself available or away; automated assignment skips supporters who are away."""
    current_user(session, login.actor).available = form.get("available") == "1"
    return RedirectResponse(_back(request, "/queue"), status_code=303)


def _back(request: Request, fallback: str) -> str:
    """The page the form was on, when it is ours (a path a browser would read as another host is not)."""
    referer = request.headers.get("referer", "")
    host = request.headers.get("host", "")
    for prefix in (f"http://{host}", f"https://{host}"):
        if referer.startswith(prefix + "/"):
            path = referer[len(prefix):]
            return path if safe_next(path) == path else fallback
    return fallback
