"""A request's history lines over HTTP: each names a person once, in English and in German."""

import html
import re

import pytest
from sqlalchemy import select

from server.db import Database
from server.models import ServiceRequest
from server.queue import record_event
from sosqueue import codes
from sosqueue.events import EventType
from tests.support.dashboard import PASSWORD, logged_in
from tests.support.tenants import file_request, make_tenant


def record(database_url: str, code: str, events: list[tuple[EventType, str, dict]]) -> None:
    """Store events in the request's history as the queue and the relay do."""
    database = Database(database_url)
    try:
        with database.write() as session:
            request = session.scalar(select(ServiceRequest).where(ServiceRequest.code == codes.normalize(code)))
            for type, actor, data in events:
                record_event(session, request, type=type, actor=actor, data=data)
    finally:
        database.dispose()


def history_lines(page: str) -> list[str]:
    """Each history entry's text without its time, spaces collapsed."""
    entries = re.findall(r'<li data-type="[a-z_]+">(.*?)</li>', page, re.S)
    texts = (html.unescape(re.sub(r"<time[^>]*>.*?</time>|<[^>]+>", " ", entry)) for entry in entries)
    return [" ".join(text.split()) for text in texts]


@pytest.fixture(scope="module")
def tenant(server):
    return make_tenant(server.database_url, password=PASSWORD, supporters=2)


@pytest.fixture
def sam(server, tenant):
    """The first supporter, signed in, and the events that name them as actor and subject at once."""
    email = tenant.supporter_email
    user = f"user:{tenant.user_ids[email]}"
    expert = tenant.user_ids[email]
    code = file_request(server.url, tenant.module_token)["code"]
    record(server.database_url, code, [
        (EventType.ASSIGNED, user, {"assignee": expert}),
        (EventType.JOINED, user, {"party": user}),
        (EventType.JOINED, "customer", {"party": "customer"}),
        (EventType.SCREEN_SHARED, "customer", {"expert": expert}),
        (EventType.CONTROL_GRANTED, "customer", {"expert": expert}),
        (EventType.CONTROL_STOPPED, "customer", {"by": "customer"}),
        (EventType.SCREEN_STOPPED, user, {"by": "expert"}),
        (EventType.SCREEN_STOPPED, "system", {"by": "system"}),
        (EventType.LEFT, "customer", {"party": "customer"}),
        (EventType.LEFT, user, {"party": user}),
    ])
    client = logged_in(server.url, email)
    yield client, code, email
    client.close()


def test_history_lines_name_each_person_once_in_english(sam):
    client, code, email = sam

    lines = history_lines(client.get(f"/requests/{code}").text)

    assert lines[2:] == [
        f"Assigned {email} → themselves",
        f"Joined {email}",
        "Joined Customer",
        f"Screen shared Customer → {email}",
        f"Control allowed Customer → {email}",
        "Control taken back Customer",
        f"Screen sharing stopped {email}",
        "Screen sharing stopped System",
        "Left Customer",
        f"Left {email}",
    ]
    assert not [line for line in lines if email in line.replace(email, "", 1)]


def test_history_lines_name_each_person_once_in_german(sam):
    client, code, email = sam
    client.get("/language/de")

    lines = history_lines(client.get(f"/requests/{code}").text)

    assert lines[2:] == [
        f"Zugewiesen {email} → sich selbst",
        f"Verbunden {email}",
        "Verbunden Kunde",
        f"Bildschirm freigegeben Kunde → {email}",
        f"Steuerung erlaubt Kunde → {email}",
        "Steuerung zurückgenommen Kunde",
        f"Bildschirmfreigabe beendet {email}",
        "Bildschirmfreigabe beendet System",
        "Getrennt Kunde",
        f"Getrennt {email}",
    ]


def test_someone_assigning_a_colleague_or_nobody_names_both(server, tenant, admin):
    colleague = tenant.supporter_email
    code = file_request(server.url, tenant.module_token)["code"]
    admin.post(f"/requests/{code}/assign", {"user": tenant.user_ids[colleague]})
    admin.post(f"/requests/{code}/assign", {"user": ""})

    lines = history_lines(admin.get(f"/requests/{code}").text)

    assert lines[2:] == [f"Assigned {tenant.admin_email} → {colleague}", f"Assigned {tenant.admin_email} → nobody"]
