"""Who may open a session's sockets: the request's own customer token, and its company's signed-in users."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from sosqueue import codes
from server.db import Database
from server.models import ServiceRequest, utcnow
from tests.server.connect.peers import close_code, receive


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


def test_a_missing_csrf_token_is_forbidden(sockets, expert):
    filed = sockets.file()
    assert close_code(sockets.expert_raw(filed.code, expert, csrf=None)) == 4403


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
    {"csrf": None}, {"csrf": "not-the-token"}, {"origin": ""}, {"origin": "https://evil.example"},
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
