"""The lean path of POST /api/v1/service-requests answers as the route does, and takes only well-formed calls."""

import json
import re
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.lean_create import PATH, LeanCreate
from tests.support.servers import sqlite_url
from tests.support.tenants import bearer, make_tenant

BURST = 4
VARYING = {"server-timing", "date"}  # the only headers whose values may differ between two answers


@contextmanager
def running(database_url: str, *, lean: bool):
    app = create_app(Settings(database_url=database_url, create_rate_per_minute=1, create_burst=BURST))
    if not lean:  # the middleware stack is built on the first call: before it, the lean path can go
        app.user_middleware = [entry for entry in app.user_middleware if entry.cls is not LeanCreate]
    with TestClient(app, follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    return sqlite_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="module")
def clients(database):
    """(lean, route): the same server twice on one database, with and without the lean path."""
    with running(database, lean=True) as lean, running(database, lean=False) as route:
        yield lean, route


@pytest.fixture
def tenant(database):
    return make_tenant(database, supporters=1)


def post(client, token: str | None, body, *, headers=None, params=None):
    sent = {"Content-Type": "application/json", **(bearer(token) if token else {}), **(headers or {})}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(PATH, content=content, headers=sent, params=params)


def assert_same_answer(lean, route):
    assert (lean.status_code, lean.content) == (route.status_code, route.content), (lean.text, route.text)
    assert [(k, v) for k, v in lean.headers.multi_items() if k not in VARYING] == \
        [(k, v) for k, v in route.headers.multi_items() if k not in VARYING]
    assert [k for k, _ in lean.headers.multi_items()] == [k for k, _ in route.headers.multi_items()]


def test_a_replayed_creation_is_answered_byte_for_byte_as_by_the_route(clients, tenant):
    lean, route = clients
    body = {"description": "printer jams", "end_customer": {"name": "Kim", "email": "kim@example.test"},
            "diagnostics": {"os": "Windows 11", "screens": 2}}
    key = {"Idempotency-Key": "order-17"}
    first = post(route, tenant.module_token, body, headers=key, params={"source": "sos"})
    assert first.status_code == 201, first.text
    replays = [post(client, tenant.module_token, body, headers=key, params={"source": "sos"}) for client in clients]
    assert replays[0].headers["idempotent-replayed"] == "true"
    assert_same_answer(*replays)
    assert json.loads(replays[0].content) == json.loads(first.content)


def test_a_new_creation_has_the_route_s_headers_and_fields_in_the_same_order(clients, tenant):
    answers = [post(client, tenant.supporter_token, {"description": "no sound"}) for client in clients]
    assert [a.status_code for a in answers] == [201, 201]
    assert [[k for k, _ in a.headers.multi_items()] for a in answers][0] == \
        [[k for k, _ in a.headers.multi_items()] for a in answers][1]
    bodies = [json.loads(a.content) for a in answers]
    assert list(bodies[0]) == list(bodies[1])
    varying = ("code", "created_at", "valid_until", "customer_token")
    assert [{k: v for k, v in b.items() if k not in varying} for b in bodies][0] == \
        [{k: v for k, v in b.items() if k not in varying} for b in bodies][1]
    for answer, body in zip(answers, bodies):
        assert answer.headers["location"] == f"{PATH}/{body['code']}"


@pytest.mark.parametrize("call", [
    pytest.param(lambda t: (None, {"description": "x"}, {}, None), id="no token"),
    pytest.param(lambda t: ("sqa_unknown", {"description": "x"}, {}, None), id="unknown token"),
    pytest.param(lambda t: (t.supporter_token, {"description": "x"}, {}, {"source": "sos"}), id="user claims source"),
    pytest.param(lambda t: (t.module_token, {"group": "nowhere"}, {}, None), id="module asks another group"),
    pytest.param(lambda t: (t.supporter_token, {"group": "nowhere"}, {}, None), id="no such group"),
    pytest.param(lambda t: (t.module_token, b"{not json", {}, None), id="malformed json"),
    pytest.param(lambda t: (t.module_token, {"description": 5, "extra": 1}, {}, None), id="invalid body"),
    pytest.param(lambda t: (t.module_token, b"", {}, None), id="empty body"),
    pytest.param(lambda t: (t.module_token, {}, {"Idempotency-Key": "k" * 256}, None), id="key too long"),
    pytest.param(lambda t: (t.module_token, {}, {"Idempotency-Key": "a b"}, None), id="key with a space"),
    pytest.param(lambda t: (t.module_token, {}, {"Content-Type": "text/plain"}, None), id="plain text"),
    pytest.param(lambda t: (t.module_token, {}, {}, {"source": "fax"}), id="unknown source"),
])
def test_refusals_are_answered_byte_for_byte_as_by_the_route(clients, tenant, call):
    token, body, headers, params = call(tenant)
    assert_same_answer(*(post(client, token, body, headers=headers, params=params) for client in clients))


def test_a_customer_token_and_a_reused_key_are_refused_as_by_the_route(clients, tenant):
    lean, route = clients
    created = post(route, tenant.module_token, {"description": "one"}, headers={"Idempotency-Key": "k1"})
    answers = [post(c, created.json()["customer_token"], {}) for c in clients]
    assert answers[0].status_code == 403
    assert_same_answer(*answers)
    answers = [post(c, tenant.module_token, {"description": "two"}, headers={"Idempotency-Key": "k1"}) for c in clients]
    assert answers[0].status_code == 422
    assert_same_answer(*answers)


def test_the_rate_limit_refuses_as_the_route_does(clients, tenant):
    lean, route = clients
    made = [post(lean, tenant.supporter_token, {"description": f"n{n}"}).status_code for n in range(BURST)]
    assert made == [201] * BURST
    answers = [post(c, tenant.supporter_token, {"description": "one more"}) for c in clients]
    assert [a.status_code for a in answers] == [429, 429]
    seconds = re.compile(rb"\d+")  # the wait: a second may pass between the two answers
    assert seconds.sub(b"N", answers[0].content) == seconds.sub(b"N", answers[1].content)
    assert [k for k, _ in answers[0].headers.multi_items()] == [k for k, _ in answers[1].headers.multi_items()]


def test_only_well_formed_calls_are_filed_here_the_rest_reach_the_route_with_their_body(clients, tenant):
    lean_client, _ = clients
    app = lean_client.app
    reached = []

    async def route(scope, receive, send):
        message = await receive()
        reached.append(message["body"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    lean = TestClient(LeanCreate(route, app.state.sosqueue, app.exception_handlers))
    filed = post(lean, tenant.module_token, {"description": "filed here"})
    assert filed.status_code == 201 and reached == []
    assert filed.json()["description"] == "filed here"
    passed = post(lean, tenant.module_token, b'{"description": 5}')
    assert passed.status_code == 418 and reached == [b'{"description": 5}']
