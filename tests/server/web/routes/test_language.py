"""Switching the dashboard between English and German."""

import pytest

from tests.support.dashboard import PASSWORD, logged_in
from tests.support.tenants import make_tenant


@pytest.fixture(scope="module")
def tenant(server):
    return make_tenant(server.database_url, password=PASSWORD)


def test_the_language_switch_remembers_german_and_goes_back(server, tenant):
    client = logged_in(server.url, tenant.supporter_email)
    response = client.get("/language/de", params={"next": "/queue"})
    assert response.status_code == 303 and response.headers["location"] == "/queue"
    page = client.get("/queue").text
    assert '<html lang="de">' in page
    assert "Meine Anfragen" in page and "Nicht zugewiesen" in page and "Verbleibende Zeit" in page
    client.get("/language/en")
    assert "My requests" in client.get("/queue").text


def test_the_browser_language_is_used_until_one_is_chosen(server):
    from tests.support.dashboard import DashboardClient

    with DashboardClient(server.url) as client:
        german = client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}).text
        english = client.get("/login", headers={"Accept-Language": "fr-FR,en;q=0.5"}).text
    assert "Passwort" in german and '<html lang="de">' in german
    assert "Password" in english and '<html lang="en">' in english


def test_an_unknown_language_is_a_not_found_page(server, tenant):
    client = logged_in(server.url, tenant.supporter_email)
    response = client.get("/language/xx")
    assert response.status_code == 404
    assert "This page does not exist." in response.text


def test_error_pages_are_translated_too(server, tenant):
    client = logged_in(server.url, tenant.supporter_email)
    client.get("/language/de")
    response = client.get("/requests/s00-000-002")
    assert response.status_code == 404
    assert "Diese Serviceanfrage, diesen Benutzer, diese Gruppe oder dieses Modul gibt es hier nicht." in response.text
