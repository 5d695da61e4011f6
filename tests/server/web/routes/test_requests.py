"""A request's page over HTTP: details, history, assign, unassign, close, connect, chat, manual creation."""

import html
import re

import httpx
import pytest
from sqlalchemy import update

from server.models import ServiceRequest
from sosqueue import codes
from tests.support.dashboard import PASSWORD
from tests.support.tenants import bearer, file_request, make_tenant


@pytest.fixture(scope="module")
def tenant(server):
    return make_tenant(server.database_url, password=PASSWORD, supporters=2)


def api_get(server, tenant, code: str) -> dict:
    return httpx.get(f"{server.url}/api/v1/service-requests/{code}", headers=bearer(tenant.admin_token)).json()


def history_types(server, tenant, code: str) -> list[str]:
    response = httpx.get(f"{server.url}/api/v1/service-requests/{code}/history", headers=bearer(tenant.admin_token))
    return [event["type"] for event in response.json()]


def text_of(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    return html.unescape(match.group(1)).strip()


def test_the_page_shows_what_the_customer_sent_and_the_diagnostics(server, tenant, supporter):
    code = file_request(server.url, tenant.module_token, description="Printer\njams",
                        end_customer={"name": "Ada Lovelace", "email": "ada@example.test"},
                        diagnostics={"os": "Windows 11", "disk_free_gb": 12})["code"]
    page = supporter.get(f"/requests/{code}").text
    assert text_of(page, "customer-name") == "Ada Lovelace"
    assert text_of(page, "customer-email") == "ada@example.test"
    assert text_of(page, "description") == "Printer\njams"
    assert "<th>disk_free_gb</th>" in page and "Windows 11" in page
    assert text_of(page, "status") == "New"


def test_any_spelling_of_the_code_opens_the_request(server, tenant, supporter):
    code = file_request(server.url, tenant.module_token)["code"]
    response = supporter.get(f"/requests/{code.replace('-', '').upper()}")
    assert response.status_code == 200
    assert f'data-code="{code}"' in response.text


def test_assign_to_me_then_to_a_colleague_then_unassign(server, tenant, supporter):
    code = file_request(server.url, tenant.module_token)["code"]
    colleague = list(tenant.supporter_tokens)[1]
    assert supporter.post(f"/requests/{code}/assign", data={"user": "me"}).status_code == 303
    assert api_get(server, tenant, code)["assignee"]["email"] == tenant.supporter_email
    supporter.post(f"/requests/{code}/assign", data={"user": tenant.user_ids[colleague]})
    assert api_get(server, tenant, code)["assignee"]["email"] == colleague
    supporter.post(f"/requests/{code}/assign", data={"user": ""})
    assert api_get(server, tenant, code)["assignee"] is None
    # the first "assigned" is the module's automated assignment (strategy none: nobody)
    assert history_types(server, tenant, code) == ["created", "assigned", "assigned", "assigned", "assigned"]
    assert text_of(supporter.get(f"/requests/{code}").text, "assignee") == "—"


def test_assigning_to_someone_of_another_company_changes_nothing(server, tenant, supporter):
    other = make_tenant(server.database_url)
    code = file_request(server.url, tenant.module_token)["code"]
    response = supporter.post(f"/requests/{code}/assign", data={"user": other.user_ids[other.admin_email]})
    assert response.status_code == 404
    assert "There is no such service request, user, group or module here." in response.text
    assert api_get(server, tenant, code)["assignee"] is None


def test_closing_records_it_and_a_second_close_gets_a_clear_page(server, tenant, supporter):
    code = file_request(server.url, tenant.module_token)["code"]
    assert supporter.post(f"/requests/{code}/close").status_code == 303
    assert api_get(server, tenant, code)["status"] == "closed"
    again = supporter.post(f"/requests/{code}/close")
    assert again.status_code == 409
    assert "This request is Closed and can no longer be changed." in again.text
    assert 'id="close"' not in supporter.get(f"/requests/{code}").text


def test_connect_opens_the_session_view_of_an_open_request_only(server, tenant, supporter):
    code = file_request(server.url, tenant.module_token)["code"]
    assert f'<a class="button primary" id="connect" href="/requests/{code}/session">' in supporter.get(
        f"/requests/{code}").text
    supporter.post(f"/requests/{code}/close")
    assert 'id="connect"' not in supporter.get(f"/requests/{code}").text


def test_the_history_names_who_was_shown_the_screen_and_who_stopped_it(server, tenant, supporter):
    from server.db import Database
    from server.queue import find_request, record_event

    code = file_request(server.url, tenant.module_token)["code"]
    database = Database(server.database_url)
    try:
        with database.write() as session:
            request = find_request(session, company_id=_company_id(session, tenant), code=code)
            record_event(session, request, type="screen_shared", actor="customer",
                         data={"expert": tenant.user_ids[tenant.supporter_email]})
            record_event(session, request, type="screen_stopped", actor="customer", data={"by": "customer"})
    finally:
        database.dispose()
    history = supporter.get(f"/requests/{code}").text
    shared = re.search(r'<li data-type="screen_shared">(.*?)</li>', history, re.S).group(1)
    stopped = re.search(r'<li data-type="screen_stopped">(.*?)</li>', history, re.S).group(1)
    assert "Screen shared" in shared and f"→ {tenant.supporter_email}" in shared
    assert "Screen sharing stopped" in stopped and "Customer" in stopped and "(by" not in stopped  # the actor, named once


def test_the_history_names_who_was_given_control_and_how_control_ended(server, tenant, supporter):
    from server.db import Database
    from server.queue import find_request, record_event

    code = file_request(server.url, tenant.module_token)["code"]
    expert = {"expert": tenant.user_ids[tenant.supporter_email]}
    database = Database(server.database_url)
    try:
        with database.write() as session:
            request = find_request(session, company_id=_company_id(session, tenant), code=code)
            for kind, data in (("control_denied", expert), ("control_granted", expert),
                               ("control_stopped", {"by": "customer"}), ("control_stopped", {"by": "expert"}),
                               ("control_stopped", {"by": "system"})):
                record_event(session, request, type=kind, actor="customer", data=data)
    finally:
        database.dispose()
    history = supporter.get(f"/requests/{code}").text
    entries = [re.sub(r"\s+", " ", re.sub(r"<time.*?</time>|<[^>]+>", "", item)).strip()
               for item in re.findall(r'<li data-type="control_\w+">(.*?)</li>', history, re.S)]
    assert entries == [f"Control denied Customer → {tenant.supporter_email}",
                       f"Control allowed Customer → {tenant.supporter_email}",
                       "Control taken back Customer",
                       "Control given back Customer (by Expert)",
                       "Control ended Customer (by System)"]


def _company_id(session, tenant) -> str:
    from sqlalchemy import select

    from server.models import Company

    return session.scalar(select(Company.id).where(Company.name == tenant.name))


def test_actions_without_the_csrf_token_are_refused_and_change_nothing(server, tenant, supporter):
    code = file_request(server.url, tenant.module_token)["code"]
    for action, data in [("assign", {"user": "me"}), ("assign", {"user": ""}), ("close", {})]:
        response = supporter.post(f"/requests/{code}/{action}", data={"csrf_token": "", **data})
        assert response.status_code == 403
        assert "This form has expired or did not come from this dashboard." in response.text
    assert history_types(server, tenant, code) == ["created", "assigned"]


def test_actions_posted_from_another_site_are_refused(server, tenant, supporter):
    code = file_request(server.url, tenant.module_token)["code"]
    response = supporter.post(f"/requests/{code}/close", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert api_get(server, tenant, code)["status"] == "new"


def test_a_manual_request_shows_its_code_and_what_to_tell_the_customer(server, tenant, supporter):
    response = supporter.post("/requests/new", data={
        "name": "Grace Hopper", "email": "grace@example.test", "description": "VPN drops every hour",
    })
    assert response.status_code == 303
    location = response.headers["location"]
    code = re.fullmatch(r"/requests/(s\d\d-\d\d\d-\d\d\d)\?created=1", location).group(1)
    page = supporter.get(location).text
    assert f"Tell the customer this code: {code}" in page
    assert "I have a session code" in page
    stored = api_get(server, tenant, code)
    assert stored["source"] == "manual"
    assert stored["end_customer"] == {"name": "Grace Hopper", "email": "grace@example.test"}
    assert stored["description"] == "VPN drops every hour"


def test_a_manual_request_with_bad_input_keeps_the_form_and_files_nothing(server, tenant, supporter):
    before = httpx.get(f"{server.url}/api/v1/service-requests?status=new", headers=bearer(tenant.admin_token))
    response = supporter.post("/requests/new", data={
        "name": "Grace", "email": "not-an-address", "description": "kept text",
    })
    assert response.status_code == 422
    assert "is not an email address like name@example.com" in response.text
    assert ">kept text</textarea>" in response.text
    after = httpx.get(f"{server.url}/api/v1/service-requests?status=new", headers=bearer(tenant.admin_token))
    assert after.json()["items"] == before.json()["items"]


def test_customer_markup_is_escaped_in_the_page_source(server, tenant, supporter):
    payload = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    code = file_request(server.url, tenant.module_token, description=payload, end_customer={"name": payload},
                        diagnostics={payload: payload})["code"]
    for page in (supporter.get(f"/requests/{code}").text, supporter.get("/queue").text):
        assert "<script>alert(1)" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page


def test_pages_forbid_inline_scripts_and_framing(server, supporter):
    response = supporter.get("/queue")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"


def test_an_unknown_page_is_a_page_and_the_api_still_answers_problems(server, supporter):
    page = supporter.get("/no/such/page")
    api = supporter.get("/api/v1/no-such-thing")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "This page does not exist." in page.text
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


def add_note(server, customer_token: str, code: str, text: str) -> None:
    response = httpx.post(f"{server.url}/api/v1/service-requests/{code}/notes", json={"text": text},
                          headers=bearer(customer_token))
    assert response.status_code == 201, response.text


def note_entry(page: str) -> str:
    return re.search(r'<li data-type="note_added">(.*?)</li>', page, re.S).group(1)


def test_the_history_shows_the_customers_note_in_english_and_german(server, tenant, supporter):
    filed = file_request(server.url, tenant.module_token)
    add_note(server, filed["customer_token"], filed["code"], "It smokes now.\nSecond line.")
    english = note_entry(supporter.get(f"/requests/{filed['code']}").text)
    german = note_entry(supporter.get(f"/requests/{filed['code']}", headers={"Accept-Language": "de"}).text)
    assert "Note from the customer:" in english
    assert "Notiz vom Kunden:" in german
    for entry in (english, german):
        assert '<span class="note">It smokes now.\nSecond line.</span>' in entry


def test_a_note_with_markup_is_shown_as_text_never_as_markup(server, tenant, supporter):
    filed = file_request(server.url, tenant.module_token)
    add_note(server, filed["customer_token"], filed["code"], '<img src=x onerror="alert(1)"><script>alert(2)</script>')
    entry = note_entry(supporter.get(f"/requests/{filed['code']}").text)
    assert "<img" not in entry and "<script" not in entry
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in entry


def preselected_assignee(page: str) -> str:
    """The user id the Assign to… list starts with."""
    select = re.search(r'<select name="user" id="assign-user">(.*?)</select>', page, re.S).group(1)
    [selected] = re.findall(r'<option value="([^"]+)" selected>', select)
    return selected


def test_assign_to_starts_with_me_while_nobody_has_the_request(server, tenant, supporter):
    """Not the first user alphabetically (the admin): the supporter looking at the request."""
    code = file_request(server.url, tenant.module_token)["code"]

    page = supporter.get(f"/requests/{code}").text

    assert preselected_assignee(page) == tenant.user_ids[tenant.supporter_email]
    assert re.search(r'<option value="([^"]+)"', page).group(1) != tenant.user_ids[tenant.supporter_email]


def test_assign_to_starts_with_the_current_assignee(server, tenant, supporter, admin):
    code = file_request(server.url, tenant.module_token)["code"]
    colleague = list(tenant.supporter_tokens)[1]
    assert admin.post(f"/requests/{code}/assign", {"user": tenant.user_ids[colleague]}).status_code == 303

    assert preselected_assignee(supporter.get(f"/requests/{code}").text) == tenant.user_ids[colleague]
    assert preselected_assignee(admin.get(f"/requests/{code}").text) == tenant.user_ids[colleague]


# -- the chat panel and the topic --------------------------------------------------------------


def test_an_open_requests_page_has_a_chat_panel_that_its_script_shows(server, tenant, supporter):
    code = file_request(server.url, tenant.module_token)["code"]
    page = supporter.get(f"/requests/{code}").text
    panel = re.search(r'<section class="card chat request-chat" id="request-chat"([^>]*)>', page).group(1)
    assert f'data-code="{code}"' in panel and 'data-mode="chat"' in panel
    assert panel.rstrip().endswith("hidden")  # without scripts the page has no chat
    assert '<script src="/static/chat.js" defer></script>' in page
    assert '<label for="chat-text">Message to the customer</label>' in page
    assert re.search(r'<ol id="chat-log" class="chat-log" aria-live="polite"', page)
    assert 'maxlength="2000"' in page  # the server's connect_max_chat_chars


def test_a_closed_requests_page_has_no_chat(server, tenant, supporter):
    code = file_request(server.url, tenant.module_token)["code"]
    supporter.post(f"/requests/{code}/close")
    page = supporter.get(f"/requests/{code}").text
    assert 'id="request-chat"' not in page and "/static/chat.js" not in page


def test_the_page_shows_the_requests_topic_when_it_has_one(server, tenant, supporter, database):
    with_topic, without = (file_request(server.url, tenant.module_token)["code"] for _ in range(2))
    with database.write() as session:
        session.execute(update(ServiceRequest).where(ServiceRequest.code == codes.normalize(with_topic))
                        .values(topic="Printer <jams>"))
    assert text_of(supporter.get(f"/requests/{with_topic}").text, "topic") == "Printer <jams>"
    assert 'id="topic"' not in supporter.get(f"/requests/{without}").text
