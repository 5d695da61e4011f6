"""The company settings page over HTTP: expiry, notification emails, the webhook and its secret."""

import html
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from server.db import Database
from server.models import Company
from tests.support.dashboard import FORGED, NOT_ADMIN, PASSWORD, logged_in
from tests.support.receivers import WebhookReceiver
from tests.support.servers import QueueServer, free_port, sqlite_url
from tests.support.tenants import file_request, make_tenant

HOOK = "https://hooks.example.test/sosqueue"


@pytest.fixture(scope="module")
def tenant(server):
    """The company whose settings the tests change; each test sets what it starts from."""
    return make_tenant(server.database_url, password=PASSWORD)


@pytest.fixture(scope="module")
def admin(server, tenant):
    with logged_in(server.url, tenant.admin_email) as client:
        yield client


def settings(expiry: str = "", emails: str = "", webhook: str = "") -> dict:
    return {"expiry_hours": expiry, "notify_emails": emails, "webhook_url": webhook}


def stored(database: Database, tenant) -> tuple:
    """(expiry hours, notify emails, webhook URL, webhook secret) of the tenant's company."""
    with database.read() as session:
        company = session.scalar(select(Company).where(Company.name == tenant.name))
        return company.expiry_hours, company.notify_emails, company.webhook_url, company.webhook_secret


