"""Webhook calls: signed, compact JSON, retried, never redirected; checked by a real receiver."""

import json
import socket
import ssl
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from server.notify import webhook
from server.notify.errors import DeliveryError, PermanentError
from server.notify.webhook import encode_body, headers_for, sign, verify_signature
from tests.server.notify.conftest import MAX_ATTEMPTS, PUBLIC_URL, SECRET, configure, delivery_id, name_user, notifications
from tests.support.polling import eventually
from tests.support.queue_api import QueueApi
from tests.support.certificates import self_signed
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
    headers = headers_for(event="request.created", delivery_id="00000000000000a7", secret="", body=b"{}", timestamp=1700000000)
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": f"sosqueue/{metadata.version('sosqueue')}",
        "X-Sosqueue-Event": "request.created",
        "X-Sosqueue-Delivery": "00000000000000a7",
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
    assert call.delivery == delivery_id(notify_server.database_url, row)
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
    assert {call.delivery for call in webhook.calls} == {delivery_id(notify_server.database_url, row)}
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
        webhook.post(url, event="request.created", delivery_id="0000000000000001", payload={}, secret="s", timeout=1,
                     allow_private=False)


def test_a_public_address_passes_the_private_network_check():
    # A literal address: no lookup leaves the machine.
    assert webhook.addresses_to_call(httpx.URL("https://93.184.216.34/hook"), allow_private=False) == ["93.184.216.34"]


# -- one lookup, and the call goes where it said ---------------------------------------------
# DNS cannot be steered here, so the lookup is the one thing faked: the system resolver's function,
# which the webhook module and its HTTP client's own connection would both ask.

HOOK_HOST = "hooks.example.test"
PUBLIC_ADDRESS = "93.184.216.34"  # never answers here: there is no route out, or the port is shut


class Dns:
    """Answers for the names it was told, in turn (the last one repeats); other names go to the real resolver."""

    def __init__(self, real):
        self._real = real
        self._answers: dict[str, list[list[str]]] = {}
        self.asked: list[str] = []

    def answer(self, host: str, *answers: list[str]) -> None:
        self._answers[host] = list(answers)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if host not in self._answers:
            return self._real(host, port, family, type, proto, flags)
        self.asked.append(host)
        turns = self._answers[host]
        addresses = turns.pop(0) if len(turns) > 1 else turns[0]
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0)) if ":" in a
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]


@pytest.fixture
def dns(monkeypatch) -> Dns:
    fake = Dns(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


def call(url: str, *, allow_private: bool, timeout: float = 5) -> None:
    webhook.post(url, event="request.created", delivery_id="0000000000000007", payload={"event": "request.created"}, secret=SECRET,
                 timeout=timeout, allow_private=allow_private)


def test_a_name_that_turns_private_after_the_check_never_reaches_the_private_address(dns, webhook):
    """DNS rebinding: public when checked, loopback a moment later. The call goes to the checked address."""
    dns.answer(HOOK_HOST, [PUBLIC_ADDRESS], ["127.0.0.1"])

    with pytest.raises(DeliveryError):
        call(f"http://{HOOK_HOST}:{webhook.port}/hooks/sosqueue", allow_private=False, timeout=1)

    assert webhook.calls == []
    assert dns.asked == [HOOK_HOST]


def test_every_address_of_the_name_is_checked(dns, webhook):
    """One private address among public ones refuses the URL, before any connection."""
    dns.answer(HOOK_HOST, [PUBLIC_ADDRESS, "127.0.0.1"])

    with pytest.raises(PermanentError, match=r"\(hooks\.example\.test is 127\.0\.0\.1\)"):
        call(f"http://{HOOK_HOST}:{webhook.port}/hooks/sosqueue", allow_private=False)

    assert webhook.calls == []


def test_the_call_goes_to_the_address_looked_up_with_the_name_as_host(dns, webhook):
    """Private targets allowed: the call reaches the address of the one lookup (not a later one's), signed,
    with the configured name and port in ``Host``."""
    dns.answer(HOOK_HOST, ["127.0.0.1"], ["127.0.0.2"])  # nothing listens on 127.0.0.2

    call(f"http://{HOOK_HOST}:{webhook.port}/hooks/sosqueue", allow_private=True)

    [delivered] = webhook.calls
    assert delivered.answered == 204
    assert delivered.headers["host"] == f"{HOOK_HOST}:{webhook.port}"
    assert delivered.json() == {"event": "request.created"}
    assert dns.asked == [HOOK_HOST]


def test_an_address_that_refuses_the_connection_makes_way_for_the_next_one(dns, webhook):
    dns.answer(HOOK_HOST, ["127.0.0.2", "127.0.0.1"])

    call(f"http://{HOOK_HOST}:{webhook.port}/hooks/sosqueue", allow_private=True)

    assert [c.answered for c in webhook.calls] == [204]


def test_an_address_that_never_answers_makes_way_for_the_next_one(dns, webhook):
    """The first address takes no connection (its accept queue is full, so the kernel drops the
    handshake): after its share of the time, the call goes to the next."""
    with socket.socket() as full:
        full.bind(("127.0.0.2", webhook.port))
        full.listen(0)
        queued = socket.create_connection(("127.0.0.2", webhook.port))  # fills the queue
        try:
            dns.answer(HOOK_HOST, ["127.0.0.2", "127.0.0.1"])
            call(f"http://{HOOK_HOST}:{webhook.port}/hooks/sosqueue", allow_private=True, timeout=4)
        finally:
            queued.close()
    assert [c.answered for c in webhook.calls] == [204]


class TlsReceiver:
    """An HTTPS server on 127.0.0.1 with ``certificate``; keeps the name each client asked for (SNI)
    and the ``Host`` of each call, and answers 204."""

    def __init__(self, certificate: tuple[Path, Path]):
        self.server_names: list[str | None] = []
        self.hosts: list[str] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*certificate)
        context.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.hosts.append(self.headers["Host"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]

    def __enter__(self) -> "TlsReceiver":
        threading.Thread(target=self._server.serve_forever, name="tls-receiver", daemon=True).start()
        return self

    def __exit__(self, *_) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def hook_certificate(tmp_path_factory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"), common_name=HOOK_HOST, alt_name=f"DNS:{HOOK_HOST}")


def test_https_to_the_pinned_address_verifies_the_certificate_for_the_name(dns, hook_certificate, monkeypatch):
    """TLS still asks for the name (SNI) and checks the certificate against it, not against the address."""
    monkeypatch.setenv("SSL_CERT_FILE", str(hook_certificate[0]))  # the receiver's self-signed CA is trusted
    dns.answer(HOOK_HOST, ["127.0.0.1"])
    with TlsReceiver(hook_certificate) as receiver:
        call(f"https://{HOOK_HOST}:{receiver.port}/hooks/sosqueue", allow_private=True)
    assert receiver.server_names == [HOOK_HOST]
    assert receiver.hosts == [f"{HOOK_HOST}:{receiver.port}"]


def test_https_to_a_name_the_certificate_is_not_for_is_not_delivered(dns, hook_certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(hook_certificate[0]))
    dns.answer("other.example.test", ["127.0.0.1"])
    with TlsReceiver(hook_certificate) as receiver:
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            call(f"https://other.example.test:{receiver.port}/hooks/sosqueue", allow_private=True)
    assert receiver.hosts == []


def test_https_to_an_untrusted_certificate_is_not_delivered(dns, hook_certificate, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    dns.answer(HOOK_HOST, ["127.0.0.1"])
    with TlsReceiver(hook_certificate) as receiver:
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            call(f"https://{HOOK_HOST}:{receiver.port}/hooks/sosqueue", allow_private=True)
    assert receiver.hosts == []
