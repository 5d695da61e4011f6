"""The session view over HTTP: who may open it, for which requests, and what it says."""

import html
import re
from datetime import timedelta

import httpx
import pytest
from babel.messages.pofile import read_po
from sqlalchemy import update

from server.db import Database
from server.models import ServiceRequest, utcnow
from server.web.i18n import LOCALE_DIR
from server.web.templating import TEMPLATES_DIR
from tests.support.dashboard import PASSWORD, logged_in
from tests.support.tenants import bearer, file_request, make_tenant

CUSTOMER = "Ada <Lovelace>"
TEMPLATE_TEXT = re.compile(r'_\("((?:[^"\\]|\\.)*)"')  # _("…") in a template, as tests/server/web/test_i18n.py reads it


@pytest.fixture(scope="module")
def tenant(server):
    return make_tenant(server.database_url, password=PASSWORD)


def file(server, tenant) -> str:
    return file_request(server.url, tenant.module_token, end_customer={"name": CUSTOMER})["code"]


def text_of(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    return html.unescape(match.group(1)).strip()


def error_message(page: str) -> str:
    return html.unescape(re.search(r'<p class="message">(.*?)</p>', page, re.S).group(1)).strip()


def test_a_supporter_opens_the_session_view_of_a_request_of_the_company(server, tenant, supporter):
    code = file(server, tenant)
    response = supporter.get(f"/requests/{code}/session")
    assert response.status_code == 200
    page = response.text
    user_id = tenant.user_ids[tenant.supporter_email]  # the page tells its own expert's control consent apart
    assert f'<section class="session" id="session" data-code="{code}" data-user-id="{user_id}">' in page
    assert '<canvas id="screen" width="0" height="0"></canvas>' in page
    assert text_of(page, "session-state") == "Connecting…"
    assert f"Session with {html.escape(CUSTOMER)}" in page  # escaped, not markup
    assert '<script src="/static/session.js" defer></script>' in page
    assert f'<meta name="csrf-token" content="{supporter.csrf_token}">' in page
    for element in ("chat-log", "chat-text", "chat-send", "end-session", "ask-again", "request-control", "give-back",
                    "control-keys", "keyboard-hint"):
        assert f'id="{element}"' in page


def test_any_spelling_of_the_code_opens_the_session_view(server, tenant, supporter):
    code = file(server, tenant)
    response = supporter.get(f"/requests/{code.replace('-', '').upper()}/session")
    assert response.status_code == 200
    assert f'data-code="{code}"' in response.text


def test_an_admin_of_the_company_opens_the_session_view_too(server, tenant, admin):
    code = file(server, tenant)
    assert admin.get(f"/requests/{code}/session").status_code == 200


def test_a_request_of_another_company_looks_unknown(server, tenant):
    other = make_tenant(server.database_url, password=PASSWORD)
    code = file(server, tenant)
    with logged_in(server.url, other.supporter_email) as outsider:
        response = outsider.get(f"/requests/{code}/session")
    assert response.status_code == 404
    assert error_message(response.text) == "There is no such service request, user, group or module here."


def test_an_unknown_code_is_not_found(supporter):
    response = supporter.get("/requests/s99-999-999/session")
    assert response.status_code == 404
    assert error_message(response.text) == "There is no such service request, user, group or module here."


def test_a_closed_request_has_no_session_to_open(server, tenant, supporter):
    code = file(server, tenant)
    closing = httpx.post(f"{server.url}/api/v1/service-requests/{code}/close", headers=bearer(tenant.admin_token))
    assert closing.status_code == 200
    response = supporter.get(f"/requests/{code}/session")
    assert response.status_code == 409
    assert error_message(response.text) == "This request is Closed, so it has no session any more."


def test_an_expired_request_has_no_session_to_open(server, tenant, supporter):
    code = file(server, tenant)
    database = Database(server.database_url)
    try:
        with database.write() as session:
            session.execute(update(ServiceRequest).where(ServiceRequest.code == code.replace("-", ""))
                            .values(valid_until=utcnow() - timedelta(minutes=1)))
    finally:
        database.dispose()
    response = supporter.get(f"/requests/{code}/session")
    assert response.status_code == 409
    assert error_message(response.text) == "This request is Expired, so it has no session any more."


def test_signing_in_is_required_and_leads_back_to_the_session(server, tenant):
    code = file(server, tenant)
    response = httpx.get(f"{server.url}/requests/{code}/session")
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Frequests%2F{code}%2Fsession"


def test_the_page_allows_no_inline_script_and_frames_as_blob_images(server, tenant, supporter):
    code = file(server, tenant)
    response = supporter.get(f"/requests/{code}/session")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "img-src 'self' data: blob:;" in policy
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", response.text) == []


def test_the_session_view_speaks_german(server, tenant):
    code = file(server, tenant)
    with logged_in(server.url, tenant.supporter_email) as client:
        client.http.cookies.set("sosqueue_lang", "de")
        page = client.get(f"/requests/{code}/session").text
    assert "Sitzung beenden" in page and "Erneut fragen" in page


def test_every_text_of_the_session_view_has_a_german_translation():
    texts = {raw.replace('\\"', '"') for raw in TEMPLATE_TEXT.findall((TEMPLATES_DIR / "session.html").read_text())}
    with open(LOCALE_DIR / "de" / "LC_MESSAGES" / "dashboard.po", "rb") as po:
        german = read_po(po)
    assert sorted(text for text in texts if not (german.get(text) and german.get(text).string)) == []
