"""The two Connect sockets: the customer's agent (customer token) and an expert's browser (login cookie).

Both accept first and then close with a 4xxx code when refused, so that clients learn why
(a refusal before accepting reaches them only as HTTP 403). Database look-ups run in the
threadpool; the relay takes over once a socket is admitted. No secret rides in a socket's URL,
which access logs keep: the customer token comes in a header, the expert's CSRF token in the
socket's first message.
"""

import asyncio

from fastapi import APIRouter, WebSocket
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from server import queue
from sosqueue import codes
from server.actors import Actor
from server.api.deps import resolve_token
from server.connect.protocol import CHAT_MODE, SESSION_MODE, auth_csrf
from server.connect.relay import Admission, Hub
from server.models import Company, ServiceRequest, User, utcnow
from server.state import AppState
from server import logins
from sosqueue.connect import CLOSE_REASONS, INSTANCE_HEADER, CloseCode, is_instance
from sosqueue.urls import same_origin

router = APIRouter()

CUSTOMER_PATH = "/api/v1/service-requests/{code}/session"
EXPERT_PATH = "/requests/{code}/session/ws"
#: Seconds an expert's socket has, once open, to send its ``auth`` message (a browser sends it at once).
AUTH_SECONDS = 10.0


@router.websocket(CUSTOMER_PATH)
async def customer_session(websocket: WebSocket, code: str) -> None:
    """The customer's agent: ``Authorization: Bearer <the request's customer token>``, and the agent's
    instance (``INSTANCE_HEADER``), without which this socket never takes an open one's place."""
    await websocket.accept()
    token = _bearer(websocket.headers.get("authorization", ""))
    instance = websocket.headers.get(INSTANCE_HEADER, "")
    admission = CloseCode.NOT_SIGNED_IN
    if token:
        admission = await run_in_threadpool(admit_customer, _state(websocket), token, code,
                                            instance if is_instance(instance) else "")
    await _serve(websocket, admission)


@router.websocket(EXPERT_PATH)
async def expert_session(websocket: WebSocket, code: str) -> None:
    """An expert's browser: the dashboard's login cookie and our own Origin, then a first message
    ``auth`` with the login's CSRF token; ``?mode=chat`` for a socket that only chats (see the protocol)."""
    await websocket.accept()
    cookie = websocket.cookies.get(logins.COOKIE)
    mode = websocket.query_params.get("mode", SESSION_MODE)
    if not cookie:
        admission = CloseCode.NOT_SIGNED_IN
    elif not _same_origin(websocket) or mode not in (SESSION_MODE, CHAT_MODE):
        admission = CloseCode.FORBIDDEN
    else:
        csrf = await _first_message_csrf(websocket)
        if csrf is None:
            return  # the browser went away before it said who it is
        admission = await run_in_threadpool(admit_expert, _state(websocket), cookie, csrf, code,
                                            chat_only=mode == CHAT_MODE)
    await _serve(websocket, admission)


async def _first_message_csrf(websocket: WebSocket) -> str | None:
    """The CSRF token in the socket's first message, its ``auth``: "" when that is something else or does not
    come within ``AUTH_SECONDS``; None when the client closed the socket first."""
    try:
        message = await asyncio.wait_for(websocket.receive(), AUTH_SECONDS)
    except TimeoutError:
        return ""
    if message["type"] == "websocket.disconnect":
        return None
    return auth_csrf(message.get("text"))


async def _serve(websocket: WebSocket, admission: Admission | CloseCode) -> None:
    if isinstance(admission, CloseCode):
        await websocket.close(admission, CLOSE_REASONS[admission])
        return
    hub: Hub = websocket.app.state.connect_hub
    await hub.serve(websocket, admission)


def _state(websocket: WebSocket) -> AppState:
    return websocket.app.state.sosqueue


def _bearer(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _same_origin(websocket: WebSocket) -> bool:
    """Whether the browser says the page that opened this socket is ours (cross-site hijacking)."""
    origin = websocket.headers.get("origin", "")
    return same_origin(origin, websocket.headers.get("host", ""))


def admit_customer(state: AppState, token: str, code: str, instance: str = "") -> Admission | CloseCode:
    """The customer's admission to the request ``code`` from the agent ``instance`` ("": unknown), or the close
    code that refuses it."""
    with state.db.read() as session:
        actor = resolve_token(session, state, token)
        if actor is None:
            return CloseCode.NOT_SIGNED_IN
        if actor.kind != "customer":
            return CloseCode.FORBIDDEN
        request = session.get(ServiceRequest, actor.request_id)
        if request is None or request.code != _canonical(code):
            return CloseCode.NOT_FOUND  # another request's token: the code looks unknown, as in the API
        return _admission(session, request, actor, request.end_customer_name or "Customer", instance=instance)


def admit_expert(state: AppState, cookie: str, csrf: str, code: str, *,
                 chat_only: bool = False) -> Admission | CloseCode:
    """The signed-in expert's admission to the request ``code`` (``chat_only``: beside its session, to
    chat), or the close code that refuses it."""
    with state.db.read() as session:
        login = logins.resolve(session, cookie, now=utcnow())
        if login is None:
            return CloseCode.NOT_SIGNED_IN
        if not logins.tokens_match(login.csrf_token, csrf):
            return CloseCode.FORBIDDEN
        try:
            request = queue.find_request(session, company_id=login.user.company_id, code=code)
        except queue.NotFound:
            return CloseCode.NOT_FOUND  # also another company's request: its existence stays secret
        return _admission(session, request, login.actor, expert_name(login.user), login_cookie=cookie,
                          chat_only=chat_only)


def expert_name(user: User) -> str:
    """How the customer sees an expert: their name, else their email's local part."""
    return user.name.strip() or user.email.partition("@")[0]


def _canonical(code: str) -> str | None:
    try:
        return codes.normalize(code)
    except codes.InvalidCode:
        return None


def _admission(session: Session, request: ServiceRequest, actor: Actor, name: str, *,
               login_cookie: str = "", chat_only: bool = False, instance: str = "") -> Admission | CloseCode:
    if not queue.effective_status(request, utcnow()).is_open:
        return CloseCode.NOT_OPEN
    company = session.get(Company, request.company_id)
    return Admission(
        request_id=request.id,
        company_id=request.company_id,
        code=request.code,
        company_name=company.name,
        customer_name=request.end_customer_name or "Customer",
        actor=actor,
        name=name,
        login_cookie=login_cookie,
        chat_only=chat_only,
        instance=instance,
    )
