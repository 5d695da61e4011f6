"""Order per request: a receiver gets a request's notifications in the order they happened."""

from tests.server.notify.conftest import MAX_ATTEMPTS, configure, notifications
from tests.support.polling import eventually
from tests.support.queue_api import QueueApi
from tests.support.tenants import file_request, make_tenant

CREATED, ASSIGNED = "request.created", "request.assigned"


def settled_webhooks(database_url, tenant, count):
    """The tenant's ``count`` webhook notifications, once each is delivered or given up."""
    def webhooks():
        return [row for row in notifications(database_url, tenant) if row.channel == "webhook"]
    return eventually(
        lambda: (rows := webhooks()) and len(rows) == count and all(row.delivered_at or row.failed_at for row in rows) and rows,
        what=f"{count} settled webhook notification(s)",
    )


def events(calls) -> list[tuple[str, str, int]]:
    return [(call.json()["request"]["code"], call.headers["x-sosqueue-event"], call.answered) for call in calls]


def test_assigned_waits_while_created_of_the_same_request_is_retried(notify_server, webhook):
    """Filed and assigned in one write: the assignment is posted only after the retried creation."""
    tenant = make_tenant(notify_server.database_url, assignment="fixed:{first}")
    configure(notify_server.database_url, tenant, webhook_url=webhook.url)
    webhook.fail_next(1, event=CREATED)

    code = file_request(notify_server.url, tenant.module_token)["code"]

    settled_webhooks(notify_server.database_url, tenant, 2)
    assert events(webhook.calls) == [(code, CREATED, 500), (code, CREATED, 204), (code, ASSIGNED, 204)]


def test_assigned_goes_out_once_created_is_given_up(notify_server, webhook):
    """A creation that is never delivered does not hold the assignment back for good."""
    tenant = make_tenant(notify_server.database_url, assignment="fixed:{first}")
    configure(notify_server.database_url, tenant, webhook_url=webhook.url)
    webhook.fail_next(MAX_ATTEMPTS, event=CREATED)

    code = file_request(notify_server.url, tenant.module_token)["code"]

    created, assigned = settled_webhooks(notify_server.database_url, tenant, 2)
    assert events(webhook.calls) == [(code, CREATED, 500)] * MAX_ATTEMPTS + [(code, ASSIGNED, 204)]
    assert created.failed_at is not None and assigned.delivered_at >= created.failed_at


def test_reassignments_of_a_request_arrive_in_the_order_they_were_made(notify_server, webhook):
    """Assignments made while the creation waits for its retry queue up behind it, in order."""
    tenant = make_tenant(notify_server.database_url, supporters=2)
    first, second = tenant.supporter_tokens
    configure(notify_server.database_url, tenant, webhook_url=webhook.url)
    webhook.fail_next(1, event=CREATED)
    code = file_request(notify_server.url, tenant.module_token)["code"]
    api = QueueApi(notify_server.url)

    for assignee in (first, second, first):
        assert api.assign(code, tenant.admin_token, tenant.user_ids[assignee]).status_code == 200

    settled_webhooks(notify_server.database_url, tenant, 4)
    assignees = [call.json()["request"]["assignee"] for call in webhook.accepted]
    assert [call.headers["x-sosqueue-event"] for call in webhook.accepted] == [CREATED] + [ASSIGNED] * 3
    assert [assignee and assignee["email"] for assignee in assignees] == [None, first, second, first]

