"""One service request: details (with the message its waiting customer reads), history, assign, unassign,
close; manual creation.

*Connect* opens the session view (server/web/routes/session.py). An open request's page chats
with the customer without joining the session (static/chat.js, a chat-only Connect socket).
"""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import creation, links, queue
from sosqueue import codes
from server.api.deps import StateDep, WriteDB
from server.api.present import event_public, request_public
from server.connect.protocol import CHAT_MODE
from server.events import latest_event
from server.models import RequestEvent, ServiceRequest, User, utcnow
from server.schemas import ServiceRequestCreate
from server.web.deps import FormDep, LoginDep
from server.web.errors import WebError
from server.web.forms import field_errors, text_field
from server.web.routes.queue import colleagues, group_names
from server.logins import Login
from server.web.templating import render

router = APIRouter(prefix="/requests")


def _request_url(code: str) -> str:
    return f"/requests/{codes.display(code)}"


# -- manual creation (registered before /{code} so "new" is not taken for a code) ----------


@router.get("/new")
def new_request_form(request: Request, login: LoginDep, state: StateDep) -> Response:
    """The form for a request a supporter files by hand (the customer joins later with its code)."""
    return _new_form(request, login, state, values={}, errors={})


def _new_form(request: Request, login: Login, state, *, values: dict, errors: dict, status: int = 200) -> Response:
    with state.db.read() as session:
        groups = group_names(session, login.user.company_id)
    return render(request, "new_request.html", login=login, values=values, errors=errors, groups=groups,
                  status=status)


@router.post("/new")
def create_request(request: Request, login: LoginDep, state: StateDep, form: FormDep) -> Response:
    """File the request and show its code with what to tell the customer."""
    values = {name: text_field(form, name) for name in ("name", "email", "description", "group")}
    try:
        payload = ServiceRequestCreate(
            description=values["description"],
            end_customer={"name": values["name"], "email": values["email"]},
            group=values["group"] or None,
        )
    except ValidationError as error:
        return _new_form(request, login, state, values=values, errors=field_errors(error), status=422)
    filed = creation.file_request(state, actor=login.actor, payload=payload, source="manual")
    return RedirectResponse(f"{_request_url(filed.request.code)}?created=1", status_code=303)


# -- one request ---------------------------------------------------------------------------


def _find(session: Session, login: Login, code: str, *, lock: bool = False) -> ServiceRequest:
    return queue.find_request(session, company_id=login.user.company_id, code=code, lock=lock)


@router.get("/{code}")
def request_page(request: Request, code: str, login: LoginDep, state: StateDep, created: bool = False) -> Response:
    """Everything about one request, its history, and what can be done with it."""
    with state.db.read() as session:
        item = _find(session, login, code)
        events = session.scalars(
            select(RequestEvent).where(RequestEvent.request_id == item.id).order_by(RequestEvent.id)
        ).all()
        people = colleagues(session, login.user.company_id)
        names = _names(session, login.user.company_id)
        # The page's live feed goes on from here: a change committed before the feed subscribes still
        # reaches the page (and reloads it) instead of falling between the two.
        return render(
            request, "request.html", login=login, item=request_public(item, utcnow()),
            live_after=state.broker.ids.public(item.company_id, latest_event(session, item.company_id)),
            history=[event_public(e, state.broker.ids) for e in events], users=people, names=names, created=created,
            assign_default=item.assignee_id or login.user.id, chat_mode=CHAT_MODE,
            chat_chars=state.settings.connect_max_chat_chars,
            customer_link=links.end_customer_link(links.public_base(state.settings.public_url, request), item.code),
        )


def _names(session: Session, company_id: str) -> dict[str, str]:
    """How people appear in the history: their name, else their email."""
    rows = session.execute(select(User.id, User.name, User.email).where(User.company_id == company_id))
    return {row.id: row.name or row.email for row in rows}


@router.post("/{code}/assign")
def assign(code: str, login: LoginDep, form: FormDep, session: WriteDB) -> Response:
    """Assign to me, to a colleague, or unassign (an empty choice)."""
    choice = text_field(form, "user")
    item = _find(session, login, code, lock=True)
    user_id = login.user.id if choice == "me" else (choice or None)
    queue.assign(session, request=item, actor=login.actor, user_id=user_id)
    return RedirectResponse(_request_url(item.code), status_code=303)


@router.post("/{code}/close")
def close(code: str, login: LoginDep, form: FormDep, session: WriteDB) -> Response:
    """Close the request; it leaves the open queue."""
    item = _find(session, login, code, lock=True)
    queue.close(session, request=item, actor=login.actor)
    return RedirectResponse(_request_url(item.code), status_code=303)


__all__ = ["router", "WebError"]
