"""The dashboard in German and English in Chromium: the language switch, the browser's language."""

from tests.support.browser import (
    agent_client,
    file_as_agent,
    sign_in,
    submit_login,
    wait_for_row,
    wait_live,
)

QUEUE_HEADINGS_DE = ["Code", "Status", "Wartet", "Kunde", "Thema", "Beschreibung", "Gruppe", "Zuständig", "Erstellt",
                     "Verbleibende Zeit"]
QUEUE_HEADINGS_EN = ["Code", "Status", "Waiting", "Customer", "Topic", "Description", "Group", "Assignee", "Created",
                     "Time left"]


def switch_language(page, label: str) -> None:
    with page.expect_navigation():
        page.click(f"a.lang:text-is('{label}')")


def test_switching_to_german_shows_the_queue_in_german_with_live_rows_and_back_to_english(
    sqlite_server, tenant, page
):
    client = agent_client(sqlite_server.url, tenant)
    first = file_as_agent(client, {"description": "Drucker"}).code
    sign_in(page, sqlite_server, tenant.supporter_email)

    switch_language(page, "Deutsch")

    assert page.url == f"{sqlite_server.url}/queue"
    assert page.get_attribute("html", "lang") == "de"
    assert page.locator("#queue thead th").all_inner_texts() == QUEUE_HEADINGS_DE
    assert page.locator("nav.views a").all_inner_texts() == ["Alle offenen", "Meine Anfragen", "Nicht zugewiesen"]
    assert page.locator("header.top nav a").all_inner_texts() == ["Warteschlange", "Neue Anfrage"]
    assert page.inner_text("form[action='/logout'] button") == "Abmelden"
    assert page.inner_text("form.filters button[type=submit]") == "Filtern"
    assert page.locator(f'tr[data-code="{first}"] .badge').inner_text() == "Neu"
    wait_live(page)
    arrived = wait_for_row(page, file_as_agent(client, {"description": "Netzwerk"}).code)
    assert arrived.locator(".badge").inner_text() == "Neu"

    switch_language(page, "English")

    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("#queue thead th").all_inner_texts() == QUEUE_HEADINGS_EN
    assert page.locator("a.lang").all_inner_texts() == ["Deutsch"]


def test_a_request_page_and_its_actions_in_german(sqlite_server, tenant, page):
    code = file_as_agent(agent_client(sqlite_server.url, tenant), {"description": "Bildschirm bleibt schwarz"}).code
    sign_in(page, sqlite_server, tenant.supporter_email)
    switch_language(page, "Deutsch")
    page.goto(f"{sqlite_server.url}/requests/{code}")

    page.click("#close")
    assert page.inner_text("#close-confirm p") == (
        f"Anfrage {code} endgültig schließen? Eine geschlossene Anfrage lässt sich nicht wieder öffnen.")
    with page.expect_navigation():
        page.click("#close-confirmed")

    assert page.inner_text("#status") == "Geschlossen"
    assert page.locator("main h2").all_inner_texts() == ["Aktionen", "Verlauf"]
    assert page.inner_text(".actions p") == "Diese Anfrage ist Geschlossen; sie kann nicht mehr bearbeitet werden."
    assert page.locator("#history li strong").all_inner_texts() == ["Erstellt", "Zugewiesen", "Geschlossen"]
    assert page.inner_text("#session") == "Kunde nicht verbunden · 0 Experte(n) verbunden"


def test_a_browser_that_prefers_german_gets_the_login_page_and_its_errors_in_german(sqlite_server, tenant, new_page):
    page = new_page(locale="de-DE")
    page.goto(f"{sqlite_server.url}/queue")

    assert page.get_attribute("html", "lang") == "de"
    assert page.inner_text("main h1") == "Anmelden"
    submit_login(page, tenant.supporter_email, "falsch")
    assert page.inner_text("p.error") == "E-Mail-Adresse oder Passwort ist falsch."
    assert page.locator("form[action='/login'] label").all_inner_texts() == ["E-Mail", "Passwort"]
