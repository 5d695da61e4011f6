"""Server-Timing: every HTTP answer tells the server's own time for the call."""

import asyncio
import re
import time

import pytest
from fastapi.testclient import TestClient

from server.timing import METRIC, ServerTiming
from tests.server.inprocess import in_process
from tests.support.servers import sqlite_url

TIMING = re.compile(rf"{METRIC};dur=(\d+\.\d\d)")


def app_milliseconds(headers) -> float:
    match = TIMING.fullmatch(headers["server-timing"])
    assert match, headers["server-timing"]
    return float(match.group(1))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with in_process(sqlite_url(tmp_path_factory.mktemp("db"))) as running:
        yield running


def test_answers_and_problems_carry_the_server_s_time_within_the_call_s_time(client):
    for path in ("/healthz", "/api/v1/service-requests/s12-345-678"):
        started = time.perf_counter()
        response = client.get(path)
        elapsed_ms = 1000 * (time.perf_counter() - started)
        assert response.status_code in (200, 401)
        assert 0 < app_milliseconds(response.headers) <= elapsed_ms


def test_the_time_covers_the_app_up_to_the_answer_s_headers():
    async def slow_app(scope, receive, send):
        await asyncio.sleep(0.05)
        await send({"type": "http.response.start", "status": 204, "headers": [(b"x-kept", b"1")]})
        await send({"type": "http.response.body", "body": b""})

    response = TestClient(ServerTiming(slow_app)).get("/")  # no lifespan: the bare app has none
    assert response.headers["x-kept"] == "1"
    assert app_milliseconds(response.headers) >= 50


def test_websockets_pass_untouched():
    async def echo(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": message["text"]})
        await send({"type": "websocket.close"})

    with TestClient(ServerTiming(echo)).websocket_connect("/") as socket:
        socket.send_text("hello")
        assert socket.receive_text() == "hello"