def field_value(page: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}"[^>]*? value="([^"]*)"', page).group(1))


def field_errors(page: str) -> dict[str, str]:
    return {key: html.unescape(text) for key, text in re.findall(r'data-field="([^"]+)">([^<]*)</p>', page)}


def error_message(page: str) -> str:
    return html.unescape(re.search(r'<p class="message">([^<]*)</p>', page).group(1))


def webhook_secret(page: str) -> str | None:
    found = re.search(r'id="webhook-secret">([^<]+)</p>', page)
    return found.group(1) if found else None


def lifetime(request: dict) -> timedelta:
    return datetime.fromisoformat(request["valid_until"]) - datetime.fromisoformat(request["created_at"])


def test_a_new_company_uses_the_server_defaults_and_no_mail_server_is_set_up(server):
    fresh = make_tenant(server.database_url, password=PASSWORD)
    with logged_in(server.url, fresh.admin_email) as admin:
        page = admin.get("/admin/company").text
    assert field_value(page, "expiry_hours") == ""
    assert 'placeholder="24"' in page
    assert (field_value(page, "notify_emails"), field_value(page, "webhook_url")) == ("", "")
    assert 'id="smtp-state" data-configured="no"' in page
    assert webhook_secret(page) is None


def test_saved_settings_are_stored_cleaned_and_shown(admin, tenant, database):
    response = admin.post("/admin/company", settings("1,5", "Ops@Example.test, lead@example.test,, ops@example.test",
                                                     f" {HOOK} "))
    assert (response.status_code, response.headers["location"]) == (303, "/admin/company")
    expiry, emails, webhook, secret = stored(database, tenant)
    assert (expiry, emails, webhook) == (1.5, "ops@example.test, lead@example.test", HOOK)
    assert len(secret) == 43
    page = admin.get("/admin/company").text
    assert (field_value(page, "expiry_hours"), field_value(page, "notify_emails"), field_value(page, "webhook_url")) \
        == ("1.5", "ops@example.test, lead@example.test", HOOK)
    assert webhook_secret(page) == secret


def test_the_company_expiry_applies_to_new_requests_and_empty_means_the_server_default(server, admin, tenant):
    admin.post("/admin/company", settings("1.5"))
    assert lifetime(file_request(server.url, tenant.module_token)) == timedelta(hours=1.5)
    admin.post("/admin/company", settings(""))
    assert lifetime(file_request(server.url, tenant.module_token)) == timedelta(hours=24)


_HOURS = "Enter a number of hours above 0 and at most 8760, or leave it empty."
_URL = "Enter an address that starts with https:// or http:// (at most 500 characters), or leave it empty."


@pytest.mark.parametrize("field, typed, message", [
    ("expiry_hours", "0", _HOURS),
    ("expiry_hours", "8761", _HOURS),
    ("expiry_hours", "nan", _HOURS),
    ("expiry_hours", "two days", _HOURS),
    ("notify_emails", "ops@example.test, ops at example", "ops at example is not an email address. "
                                                          "Separate addresses with commas."),
    ("notify_emails", "ops@example.test; lead@example.test", "ops@example.test; lead@example.test is not an email "
                                                             "address. Separate addresses with commas."),
    ("webhook_url", "ftp://files.example.test/hook", _URL),
    ("webhook_url", "javascript:alert(1)", _URL),
    ("webhook_url", f"https://example.test/{'a' * 480}", _URL),
], ids=["zero hours", "over a year", "nan hours", "words for hours", "bad email", "semicolons", "ftp url",
        "javascript url", "long url"])
def test_a_bad_setting_is_refused_beside_its_field_and_nothing_is_saved(admin, tenant, database, field, typed, message):
    admin.post("/admin/company", settings("12", "ops@example.test", HOOK))
    before = stored(database, tenant)
    form = {**settings("6", "lead@example.test", "https://other.example.test/hook"), field: typed}
    response = admin.post("/admin/company", form)
    assert response.status_code == 422
    assert field_errors(response.text) == {field: message}
    assert field_value(response.text, field) == typed  # what was typed stays for correcting
    assert stored(database, tenant) == before


def test_the_webhook_secret_signs_the_calls_to_a_real_receiver(server, admin, tenant):
    with WebhookReceiver(secret="not known yet") as receiver:
        admin.post("/admin/company", settings(webhook=receiver.url))
        receiver.secret = webhook_secret(admin.get("/admin/company").text)
        code = file_request(server.url, tenant.module_token)["code"]
        [call] = receiver.wait_for_accepted(1)
        assert call.json()["request"]["code"] == code


def test_a_new_secret_replaces_the_old_one_and_a_changed_url_keeps_it(admin, tenant, database):
    admin.post("/admin/company", settings(webhook=HOOK))
    first = stored(database, tenant)[3]
    response = admin.post("/admin/company/webhook-secret")
    assert (response.status_code, response.headers["location"]) == (303, "/admin/company")
    second = stored(database, tenant)[3]
    assert second != first and len(second) == 43
    admin.post("/admin/company", settings(webhook="https://moved.example.test/hook"))
    assert stored(database, tenant)[2:] == ("https://moved.example.test/hook", second)


def test_supporters_get_the_403_page_and_change_nothing(server, tenant, database):
    before = stored(database, tenant)
    with logged_in(server.url, tenant.supporter_email) as supporter:
        responses = [
            supporter.get("/admin/company"),
            supporter.post("/admin/company", settings("1", "me@example.test", HOOK)),
            supporter.post("/admin/company/webhook-secret"),
        ]
    assert [r.status_code for r in responses] == [403] * 3
    assert {error_message(r.text) for r in responses} == {NOT_ADMIN}
    assert stored(database, tenant) == before


def test_a_forged_form_changes_no_setting(admin, tenant, database):
    before = stored(database, tenant)
    for forged in ({"csrf_token": "forged"}, {"csrf_token": ""}):
        response = admin.post("/admin/company", {**settings("1", "me@example.test", HOOK), **forged})
        assert response.status_code == 403
        assert error_message(response.text) == FORGED
    assert stored(database, tenant) == before


def test_the_company_page_speaks_german(server, tenant):
    with logged_in(server.url, tenant.admin_email) as admin:
        admin.get("/language/de")
        page = admin.get("/admin/company").text
        refused = admin.post("/admin/company", settings("0"))
    for text in ("Stunden, bis eine offene Anfrage abläuft", "Webhook-URL", "Speichern", "kein Mailserver"):
        assert text in page
    assert field_errors(refused.text) == {
        "expiry_hours": "Geben Sie eine Stundenzahl über 0 und höchstens 8760 ein, oder lassen Sie das Feld leer.",
    }


def test_a_configured_mail_server_is_named_on_the_page(tmp_path):
    port = free_port()
    env = {"SOSQUEUE_SMTP_HOST": "127.0.0.1", "SOSQUEUE_SMTP_PORT": str(port)}
    with QueueServer(sqlite_url(tmp_path), env=env, log_dir=tmp_path) as mailing:
        tenant = make_tenant(mailing.database_url, password=PASSWORD)
        with logged_in(mailing.url, tenant.admin_email) as admin:
            page = admin.get("/admin/company").text
    assert re.search(r'id="smtp-state" data-configured="yes">Emails are sent through 127\.0\.0\.1:(\d+)\.</p>',
                     page).group(1) == str(port)
