"""The outbox: what a commit enqueues, under which settings, and that it wakes the worker."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from server import queue
from server.config import Settings
from server.db import Database
from server.models import Company, RequestEvent, ServiceRequest, utcnow
from server.notify.outbox import install_outbox, notified_as, split_addresses
from tests.server.notify.conftest import SECRET, configure, notifications
from tests.support.databases import own_server
from tests.support.queue_api import QueueApi
from tests.support.servers import sqlite_url
from tests.support.tenants import file_request, make_tenant

# No SMTP host, and a poll so long that only a commit's wake-up can get anything delivered.
QUIET = {"SOSQUEUE_NOTIFY_POLL_SECONDS": "3600"}


@pytest.fixture(scope="module")
def quiet_server(backend, request, tmp_path_factory):
    with own_server(backend, request, tmp_path_factory, env=QUIET) as running:
        yield running


def file_and_hand_over(server, tenant) -> dict:
    """A module files a request, then the admin assigns it to a supporter."""
    created = file_request(server.url, tenant.module_token)
    colleague = tenant.user_ids[next(iter(tenant.supporter_tokens))]
    response = QueueApi(server.url).assign(created["code"], tenant.admin_token, colleague)
    assert response.status_code == 200, response.text
    return created


def test_events_that_notify():
    def event(type: str, **data) -> RequestEvent:
        return RequestEvent(type=type, data=data)

    assert notified_as(event("created", source="module")) == "request.created"
    assert notified_as(event("assigned", assignee="u1")) == "request.assigned"
    assert notified_as(event("assigned", assignee=None)) is None
    assert [notified_as(event(t)) for t in ("claimed", "joined", "left", "status_changed", "closed", "expired")] == [None] * 6
    assert notified_as(SimpleNamespace(type="created", data={})) is None  # the expiry sweep's light events


def test_split_addresses_trims_and_drops_empty_and_repeated_ones():
    assert split_addresses(" a@x.test, b@y.test,,a@x.test , ") == ["a@x.test", "b@y.test"]
    assert split_addresses("") == []


def test_without_an_smtp_host_only_webhooks_are_enqueued(quiet_server, webhook):
    tenant = make_tenant(quiet_server.database_url)
    configure(quiet_server.database_url, tenant, emails="desk@company.test", webhook_url=webhook.url)

    file_and_hand_over(quiet_server, tenant)

    rows = notifications(quiet_server.database_url, tenant)
    assert [(r.event, r.channel, r.target) for r in rows] == [
        ("request.created", "webhook", webhook.url), ("request.assigned", "webhook", webhook.url)]


def test_a_company_without_a_webhook_on_a_server_without_email_gets_nothing_enqueued(quiet_server):
    tenant = make_tenant(quiet_server.database_url)
    configure(quiet_server.database_url, tenant, emails="desk@company.test")

    file_and_hand_over(quiet_server, tenant)

    assert notifications(quiet_server.database_url, tenant) == []


def test_a_company_without_settings_gets_no_notification_of_new_requests(notify_server):
    tenant = make_tenant(notify_server.database_url)

    file_request(notify_server.url, tenant.module_token)

    assert notifications(notify_server.database_url, tenant) == []


def test_a_commit_wakes_the_worker_without_waiting_for_the_poll(quiet_server, webhook):
    """The poll is an hour: only the wake-up after the commit gets this call out in time."""
    tenant = make_tenant(quiet_server.database_url)
    configure(quiet_server.database_url, tenant, webhook_url=webhook.url)

    created = file_request(quiet_server.url, tenant.module_token)

    [call] = webhook.wait_for_accepted()
    assert call.json()["request"]["code"] == created["code"]


def test_a_savepoint_after_the_event_does_not_enqueue_it_twice(tmp_path):
    database_url = sqlite_url(tmp_path)
    tenant = make_tenant(database_url)
    configure(database_url, tenant, webhook_url="http://127.0.0.1:9/hooks", secret=SECRET)
    database = Database(database_url)
    try:
        install_outbox(database, Settings(database_url=database_url, smtp_host=""))
        with database.write() as session:
            company = session.scalar(select(Company).where(Company.name == tenant.name))
            request = ServiceRequest(code="s12345678", company_id=company.id, source="manual", status="new",
                                     description="x", created_by="system", valid_until=utcnow() + timedelta(hours=1))
            session.add(request)
            session.flush()
            queue.record_event(session, request, type="created", actor="system")
            with session.begin_nested():
                pass
    finally:
        database.dispose()

    assert [(r.event, r.channel) for r in notifications(database_url, tenant)] == [("request.created", "webhook")]
