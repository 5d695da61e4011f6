"""The streams' middleware counts every other HTTP request as awaiting its answer until the
answer starts, for the fan-out to give way to it."""

from types import SimpleNamespace

import pytest

from server.event_ids import EventIds
from server.events import Broker
from server.streams import CompanyEventStreams
from tests.support.loops import run_apart


def http(method: str = "POST", path: str = "/api/v1/service-requests") -> dict:
    return {"type": "http", "method": method, "path": path, "headers": []}


async def nothing_received():
    return {"type": "http.request", "body": b"", "more_body": False}


def middleware(app) -> tuple[CompanyEventStreams, Broker]:
    broker = Broker(EventIds(""))
    return CompanyEventStreams(app, SimpleNamespace(broker=broker)), broker


def test_a_request_counts_until_its_answer_starts():
    seen = []

    async def app(scope, receive, send):
        seen.append(broker.answers_pending)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        seen.append(broker.answers_pending)
        await send({"type": "http.response.body", "body": b"{}"})

    streams, broker = middleware(app)
    sent = []

    async def send(message):
        sent.append(message["type"])

    run_apart(streams(http(), nothing_received, send))
    assert seen == [1, 0]
    assert broker.answers_pending == 0
    assert sent == ["http.response.start", "http.response.body"]


def test_a_request_that_fails_before_answering_stops_counting():
    async def app(scope, receive, send):
        raise RuntimeError("failed")

    streams, broker = middleware(app)

    async def send(message):
        pass

    with pytest.raises(RuntimeError):
        run_apart(streams(http(), nothing_received, send))
    assert broker.answers_pending == 0


def test_websockets_and_lifespan_are_not_counted():
    seen = []

    async def app(scope, receive, send):
        seen.append(broker.answers_pending)

    streams, broker = middleware(app)

    async def send(message):
        pass

    for scope in ({"type": "websocket", "path": "/connect"}, {"type": "lifespan"}):
        run_apart(streams(scope, nothing_received, send))
    assert seen == [0, 0]
