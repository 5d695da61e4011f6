"""The queue page: filters, views (mine, unassigned), code search, availability."""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import queue
from sosqueue import codes
from server.api.deps import StateDep, WriteDB, current_user
from server.api.present import request_public
from sosqueue.statuses import OPEN_STATUSES, Status
from server.models import Group, User, utcnow
from server.web.deps import FormDep, LoginDep
from server.logins import Login
from server.web.templating import render

router = APIRouter()

PAGE_SIZE = 100
#: The queue's status filter: the open ones, one status, or all.
STATUS_CHOICES = ("open", *(status.value for status in Status), "all")
_Short = Annotated[str, Query(max_length=100, pattern=r"^[^\x00]*$")]
_RowId = Annotated[int | None, Query(ge=1, le=2**62)]


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


def load_queue(session: Session, login: Login, filters: QueueFilters) -> tuple[list, int | None]:
    now = utcnow()
    group_id = session.scalar(
        select(Group.id).where(Group.company_id == login.user.company_id, Group.name == filters.group)
    ) if filters.group else None
    if filters.group and group_id is None:
        return [], None
    page, more = queue.list_requests(
        session,
        company_id=login.user.company_id,
        statuses=filters.statuses,
        assignee=login.user.id if filters.assignee == "me" else (filters.assignee or None),
        group_id=group_id,
        topic=filters.topic or None,
        limit=PAGE_SIZE,
        before_id=filters.before,
        now=now,
    )
    return [request_public(item, now) for item in page], more


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
def queue_page(request: Request, login: LoginDep, state: StateDep, filters: FiltersDep, q: _Short = "") -> Response:
    """The company's queue, newest first, live."""
    search_error = None
    if q.strip():
        found, search_error = _search(state, login, q)
        if found:
            return RedirectResponse(f"/requests/{codes.display(found)}", status_code=303)
    with state.db.read() as session:
        rows, more = load_queue(session, login, filters)
        me = current_user(session, login.actor)
        return render(
            request, "queue.html", login=login, rows=rows, more=more, filters=filters, search=q,
            search_error=search_error, statuses=STATUS_CHOICES, groups=group_names(session, login.user.company_id),
            users=colleagues(session, login.user.company_id), available=me.available,
        )


@router.get("/queue/rows")
def queue_rows(request: Request, login: LoginDep, state: StateDep, filters: FiltersDep) -> Response:
    """Just the rows of the queue, for the page's live refresh."""
    with state.db.read() as session:
        rows, more = load_queue(session, login, filters)
    return render(request, "_rows.html", login=login, rows=rows, more=more, filters=filters)


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
    """The page the form was on, when it is ours."""
    referer = request.headers.get("referer", "")
    host = request.headers.get("host", "")
    for prefix in (f"http://{host}", f"https://{host}"):
        if referer.startswith(prefix + "/"):
            return referer[len(prefix):]
    return fallback
