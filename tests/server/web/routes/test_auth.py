"""Logging in and out of the dashboard: cookies, CSRF on the login form, rate limits, expiry."""

import re

import httpx
import pytest
from sqlalchemy import select, update

from server import security
from server.db import Database
from server.models import User, WebSession, utcnow
from tests.support.dashboard import PASSWORD, DashboardClient, logged_in
from tests.support.servers import QueueServer, sqlite_url
from tests.support.tenants import make_tenant


@pytest.fixture(scope="module")
def tenant(server):
    return make_tenant(server.database_url, password=PASSWORD)


@pytest.fixture
def client(server):
    with DashboardClient(server.url) as dashboard:
        yield dashboard


def test_the_queue_sends_visitors_without_a_login_to_the_login_page(client):
    response = client.get("/queue?status=closed")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fqueue%3Fstatus%3Dclosed"


def test_a_right_password_sets_an_http_only_same_site_cookie_and_goes_on(client, tenant):
    page = client.get("/login?next=/queue?status=all")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.http.post("/login", data={
        "email": tenant.admin_email.upper(), "password": PASSWORD, "csrf_token": token, "next": "/queue?status=all",
    })
    assert response.status_code == 303
    assert response.headers["location"] == "/queue?status=all"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("sosqueue_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; HTTPS or cookie_secure adds it
    assert client.get("/queue").status_code == 200


def test_a_wrong_password_is_refused_with_one_message_for_any_miss(client, tenant):
    wrong_password = client.login(tenant.admin_email, "not the password")
    unknown_user = client.login("nobody@example.test", PASSWORD)
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert "The email or the password is wrong." in response.text
        assert "sosqueue_session" not in response.headers.get("set-cookie", "")


def test_a_user_without_a_password_cannot_log_in(server, client):
    tenant = make_tenant(server.database_url)  # users made without passwords (API tokens only)
    assert client.login(tenant.admin_email, "").status_code == 401


def test_a_deactivated_user_cannot_log_in_and_loses_open_logins(server, tenant):
    other = make_tenant(server.database_url, password=PASSWORD)
    signed_in = logged_in(server.url, other.supporter_email)
    database = Database(server.database_url)
    try:
        with database.write() as session:
            session.execute(update(User).where(User.email == other.supporter_email).values(active=False))
    finally:
        database.dispose()
    assert signed_in.get("/queue").status_code == 303
    with DashboardClient(server.url) as fresh:
        assert fresh.login(other.supporter_email).status_code == 401


def test_a_login_form_without_its_csrf_token_is_refused(client, tenant):
    client.get("/login")
    response = client.http.post("/login", data={"email": tenant.admin_email, "password": PASSWORD, "csrf_token": "x"})
    assert response.status_code == 403
    assert "This form has expired or did not come from this dashboard." in response.text


def test_a_login_posted_from_another_site_is_refused(client, tenant):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.http.post("/login", headers={"Origin": "https://evil.example"},
                                data={"email": tenant.admin_email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 403
    assert "did not come from this dashboard" in response.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example"])
def test_after_login_only_paths_on_this_server_are_followed(client, tenant, target):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.http.post("/login", data={
        "email": tenant.admin_email, "password": PASSWORD, "csrf_token": token, "next": target,
    })
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_logging_out_ends_the_login_on_the_server(server, tenant):
    client = logged_in(server.url, tenant.admin_email)
    stolen_cookie = client.http.cookies.get("sosqueue_session")
    response = client.post("/logout")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    replay = httpx.get(f"{server.url}/queue", cookies={"sosqueue_session": stolen_cookie})
    assert replay.status_code == 303


def test_logout_needs_the_csrf_token(server, tenant):
    client = logged_in(server.url, tenant.admin_email)
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert client.get("/queue").status_code == 200


def test_an_expired_login_leads_to_the_login_page_with_a_notice(server, tenant):
    client = logged_in(server.url, tenant.admin_email)
    database = Database(server.database_url)
    try:
        with database.write() as session:
            session.execute(update(WebSession).values(expires_at=utcnow()))
    finally:
        database.dispose()
    response = client.get("/requests/new")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Frequests%2Fnew&expired=1"
    assert "Your session has expired. Please log in again." in client.get(response.headers["location"]).text


def test_the_session_cookie_stores_only_a_hash_on_the_server(server, tenant):
    client = logged_in(server.url, tenant.admin_email)
    token = client.http.cookies.get("sosqueue_session")
    database = Database(server.database_url)
    try:
        with database.read() as session:
            hashes = set(session.scalars(select(WebSession.token_hash)))
    finally:
        database.dispose()
    assert token not in hashes
    assert security.token_hash(token) in hashes


def test_login_attempts_for_one_account_are_rate_limited(tmp_path):
    server = QueueServer(sqlite_url(tmp_path), log_dir=tmp_path, env={"SOSQUEUE_LOGIN_ATTEMPTS_PER_MINUTE": "1"})
    with server:
        tenant = make_tenant(server.database_url, password=PASSWORD)
        with DashboardClient(server.url) as client:
            statuses = [client.login(tenant.admin_email, "guess").status_code for _ in range(6)]
            assert statuses == [401] * 5 + [429]
            limited = client.login(tenant.admin_email, PASSWORD)
            assert limited.status_code == 429
            assert re.search(r"Too many login attempts\. Try again in \d+ s\.", limited.text)


def test_behind_a_tls_proxy_the_session_cookie_is_secure(client, tenant):
    """A proxy on this host that terminates TLS says so with X-Forwarded-Proto (uvicorn trusts 127.0.0.1)."""
    https = {"X-Forwarded-Proto": "https"}
    page = client.get("/login", headers=https)
    login_cookie = page.headers["set-cookie"]
    assert "Secure" in login_cookie
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    # httpx keeps Secure cookies to https; a browser behind the proxy would send it back.
    response = httpx.post(f"{client.base_url}/login", headers={**https, "Cookie": f"sosqueue_login_csrf={token}"},
                          data={"email": tenant.admin_email, "password": PASSWORD, "csrf_token": token})
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("sosqueue_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie
