"""The users admin page over HTTP: list, create, role, deactivate, reset password; who may do it."""

import html
import re
import uuid
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from server import admin as setup
from server.db import Database
from server.models import User, WebSession
from tests.support.dashboard import FORGED, NOT_ADMIN, NOT_HERE, PASSWORD, DashboardClient, logged_in
from tests.support.tenants import bearer, make_tenant

NO_ADMIN_LEFT = "This would leave your company without an active admin. Make another user admin first."
NEW_PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def tenant(server):
    return make_tenant(server.database_url, password=PASSWORD, supporters=2, group_members=1)


@pytest.fixture(scope="module")
def other(server):
    """Another company on the same server."""
    return make_tenant(server.database_url, password=PASSWORD)


@dataclass(frozen=True)
class Colleague:
    email: str
    id: str
    api_token: str


@pytest.fixture
def colleague(database, tenant) -> Colleague:
    """A fresh supporter of the tenant's company who can log in with PASSWORD."""
    with database.write() as session:
        created = setup.create_user(session, company=setup.company_by_name(session, tenant.name),
                                    email=new_email("colleague"), role="supporter", password=PASSWORD)
        return Colleague(created.item.email, created.item.id, created.token)


def user_rows(page: str) -> dict[str, tuple[str, str]]:
    """{email: (role, active)} of the users table."""
    rows = re.findall(r'<tr data-id="[^"]+" data-email="([^"]+)" data-role="(\w+)" data-active="(\w+)">', page)
    return {email: (role, active) for email, role, active in rows}


def row_html(page: str, email: str) -> str:
    return re.search(rf'<tr data-id="[^"]+" data-email="{re.escape(email)}".*?</tr>', page, re.S).group(0)


def field_errors(page: str) -> dict[str, str]:
    return {key: html.unescape(text) for key, text in re.findall(r'data-field="([^"]+)">([^<]*)</p>', page)}


def error_message(page: str) -> str:
    return html.unescape(re.search(r'<p class="message">([^<]*)</p>', page).group(1))


def shown_password(page: str) -> str:
    return re.search(r'id="new-password">([^<]+)</p>', page).group(1)


def stored(database: Database, email: str) -> tuple | None:
    """(role, active, password hash, live logins) of the user with ``email``, or None."""
    with database.read() as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            return None
        logins = len(session.scalars(select(WebSession.token_hash).where(WebSession.user_id == user.id)).all())
        return user.role, user.active, user.password_hash, logins


def api_me(server, token: str) -> int:
    return httpx.get(f"{server.url}/api/v1/users/me", headers=bearer(token), timeout=10).status_code


def new_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}@example.test"


def login_status(server, email: str, password: str = PASSWORD) -> int:
    """303 when the login works, 401 when it is refused."""
    with DashboardClient(server.url) as client:
        return client.login(email, password).status_code


def test_the_page_lists_exactly_the_company_users_with_role_state_and_groups(admin, tenant, other):
    page = admin.get("/admin/users")
    assert page.status_code == 200
    first, second = list(tenant.supporter_tokens)
    listed = {email: row for email, row in user_rows(page.text).items() if email.startswith(("admin-", "s0-", "s1-"))}
    assert listed == {tenant.admin_email: ("admin", "yes"), first: ("supporter", "yes"), second: ("supporter", "yes")}
    assert other.admin_email not in page.text
    assert re.search(r'<td class="groups">team-\w+</td>', row_html(page.text, first))
    assert '<td class="groups">—</td>' in row_html(page.text, second)


def test_an_admin_adds_a_user_who_logs_in_with_the_given_password(server, admin, database):
    email = new_email("created-typed")
    response = admin.post("/admin/users", {"email": email.upper(), "name": "Grace Hopper", "role": "supporter",
                                           "password": NEW_PASSWORD})
    assert (response.status_code, response.headers["location"]) == (303, "/admin/users")
    page = admin.get("/admin/users").text
    assert user_rows(page)[email] == ("supporter", "yes")
    assert '<td class="name">Grace Hopper</td>' in row_html(page, email)
    assert login_status(server, email, NEW_PASSWORD) == 303


