"""Webhook calls: signed, compact JSON, retried, never redirected; checked by a real receiver."""

import json
from datetime import datetime
from importlib import metadata

import pytest

from server.notify import webhook
from server.notify.errors import PermanentError
from server.notify.webhook import encode_body, headers_for, sign, verify_signature
from tests.server.notify.conftest import MAX_ATTEMPTS, PUBLIC_URL, SECRET, configure, name_user, notifications
from tests.support.polling import eventually
from tests.support.queue_api import QueueApi
from tests.support.receivers import WebhookReceiver
from tests.support.tenants import file_request, make_tenant

VECTOR_BODY = b'{"event":"request.created","n":1}'
# openssl dgst -sha256 -hmac whsec-3bd1f0c2a9e84d6f over '1700000000.' + VECTOR_BODY
VECTOR_SIGNATURE = "sha256=12306797503f9ce44944dcf3b09a934ed50e473e24c0bcc099733d001e9c2f3e"
CUSTOMER = {"name": "Zoë Ångström", "email": "zoe@customer.test"}


# -- signing --------------------------------------------------------------------------------


def test_signature_is_hex_hmac_sha256_of_timestamp_dot_body():
    assert sign(SECRET, 1700000000, VECTOR_BODY) == VECTOR_SIGNATURE


def test_verify_signature_accepts_only_the_same_secret_timestamp_and_body():
    assert verify_signature(SECRET, "1700000000", VECTOR_BODY, VECTOR_SIGNATURE) is True
    assert verify_signature("other-secret", "1700000000", VECTOR_BODY, VECTOR_SIGNATURE) is False
    assert verify_signature(SECRET, "1700000001", VECTOR_BODY, VECTOR_SIGNATURE) is False
    assert verify_signature(SECRET, "1700000000", VECTOR_BODY + b" ", VECTOR_SIGNATURE) is False
    assert verify_signature(SECRET, "1700000000", VECTOR_BODY, VECTOR_SIGNATURE.upper()) is False
    assert verify_signature(SECRET, "1700000000", VECTOR_BODY, VECTOR_SIGNATURE.removeprefix("sha256=")) is False


def test_verify_signature_refuses_missing_or_odd_input_without_raising():
    assert verify_signature(SECRET, "1700000000", VECTOR_BODY, None) is False
    assert verify_signature(SECRET, "1700000000", VECTOR_BODY, "sha256=ü") is False
    assert verify_signature(SECRET, "17e8", VECTOR_BODY, VECTOR_SIGNATURE) is False
    assert verify_signature("", "1700000000", VECTOR_BODY, sign("", 1700000000, VECTOR_BODY)) is False


def test_body_is_compact_utf8_json():
    assert encode_body({"name": "Zoë", "list": [1, 2]}) == '{"name":"Zoë","list":[1,2]}'.encode("utf-8")


def test_without_a_secret_no_signature_header_is_sent():
    headers = headers_for(event="request.created", delivery_id=7, secret="", body=b"{}", timestamp=1700000000)
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": f"sosqueue/{metadata.version('sosqueue')}",
        "X-Sosqueue-Event": "request.created",
        "X-Sosqueue-Delivery": "7",
        "X-Sosqueue-Timestamp": "1700000000",
    }


# -- delivery through a real server ---------------------------------------------------------


def times_parsed(body: dict) -> dict:
    """The body with its timestamps as datetimes, which compare across ISO spellings."""
    request = {**body["request"], "valid_until": datetime.fromisoformat(body["request"]["valid_until"])}
    return {**body, "occurred_at": datetime.fromisoformat(body["occurred_at"]), "request": request}


def history_time(server, code: str, token: str, type: str) -> datetime:
    """When the request's last event of this type happened."""
    events = [e for e in QueueApi(server.url).history(code, token) if e["type"] == type]
    return datetime.fromisoformat(events[-1]["created_at"])


def settled(database_url: str, tenant, count: int) -> list:
    """The tenant's ``count`` outbox rows once each is delivered or given up."""
    return eventually(
        lambda: (rows := notifications(database_url, tenant)) and len(rows) == count
        and all(row.delivered_at or row.failed_at for row in rows) and rows,
        what=f"{count} settled notification(s)",
    )


def test_new_request_posts_signed_compact_json_to_the_company_webhook(notify_server, webhook):
    tenant = make_tenant(notify_server.database_url)
    configure(notify_server.database_url, tenant, webhook_url=webhook.url)
    description = "Drucker brennt 🔥\r\n<b>bitte</b> schnell"
    created = file_request(notify_server.url, tenant.module_token, description=description, end_customer=CUSTOMER)

    [call] = webhook.wait_for_accepted()

    [row] = settled(notify_server.database_url, tenant, 1)
    code = created["code"]
    assert call.headers["content-type"] == "application/json"
    assert call.headers["user-agent"] == f"sosqueue/{metadata.version('sosqueue')}"
    assert call.headers["x-sosqueue-event"] == "request.created"
    assert call.delivery == row.id
    assert call.signed_with(SECRET) and not call.signed_with(SECRET + "x")
    assert verify_signature(SECRET, call.headers["x-sosqueue-timestamp"], call.body, call.headers["x-sosqueue-signature"])
    assert not verify_signature("wrong", call.headers["x-sosqueue-timestamp"], call.body, call.headers["x-sosqueue-signature"])
    assert call.body == json.dumps(call.json(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert times_parsed(call.json()) == {
        "event": "request.created",
        "occurred_at": history_time(notify_server, code, tenant.admin_token, "created"),
        "request": {
            "code": code, "status": "new", "source": "module", "topic": "", "description": description,
            "end_customer": CUSTOMER, "group": None, "assignee": None,
            "valid_until": datetime.fromisoformat(created["valid_until"]),
            "url": f"{PUBLIC_URL}/requests/{code}",
        },
    }
    assert (row.attempts, row.failed_at, row.last_error) == (1, None, "")


def test_every_assignment_is_posted_with_the_assignee_self_assignment_too(notify_server, webhook):
    tenant = make_tenant(notify_server.database_url)
    supporter = next(iter(tenant.supporter_tokens))
    supporter_id = tenant.user_ids[supporter]
    name_user(notify_server.database_url, supporter_id, "Sam Supporter")
    configure(notify_server.database_url, tenant, webhook_url=webhook.url)
    created = file_request(notify_server.url, tenant.module_token)

    taken = QueueApi(notify_server.url).assign(created["code"], tenant.supporter_token, "me")

    assert taken.status_code == 200, taken.text
    calls = webhook.wait_for_accepted(2)
    by_event = {call.headers["x-sosqueue-event"]: call.json() for call in calls}
    assert sorted(by_event) == ["request.assigned", "request.created"]
    assigned = by_event["request.assigned"]
    assert assigned["event"] == "request.assigned"
    assert assigned["request"]["assignee"] == {"id": supporter_id, "email": supporter, "name": "Sam Supporter"}
    assert datetime.fromisoformat(assigned["occurred_at"]) == history_time(
        notify_server, created["code"], tenant.admin_token, "assigned")


def test_receiver_errors_are_retried_until_delivered_once(notify_server, webhook):
    tenant = make_tenant(notify_server.database_url)
    configure(notify_server.database_url, tenant, webhook_url=webhook.url)
    webhook.fail_next(2)

    file_request(notify_server.url, tenant.module_token)

    [row] = settled(notify_server.database_url, tenant, 1)
    assert [call.answered for call in webhook.calls] == [500, 500, 204]
    assert {call.delivery for call in webhook.calls} == {row.id}
    assert (row.attempts, row.failed_at, row.last_error) == (3, None, "")
    assert row.delivered_at is not None


def test_delivery_is_given_up_after_the_last_attempt(notify_server, webhook):
    tenant = make_tenant(notify_server.database_url)
    configure(notify_server.database_url, tenant, webhook_url=webhook.url)
    webhook.fail_next(1000, status=503)

    file_request(notify_server.url, tenant.module_token)

    [row] = settled(notify_server.database_url, tenant, 1)
    assert [call.answered for call in webhook.calls] == [503] * MAX_ATTEMPTS
    assert (row.attempts, row.delivered_at) == (MAX_ATTEMPTS, None)
    assert row.failed_at is not None
    assert row.last_error == "the webhook receiver answered HTTP 503"


def test_a_wrongly_configured_secret_is_refused_by_the_receiver_and_retried(notify_server, webhook):
    tenant = make_tenant(notify_server.database_url)
    configure(notify_server.database_url, tenant, webhook_url=webhook.url, secret="not-" + SECRET)

    file_request(notify_server.url, tenant.module_token)

    [row] = settled(notify_server.database_url, tenant, 1)
    assert [call.answered for call in webhook.calls] == [401] * MAX_ATTEMPTS
    assert all(call.signed_with("not-" + SECRET) for call in webhook.calls)
    assert row.last_error == "the webhook receiver answered HTTP 401"


def test_redirects_are_not_followed(notify_server, webhook):
    tenant = make_tenant(notify_server.database_url)
    configure(notify_server.database_url, tenant, webhook_url=webhook.url)
    with WebhookReceiver(SECRET) as elsewhere:
        webhook.redirect(elsewhere.url)

        file_request(notify_server.url, tenant.module_token)

        [row] = settled(notify_server.database_url, tenant, 1)
        assert elsewhere.calls == []
    assert [call.answered for call in webhook.calls] == [302] * MAX_ATTEMPTS
    assert row.last_error == "the webhook receiver answered HTTP 302 (redirects are not followed; configure the final URL)"
    assert row.failed_at is not None


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "https://10.1.2.3/hook", "http://169.254.169.254/latest",
    "http://[::1]/hook", "http://192.168.0.7/hook",
])
def test_without_private_networks_a_webhook_into_one_is_given_up_at_once(url):
    with pytest.raises(PermanentError, match=r"^the webhook URL points into a private network \("):
        webhook.post(url, event="request.created", delivery_id=1, payload={}, secret="s", timeout=1,
                     allow_private=False)


def test_a_public_address_passes_the_private_network_check():
    webhook.require_public_host("https://93.184.216.34/hook")  # a literal address: no lookup leaves the machine
