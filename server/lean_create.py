"""The lean path of POST /api/v1/service-requests, the call every support module makes.

A creation through the framework costs several times what its database work costs: a dozen
middleware and handler frames, the dependency solver, the body read twice over, the answer
validated again. Here, in front of the framework, a well-formed call (a bearer token, a JSON body,
no query but ``source``) is read, validated with the route's own model and filed with the route's
own helpers (``filing_caller``, ``created_answer``); an error is answered by the application's own
exception handler. Anything else goes on to the route, which stays the documented endpoint and
answers malformed calls in the API's usual form: both answer the same bytes for the same call.
"""

import inspect
import json
import re

from pydantic import ValidationError
from starlette.requests import Request

from server import creation
from server.api.routes.service_requests import created_answer, filing_caller, router
from server.schemas import ServiceRequestCreate
from server.state import AppState

PATH = router.prefix
_SOURCES = {b"": None, b"source=module": "module", b"source=sos": "sos"}
_JSON = {b"application/json", b"application/json; charset=utf-8"}
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # the route's IdempotencyKey header, as a pattern
_WANTED = {b"authorization", b"content-type", b"idempotency-key"}


class LeanCreate:
    """Pure ASGI middleware filing well-formed creations; ``handlers`` are the application's
    exception handlers (``FastAPI.exception_handlers``), which answer its errors."""

    def __init__(self, app, state: AppState, handlers: dict):
        self.app, self.state, self.handlers = app, state, handlers

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            return await self.app(scope, receive, send)
        call = _read_call(scope)
        if call is None:
            return await self.app(scope, receive, send)
        body, receive = await _read_body(receive)
        if body is None:
            return None  # the client went away
        payload = _payload(body)
        if payload is None:
            return await self.app(scope, receive, send)
        token, source, idempotency_key = call
        try:
            filed = await creation.file_request_async(
                self.state, caller=filing_caller(self.state, token, source, payload), payload=payload,
                idempotency_key=idempotency_key)
        except Exception as error:
            handler = self._handler(error)
            if handler is None:
                raise  # as from the route: the server's error middleware answers 500
            response = handler(Request(scope, receive), error)
            if inspect.isawaitable(response):
                response = await response
            return await response(scope, receive, send)
        answer, headers = created_answer(self.state, filed)
        content = answer.model_dump_json(by_alias=True).encode()
        await send({"type": "http.response.start", "status": 201, "headers": [
            (b"content-length", str(len(content)).encode()), (b"content-type", b"application/json"),
            *((name.lower().encode(), value.encode()) for name, value in headers.items())]})
        await send({"type": "http.response.body", "body": content})

    def _handler(self, error: Exception):
        for kind in type(error).__mro__:
            if kind is not Exception and kind in self.handlers:
                return self.handlers[kind]
        return None


def _read_call(scope) -> tuple[str, str | None, str | None] | None:
    """(token, source, idempotency key) of a call the lean path takes, else None."""
    source = _SOURCES.get(scope["query_string"], False)
    if source is False:
        return None
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in _WANTED:
            if name in found:
                return None  # sent twice: the route decides which counts
            found[name] = value
    if found.get(b"content-type", b"").lower() not in _JSON:
        return None
    scheme, _, token = found.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    key = found.get(b"idempotency-key")
    if key is not None:
        key = key.decode("latin-1")
        if not _IDEMPOTENCY_KEY.fullmatch(key):
            return None
    return token.strip(), source, key


async def _read_body(receive):
    """The whole body (None if the client left), and a ``receive`` that gives it again."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None, receive
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body, replayed = b"".join(chunks), False

    async def replay():
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _payload(body: bytes) -> ServiceRequestCreate | None:
    """The body as the route reads it (``json.loads``, then the model), or None: the route answers."""
    try:
        return ServiceRequestCreate.model_validate(json.loads(body))
    except (ValueError, ValidationError, RecursionError):  # JSONDecodeError, UnicodeDecodeError: ValueErrors
        return None
