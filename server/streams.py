"""The company event stream's fast path, for thousands of watchers on one process.

GET /api/v1/events is served here, in front of the framework: each watcher then costs one small
coroutine and one task that notices the disconnect, instead of the whole per-request stack (a
dozen middleware and handler frames, exit stacks, request objects, a task group). Anything but
a valid user token goes on to the regular route, which answers errors in the API's usual form
and keeps the endpoint in the OpenAPI document.

Every other HTTP request passes through here too, and is counted in the broker's
``answers_pending`` until its answer starts: the fan-out to the streams gives way to it.
"""

from server.api import deps
from server.api.routes.events import SSE_HEADERS, in_opening_thread, messages, parse_last_event_id
from server.state import AppState

PATH = "/api/v1/events"
_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8")] + [
    (name.lower().encode(), value.encode()) for name, value in SSE_HEADERS.items()
]


class CompanyEventStreams:
    """Pure ASGI middleware serving the company event stream for valid user tokens."""

    def __init__(self, app, state: AppState):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["method"] != "GET" or scope["path"] != PATH:
            return await self._counted(scope, receive, send)
        headers = dict(scope["headers"])
        last = headers.get(b"last-event-id", b"").decode("latin-1")
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        company_id = await in_opening_thread(_user_company, self.state, authorization) if len(last) <= 20 else None
        if company_id is None:
            return await self._counted(scope, receive, send)
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        async for chunk in messages(self.state, company_id, None, parse_last_event_id(last), receive):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _counted(self, scope, receive, send):
        """The request, counted as awaiting its answer until the answer starts."""
        broker = self.state.broker
        pending = True

        async def answering(message):
            nonlocal pending
            if pending and message["type"] == "http.response.start":
                pending = False
                broker.answers_pending -= 1
            await send(message)

        broker.answers_pending += 1
        try:
            await self.app(scope, receive, answering)
        finally:
            if pending:
                broker.answers_pending -= 1


def _user_company(state: AppState, authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    with state.db.read() as session:
        actor = deps.resolve_token(session, state, token.strip())
    return actor.company_id if actor is not None and actor.kind == "user" else None
