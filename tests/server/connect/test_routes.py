"""Who may open a session's sockets: the request's own customer token, and its company's signed-in users."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import update

from starlette.websockets import WebSocketDisconnect

from sosqueue import codes
from server.connect import routes
from server.db import Database
from server.models import ServiceRequest, utcnow
from tests.server.inprocess import dashboard, in_process
from tests.server.connect.peers import close_code, receive, send
from tests.support.dashboard import PASSWORD
from tests.support.servers import sqlite_url
from tests.support.tenants import bearer, make_tenant


def test_the_requests_own_customer_token_opens_the_customer_socket(sockets):
    filed = sockets.file()
    socket = sockets.customer_raw(filed.code, filed.customer_token)
    assert receive(socket) == {"type": "hello", "role": "customer", "code": filed.code, "experts": []}


def test_any_spelling_of_the_code_opens_the_customer_socket(sockets):
    filed = sockets.file()
    socket = sockets.customer_raw(filed.code.replace("-", "").upper(), filed.customer_token)
    assert receive(socket)["code"] == filed.code


def test_another_requests_customer_token_looks_like_an_unknown_code(sockets):
    mine, theirs = sockets.file(), sockets.file()
    assert close_code(sockets.customer_raw(mine.code, theirs.customer_token)) == 4404


def test_a_user_api_token_is_refused_on_the_customer_socket(sockets, tenant):
    filed = sockets.file()
    assert close_code(sockets.customer_raw(filed.code, tenant.supporter_token)) == 4403


def test_a_module_token_is_refused_on_the_customer_socket(sockets, tenant):
    filed = sockets.file()
    assert close_code(sockets.customer_raw(filed.code, tenant.module_token)) == 4403


def test_no_token_on_the_customer_socket_is_not_signed_in(sockets):
    filed = sockets.file()
    assert close_code(sockets.customer_raw(filed.code, None)) == 4401


def test_an_unknown_customer_token_is_not_signed_in(sockets):
    filed = sockets.file()
    forged = filed.customer_token[:-4] + ("AAAA" if not filed.customer_token.endswith("AAAA") else "BBBB")
    assert close_code(sockets.customer_raw(filed.code, forged)) == 4401


def test_a_signed_in_supporter_of_the_company_opens_the_expert_socket(sockets, expert):
    filed = sockets.file()
    socket = sockets.expert_raw(filed.code, expert)
    assert receive(socket) == {"type": "hello", "role": "expert", "code": filed.code,
                               "customer_connected": False, "sharing": False, "control": None, "chat": []}


def test_an_admin_of_the_company_opens_the_expert_socket(sockets, admin):
    filed = sockets.file()
    assert receive(sockets.expert_raw(filed.code, admin))["role"] == "expert"


def test_no_login_cookie_on_the_expert_socket_is_not_signed_in(sockets):
    filed = sockets.file()
    assert close_code(sockets.expert_raw(filed.code, None, csrf="anything")) == 4401


def test_a_customer_token_cannot_open_the_expert_socket(sockets):
    filed = sockets.file()
    socket = sockets.expert_raw(filed.code, None, headers={"Authorization": f"Bearer {filed.customer_token}"})
    assert close_code(socket) == 4401


def test_a_supporter_of_another_company_cannot_tell_the_request_exists(sockets, outsider):
    filed = sockets.file()
    assert close_code(sockets.expert_raw(filed.code, outsider)) == 4404


def test_a_wrong_csrf_token_is_forbidden(sockets, expert):
    filed = sockets.file()
    assert close_code(sockets.expert_raw(filed.code, expert, csrf="not-the-token")) == 4403


def test_a_socket_without_an_origin_header_is_forbidden(sockets, expert):
    filed = sockets.file()
    assert close_code(sockets.expert_raw(filed.code, expert, origin="")) == 4403


@pytest.mark.parametrize("first", [
    {"type": "chat", "text": "hello"}, {"type": "auth"}, {"type": "auth", "csrf": 7}, "not json", b"\xff\xd8",
])
def test_a_first_message_other_than_auth_with_the_csrf_token_is_forbidden(sockets, expert, first):
    filed = sockets.file()
    socket = sockets.expert_raw(filed.code, expert, csrf=None)
    socket.send(json.dumps(first) if isinstance(first, dict) else first)
    assert close_code(socket) == 4403


def test_the_csrf_token_in_the_url_opens_nothing(sockets, expert):
    """The token belongs in the first message: access logs keep URLs."""
    filed = sockets.file()
    socket = sockets.expert_raw(filed.code, expert, csrf=None, query=f"csrf={expert.client.csrf_token}")
    send(socket, {"type": "chat", "text": "hello"})
    assert close_code(socket) == 4403


def test_auth_is_the_first_message_only(sockets, expert):
    filed = sockets.file()
    socket = sockets.expert(filed, expert)
    send(socket, {"type": "auth", "csrf": expert.client.csrf_token})
    assert receive(socket)["type"] == "error"


def test_a_page_of_another_site_cannot_open_the_expert_socket(sockets, expert):
    filed = sockets.file()
    assert close_code(sockets.expert_raw(filed.code, expert, origin="https://evil.example")) == 4403


def test_an_unknown_code_on_the_expert_socket_is_not_found(sockets, expert):
    assert close_code(sockets.expert_raw("s00-000-000", expert)) == 4404


@pytest.mark.parametrize("side", ["customer", "expert"])
def test_a_closed_request_refuses_both_sockets(sockets, api, expert, side):
    filed = sockets.file()
    api.close(filed.code)
    socket = sockets.customer_raw(filed.code, filed.customer_token) if side == "customer" else \
        sockets.expert_raw(filed.code, expert)
    assert close_code(socket) == 4409


@pytest.mark.parametrize("side", ["customer", "expert"])
def test_a_request_past_its_deadline_refuses_both_sockets(server, sockets, expert, side):
    filed = sockets.file()
    database = Database(server.database_url)
    try:
        with database.write() as session:
            session.execute(update(ServiceRequest).where(ServiceRequest.code == codes.normalize(filed.code))
                            .values(valid_until=utcnow() - timedelta(minutes=1)))
    finally:
        database.dispose()
    socket = sockets.customer_raw(filed.code, filed.customer_token) if side == "customer" else \
        sockets.expert_raw(filed.code, expert)
    assert close_code(socket) == 4409


# -- a request page's chat-only socket: the same rules ----------------------------------------


def test_a_signed_in_supporter_opens_a_chat_only_socket(sockets, expert):
    filed = sockets.file()
    socket = sockets.expert_raw(filed.code, expert, mode="chat")
    assert receive(socket) == {"type": "hello", "role": "expert", "mode": "chat", "code": filed.code,
                               "customer_connected": False, "chat": []}


def test_an_unknown_mode_is_forbidden(sockets, expert):
    filed = sockets.file()
    assert close_code(sockets.expert_raw(filed.code, expert, mode="spy")) == 4403


@pytest.mark.parametrize("refusal", [
    {"csrf": ""}, {"csrf": "not-the-token"}, {"origin": ""}, {"origin": "https://evil.example"},
])
def test_a_chat_only_socket_needs_the_csrf_token_and_our_origin(sockets, expert, refusal):
    filed = sockets.file()
    assert close_code(sockets.expert_raw(filed.code, expert, mode="chat", **refusal)) == 4403


def test_a_chat_only_socket_needs_a_login(sockets):
    filed = sockets.file()
    assert close_code(sockets.expert_raw(filed.code, None, csrf="anything", mode="chat")) == 4401


def test_a_supporter_of_another_company_cannot_chat_with_the_customer(sockets, outsider):
    filed = sockets.file()
    assert close_code(sockets.expert_raw(filed.code, outsider, mode="chat")) == 4404


def test_a_closed_request_refuses_a_chat_only_socket(sockets, api, expert):
    filed = sockets.file()
    api.close(filed.code)
    assert close_code(sockets.expert_raw(filed.code, expert, mode="chat")) == 4409


# -- the first message's deadline, in this process (the deadline is shortened) ----------------


def test_an_expert_socket_that_never_says_who_it_is_hears_nothing_and_closes_with_4403(tmp_path, monkeypatch):
    monkeypatch.setattr(routes, "AUTH_SECONDS", 0.2)
    url = sqlite_url(tmp_path)
    with in_process(url) as client:
        tenant = make_tenant(url, password=PASSWORD)
        created = client.post("/api/v1/service-requests", headers=bearer(tenant.module_token),
                              json={"description": "my printer is on fire"})
        assert created.status_code == 201, created.text
        dashboard(client, tenant.supporter_email)
        with client.websocket_connect(f"/requests/{created.json()['code']}/session/ws",
                                      headers={"Origin": str(client.base_url)}) as socket:
            with pytest.raises(WebSocketDisconnect) as closed:
                socket.receive_text()  # the close comes first: nothing is said before the auth message
    assert closed.value.code == 4403