def test_an_empty_password_is_generated_shown_once_and_works(server, admin):
    email = new_email("created-generated")
    response = admin.post("/admin/users", {"email": email, "name": "", "role": "admin", "password": ""})
    assert response.status_code == 200
    password = shown_password(response.text)
    assert len(password) == 16
    assert password not in admin.get("/admin/users").text
    with logged_in(server.url, email, password) as newcomer:
        assert newcomer.get("/admin/users").status_code == 200


def test_bad_input_is_refused_beside_each_field_and_nothing_is_saved(admin, database):
    email = new_email("created-refused")
    response = admin.post("/admin/users", {"email": "not an email", "name": "x" * 101, "role": "boss",
                                           "password": "too short"})
    assert response.status_code == 422
    assert field_errors(response.text) == {
        "email": "Enter an email address like name@example.com.",
        "name": "Use at most 100 characters on one line.",
        "role": "Choose one of the offered options.",
        "password": "Use at least 12 characters, or leave it empty to have one generated.",
    }
    response = admin.post("/admin/users", {"email": email, "name": "Ok", "role": "supporter", "password": "short"})
    assert response.status_code == 422
    assert f'value="{email}"' in response.text  # what was typed stays in the form
    assert stored(database, email) is None


def test_an_email_taken_in_any_company_is_refused(admin, other, database):
    before = stored(database, other.admin_email)
    response = admin.post("/admin/users", {"email": other.admin_email, "name": "", "role": "supporter",
                                           "password": NEW_PASSWORD})
    assert response.status_code == 409
    assert field_errors(response.text) == {"email": "A user with this email already exists."}
    assert stored(database, other.admin_email) == before


def test_role_changes_take_effect_on_the_next_page(server, admin, colleague):
    with logged_in(server.url, colleague.email) as client:
        assert client.get("/admin/users").status_code == 403
        assert admin.post(f"/admin/users/{colleague.id}/role", {"role": "admin"}).status_code == 303
        assert user_rows(admin.get("/admin/users").text)[colleague.email] == ("admin", "yes")
        assert client.get("/admin/users").status_code == 200
        assert admin.post(f"/admin/users/{colleague.id}/role", {"role": "supporter"}).status_code == 303
        assert client.get("/admin/users").status_code == 403


def test_deactivation_ends_logins_and_api_tokens_until_reactivated(server, admin, colleague, database):
    client = logged_in(server.url, colleague.email)
    assert api_me(server, colleague.api_token) == 200

    assert admin.post(f"/admin/users/{colleague.id}/active", {"active": "0"}).status_code == 303
    assert user_rows(admin.get("/admin/users").text)[colleague.email] == ("supporter", "no")
    assert stored(database, colleague.email)[3] == 0
    assert client.get("/queue").headers["location"].startswith("/login?")
    assert api_me(server, colleague.api_token) == 401
    assert login_status(server, colleague.email) == 401

    assert admin.post(f"/admin/users/{colleague.id}/active", {"active": "1"}).status_code == 303
    assert user_rows(admin.get("/admin/users").text)[colleague.email] == ("supporter", "yes")
    assert api_me(server, colleague.api_token) == 200
    assert login_status(server, colleague.email) == 303
    client.close()


def test_a_reset_password_replaces_the_old_one_and_logs_the_user_out(server, admin, colleague):
    client = logged_in(server.url, colleague.email)
    response = admin.post(f"/admin/users/{colleague.id}/password", {"password": ""})
    assert response.status_code == 200
    password = shown_password(response.text)
    assert client.get("/queue").headers["location"].startswith("/login?")
    assert login_status(server, colleague.email) == 401
    assert login_status(server, colleague.email, password) == 303
    client.close()


def test_an_admin_can_set_a_chosen_password(server, admin, colleague):
    response = admin.post(f"/admin/users/{colleague.id}/password", {"password": NEW_PASSWORD})
    assert (response.status_code, response.headers["location"]) == (303, "/admin/users")
    assert login_status(server, colleague.email, NEW_PASSWORD) == 303


