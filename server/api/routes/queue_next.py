"""Get next: a supporter takes the oldest request waiting for them."""

from fastapi import APIRouter, Response

from server import queue
from server.api.deps import UserActor, WriteDB
from server.api.present import request_public
from server.models import utcnow
from server.schemas import ServiceRequestPublic

router = APIRouter(prefix="/api/v1/queue", tags=["service requests"])

_NOTHING_WAITING = {204: {"description": "nothing is waiting for you: no open, unassigned request of your groups "
                                        "or of no group that no supporter has joined yet"}}


@router.post("/next", response_model=ServiceRequestPublic, responses=_NOTHING_WAITING)
def take_next(actor: UserActor, session: WriteDB, response: Response) -> ServiceRequestPublic | Response:
    """Take the oldest request waiting for a supporter: it is assigned to you and returned.

    You may take the requests of the groups you are a member of and those of no group. Two supporters
    asking at once never get the same request. 204 when nothing is waiting.
    """
    now = utcnow()
    request = queue.take_next(session, actor=actor, now=now)
    if request is None:
        return Response(status_code=204)
    session.flush()
    session.refresh(request)
    taken = request_public(request, now)
    response.headers["Location"] = f"/api/v1/service-requests/{taken.code}"
    return taken
