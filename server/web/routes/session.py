"""The expert's session view: the customer's screen, live, and a chat with them.

The page itself is static; ``static/session.js`` opens the expert's socket
(server/connect/routes.py) and draws what arrives. Any user of the request's company may
open it, as the socket admits them; a closed or expired request has no session to open.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from server import queue
from server.api.deps import StateDep
from server.models import Company, utcnow
from server.web.deps import LoginDep
from server.web.errors import WebError
from server.web.templating import render

router = APIRouter(prefix="/requests")

NOT_OPEN = "This request is {status}, so it has no session any more."


@router.get("/{code}/session")
def session_page(request: Request, code: str, login: LoginDep, state: StateDep) -> Response:
    """The session view of one open request of the signed-in user's company."""
    with state.db.read() as session:
        item = queue.find_request(session, company_id=login.user.company_id, code=code)
        status = queue.effective_status(item, utcnow())
        if not status.is_open:
            raise WebError(409, NOT_OPEN, status=f"status:{status.value}")
        company = session.get(Company, item.company_id)
        return render(request, "session.html", login=login, code=item.code, customer=item.end_customer_name or "",
                      company=company.name, chat_chars=state.settings.connect_max_chat_chars)
