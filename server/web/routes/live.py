"""The dashboard's live feed: the company's event stream, for a signed-in browser."""

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from server.api.deps import StateDep
from server.api.routes.events import SSE_HEADERS, messages, parse_last_event_id
from server.web.deps import LoginDep

router = APIRouter()


@router.get("/live")
async def live(
    login: LoginDep, state: StateDep, last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    after: Annotated[str | None, Query(max_length=20)] = None,
) -> StreamingResponse:
    """Every change to the company's queue as server-sent events, after one that says the feed is
    subscribed; resumes after Last-Event-ID, else after ``after`` (the event a page was rendered at)."""
    resume = parse_last_event_id(last_event_id) or parse_last_event_id(after)
    return StreamingResponse(
        messages(state, login.user.company_id, None, resume, announce=True),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )
