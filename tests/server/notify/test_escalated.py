"""Escalation alerts: a lapsed request is emailed and posted as request.escalated, in order with the rest."""

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import update

from server.config import Settings
from server.db import Database
from server.models import ServiceRequest, utcnow
from server.notify import install_outbox
from server.routing import escalate_due
from sosqueue import codes
from tests.server.notify.conftest import PUBLIC_URL, configure, name_user
from tests.support.queue_api import QueueApi
from tests.support.tenants import bearer, file_request, make_tenant

TOPIC = "Printers"


def routed_tenant(server, **routing):
    """A company whose module files into a group of two supporters with these routing settings."""
    tenant = make_tenant(server.database_url, supporters=2, group_members=2)
    headers = bearer(tenant.admin_token)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        [group] = http.get("/api/v1/groups", headers=headers).json()["items"]
        assert http.patch(f"/api/v1/groups/{group['id']}", json=routing, headers=headers).status_code == 200
    return tenant


def filed_with_topic(server, tenant) -> dict:
    created = file_request(server.url, tenant.module_token)
    with _database(server.database_url) as database, database.write() as session:
        session.execute(update(ServiceRequest).where(ServiceRequest.code == codes.normalize(created["code"]))
                        .values(topic=TOPIC))
    return created


def sweep_later(server, smtp, *, minutes: float) -> None:
    """Escalate as another server process would, ``minutes`` from now; the running server delivers."""
    settings = Settings(database_url=server.database_url, smtp_host="127.0.0.1", smtp_port=smtp.port,
                        public_url=PUBLIC_URL + "/")
    with _database(server.database_url) as database:
        install_outbox(database, settings)
        with database.write() as session:
            escalate_due(session, now=utcnow() + timedelta(minutes=minutes))


class _database:
    def __init__(self, url: str):
        self.database = Database(url)

    def __enter__(self) -> Database:
        return self.database

    def __exit__(self, *_):
        self.database.dispose()


def test_a_lapse_posts_request_escalated_with_its_reason_then_the_reassignment(notify_server, smtp, webhook):
    tenant = routed_tenant(notify_server, unjoined_alert_minutes=10, reassign_on_lapse=True)
    first, second = tenant.supporter_tokens
    first_id = tenant.user_ids[first]
    name_user(notify_server.database_url, first_id, "Fay First")
    configure(notify_server.database_url, tenant, webhook_url=webhook.url)
    created = filed_with_topic(notify_server, tenant)
    assert QueueApi(notify_server.url).assign(created["code"], tenant.admin_token, first_id).status_code == 200
    webhook.wait_for_accepted(2)

    sweep_later(notify_server, smtp, minutes=11)

    calls = webhook.wait_for_accepted(4)
    assert [call.headers["x-sosqueue-event"] for call in calls] == [
        "request.created", "request.assigned", "request.escalated", "request.assigned"]
    escalated, reassigned = calls[2].json(), calls[3].json()
    assert escalated["event"] == "request.escalated"
    assert escalated["escalation"] == {
        "reason": "not_joined", "minutes": 10, "lapsed_by": {"id": first_id, "email": first, "name": "Fay First"}}
    assert escalated["request"]["code"] == created["code"]
    assert reassigned["request"]["assignee"]["email"] == second
    assert {call.json()["request"]["topic"] for call in calls} == {"", TOPIC}  # filed without, then set
    assert {call.json()["request"]["topic"] for call in calls[2:]} == {TOPIC}


def test_a_lapse_emails_the_company_addresses_with_the_reason_and_topic(notify_server, smtp):
    tenant = routed_tenant(notify_server, unassigned_alert_minutes=5)
    desk = f"desk-{uuid.uuid4().hex[:8]}@company.test"
    created = filed_with_topic(notify_server, tenant)
    configure(notify_server.database_url, tenant, emails=desk)  # after filing: only the escalation mails

    sweep_later(notify_server, smtp, minutes=6)

    [mail] = smtp.wait_for(desk)
    code = created["code"]
    assert mail.message["Subject"] == f"Service request {code} is waiting too long"
    assert mail.message["X-Sosqueue-Event"] == "request.escalated"
    assert mail.text.startswith(f"Service request {code} has waited 5 minutes without being assigned.\n\n"
                                f"Code:        {code}\nTopic:       {TOPIC}\n")