def test_a_too_short_new_password_is_refused_in_its_row(admin, colleague, database):
    before = stored(database, colleague.email)
    response = admin.post(f"/admin/users/{colleague.id}/password", {"password": "short"})
    assert response.status_code == 422
    assert field_errors(response.text) == {
        f"password:{colleague.id}": "Use at least 12 characters, or leave it empty to have one generated.",
    }
    assert stored(database, colleague.email) == before


def test_the_last_active_admin_cannot_demote_or_deactivate_themselves(server, database):
    company = make_tenant(server.database_url, password=PASSWORD, supporters=1)
    me, other_user = company.user_ids[company.admin_email], company.user_ids[company.supporter_email]
    with logged_in(server.url, company.admin_email) as boss:
        for action, data in (("role", {"role": "supporter"}), ("active", {"active": "0"})):
            response = boss.post(f"/admin/users/{me}/{action}", data)
            assert response.status_code == 409
            assert field_errors(response.text) == {f"{action}:{me}": NO_ADMIN_LEFT}
        assert stored(database, company.admin_email)[:2] == ("admin", True)

        assert boss.post(f"/admin/users/{other_user}/role", {"role": "admin"}).status_code == 303
        assert boss.post(f"/admin/users/{me}/role", {"role": "supporter"}).status_code == 303
        assert boss.get("/admin/users").status_code == 403
    assert stored(database, company.admin_email)[:2] == ("supporter", True)


@pytest.mark.parametrize("action", ["role", "active", "password"])
def test_another_company_user_gives_404_and_stays_as_it_was(admin, other, database, action):
    before = stored(database, other.admin_email)
    data = {"role": {"role": "supporter"}, "active": {"active": "0"}, "password": {"password": NEW_PASSWORD}}[action]
    response = admin.post(f"/admin/users/{other.user_ids[other.admin_email]}/{action}", data)
    assert response.status_code == 404
    assert error_message(response.text) == NOT_HERE
    assert stored(database, other.admin_email) == before


def test_supporters_get_the_403_page_on_every_users_page_and_action(supporter, tenant, database):
    me = tenant.user_ids[tenant.supporter_email]
    admin_id = tenant.user_ids[tenant.admin_email]
    email = new_email("created-by-supporter")
    before = stored(database, tenant.supporter_email), stored(database, tenant.admin_email)
    responses = [
        supporter.get("/admin/users"),
        supporter.post("/admin/users", {"email": email, "name": "", "role": "admin", "password": NEW_PASSWORD}),
        supporter.post(f"/admin/users/{me}/role", {"role": "admin"}),
        supporter.post(f"/admin/users/{admin_id}/active", {"active": "0"}),
        supporter.post(f"/admin/users/{admin_id}/password", {"password": NEW_PASSWORD}),
    ]
    assert [r.status_code for r in responses] == [403] * 5
    assert {error_message(r.text) for r in responses} == {NOT_ADMIN}
    assert (stored(database, tenant.supporter_email), stored(database, tenant.admin_email)) == before
    assert stored(database, email) is None


@pytest.mark.parametrize("forgery", ["wrong token", "no token", "other site"])
def test_forged_forms_are_refused_and_change_nothing(admin, database, forgery):
    email = new_email("created-forged")
    form = {"email": email, "name": "", "role": "admin", "password": NEW_PASSWORD}
    if forgery == "wrong token":
        response = admin.post("/admin/users", {**form, "csrf_token": "forged"})
    elif forgery == "no token":
        response = admin.http.post("/admin/users", data=form)
    else:
        response = admin.post("/admin/users", form, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert error_message(response.text) == FORGED
    assert stored(database, email) is None


def test_the_users_page_speaks_german(server, tenant):
    with logged_in(server.url, tenant.admin_email) as client:
        client.get("/language/de")
        page = client.get("/admin/users").text
        assert '<html lang="de">' in page
        for text in ("Benutzer hinzufügen", "Passwort zurücksetzen", "Rolle", "Deaktivieren", "Supporter"):
            assert text in page
        refused = client.post("/admin/users", {"email": "nope", "name": "", "role": "supporter", "password": ""})
        assert field_errors(refused.text) == {"email": "Geben Sie eine E-Mail-Adresse wie name@example.com ein."}
