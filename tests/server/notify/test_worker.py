"""Delivery: the backoff schedule, surviving a restart, and one send across server processes."""

from collections import Counter

import pytest

from server.config import Settings
from server.notify.worker import retry_base_seconds, retry_delay
from tests.server.notify.conftest import FAST_NOTIFY, SECRET, configure, delivery_id, notifications
from tests.support.polling import eventually
from tests.support.receivers import WebhookReceiver
from tests.support.servers import QueueServer, free_port
from tests.support.tenants import file_request, make_tenant


def test_retry_delay_doubles_from_the_base_and_stops_at_fifteen_minutes():
    assert [retry_delay(attempts, 10.0) for attempts in range(1, 10)] == [10, 20, 40, 80, 160, 320, 640, 900, 900]
    assert retry_delay(1000, 10.0) == 900


def test_first_retry_waits_five_polls():
    assert retry_base_seconds(Settings(notify_poll_seconds=2.0)) == 10.0
    assert retry_base_seconds(Settings(notify_poll_seconds=0.05)) == 0.25


def test_notification_enqueued_while_the_receiver_is_down_is_delivered_after_a_restart(backend, make_database_url, tmp_path):
    database_url = make_database_url(backend)
    tenant = make_tenant(database_url)
    port = free_port()  # nothing listens here yet
    configure(database_url, tenant, webhook_url=f"http://127.0.0.1:{port}/hooks/sosqueue")
    # Patient: many attempts; short timeouts, so a claim cut off by the kill expires soon.
    env = {**FAST_NOTIFY, "SOSQUEUE_NOTIFY_MAX_ATTEMPTS": "50", "SOSQUEUE_NOTIFY_TIMEOUT_SECONDS": "1"}
    server = QueueServer(database_url, env=env, log_dir=tmp_path).start()
    try:
        file_request(server.url, tenant.module_token)
        [tried] = eventually(lambda: [r for r in notifications(database_url, tenant) if r.last_error], what="a failed attempt")
        server.kill()
    finally:
        server.stop()
    assert tried.last_error.startswith("webhook call failed: ConnectError")
    [pending] = notifications(database_url, tenant)
    assert (pending.delivered_at, pending.failed_at) == (None, None)

    with WebhookReceiver(SECRET, port=port) as receiver, QueueServer(database_url, env=env, log_dir=tmp_path):
        [call] = receiver.wait_for_accepted()
        [row] = eventually(lambda: [r for r in notifications(database_url, tenant) if r.delivered_at], what="delivered")

    assert call.delivery == delivery_id(database_url, row)
    assert [c.answered for c in receiver.calls] == [204]
    assert (row.failed_at, row.last_error) == (None, "")


@pytest.mark.postgres
def test_two_server_processes_send_each_notification_once(postgres, tmp_path):
    database_url = postgres.create()
    try:
        tenant = make_tenant(database_url)
        with WebhookReceiver(SECRET) as receiver:
            configure(database_url, tenant, webhook_url=receiver.url)
            with QueueServer(database_url, env=FAST_NOTIFY, log_dir=tmp_path) as first, \
                    QueueServer(database_url, env=FAST_NOTIFY, log_dir=tmp_path) as second:
                for index in range(16):
                    file_request((first, second)[index % 2].url, tenant.module_token, description=f"load {index}")
                receiver.wait_for_accepted(16)
                rows = eventually(lambda: (rows := notifications(database_url, tenant)) and len(rows) == 16
                                  and all(r.delivered_at for r in rows) and rows, what="16 delivered")
        assert Counter(call.delivery for call in receiver.calls) == Counter({delivery_id(database_url, row): 1 for row in rows})
        assert [row.attempts for row in rows] == [1] * 16
    finally:
        postgres.drop(database_url)
