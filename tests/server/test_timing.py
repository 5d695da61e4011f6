"""Server-Timing: every HTTP answer tells the server's own time for the call."""

import asyncio
import re
import time

import pytest

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

    sent = []

    async def send(message):
        sent.append(message)

    asyncio.run(ServerTiming(slow_app)({"type": "http"}, None, send))
    headers = {name.decode(): value.decode() for name, value in sent[0]["headers"]}
    assert headers["x-kept"] == "1"
    assert app_milliseconds(headers) >= 50


def test_websockets_pass_untouched():
    seen = []

    async def app(scope, receive, send):
        seen.append(send)

    async def send(message):
        pass

    asyncio.run(ServerTiming(app)({"type": "websocket"}, None, send))
    assert seen == [send]
