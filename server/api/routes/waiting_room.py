"""The customer's waiting room: the request's place in its group's queue and its supporters' message, for its
agent to show."""

from fastapi import APIRouter, Response

from server.api.deps import ReadAsCaller, StateDep
from server.api.routes.service_requests import MODULES_READ_NO_REQUESTS, visible_request
from server.models import utcnow
from server.schemas import WaitingRoomPublic
from server.waiting_room import waiting_room

router = APIRouter(prefix="/api/v1/service-requests", tags=["service requests"])

_NOT_CACHED = {"Cache-Control": {"description": "always `no-store`: the answer changes with the queue",
                                 "schema": {"type": "string"}}}


@router.get("/{code}/waiting-room", response_model=WaitingRoomPublic, responses={
    200: {"headers": _NOT_CACHED}} | MODULES_READ_NO_REQUESTS)
def get_waiting_room(code: str, reading: ReadAsCaller, state: StateDep, response: Response) -> WaitingRoomPublic:
    """The request's waiting room: its position in its group's queue, the expected wait, the
    assignee's display name and the waiting message its supporters left for the customer (the
    request's customer token, or a user of the company)."""
    request = visible_request(reading.session, reading.actor, code, participants=False)
    response.headers["Cache-Control"] = "no-store"
    room = waiting_room(reading.session, request, utcnow(), history=state.waiting_history)
    return WaitingRoomPublic(**room.to_json())
