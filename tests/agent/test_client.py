"""The queue client over real HTTP: a real server, a loopback proxy (TLS, lost answers), odd peers."""

import http.server
import json
import queue
import re
import socket
import ssl
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.client import QueueClient, Ticket
from agent.errors import ModuleRevoked, Rejected, Unreachable
from agent.request import RetryPolicy, deliver_with_retry
from agent.runtime import make_desk
from server import event_ids
from tests.support.certificates import self_signed
from tests.support.loopback import LoopbackListener
from sosqueue.waiting_room import WaitingRoom
from tests.support.modules import module_config
from tests.support.standin import RequestStandIn

WAIT = 60.0


@pytest.fixture(autouse=True)
def agent_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SOSQUEUE_AGENT_HOME", str(tmp_path / "agent-home"))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def config_for(tenant, url: str, **extra):
    return module_config(server_url=url, module_id=tenant.module_id, module_token=tenant.module_token, **extra)


def client_for(tenant, url: str, **extra) -> QueueClient:
    return QueueClient(config_for(tenant, url, **extra))


BODY = {"description": "the screen is blue"}


# -- a loopback HTTP/1.1 proxy in front of the real server ---------------------------------


def _read_message(reader) -> tuple[bytes, bytes] | None:
    """One HTTP message (head, body) with a Content-Length body; None at end of stream."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = reader.readline()
        if not line:
            return None
        head += line
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return head, reader.read(length) if length else b""


class LoopbackProxy(LoopbackListener):
    """Forwards each HTTP request to ``upstream`` and each answer back, except as told.

    :param drop_answers: this many answers are read from upstream (so the server did the work)
        and then thrown away by closing the customer's connection.
    :param tls: a server-side SSL context: the proxy then speaks HTTPS to the agent.
    """

    def __init__(self, upstream_port: int, *, drop_answers: int = 0, tls: ssl.SSLContext | None = None):
        self.upstream_port = upstream_port
        self.drop_answers = drop_answers
        self.tls = tls
        self.dropped: list[dict] = []
        self.request_lines: list[str] = []
        super().__init__()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _serve(self, connection: socket.socket):
        try:
            if self.tls:
                connection = self.tls.wrap_socket(connection, server_side=True)
            reader = connection.makefile("rb")
            while (message := _read_message(reader)) is not None:
                if not self._forward(connection, *message):
                    return
        except (OSError, ssl.SSLError):
            pass
        finally:
            connection.close()

    def _forward(self, connection, head: bytes, body: bytes) -> bool:
        request_line, _, rest = head.partition(b"\r\n")
        method, target, version = request_line.split(b" ")
        self.request_lines.append(request_line.decode())
        if target.startswith(b"http://"):  # absolute-form, as sent to a forward proxy
            target = b"/" + target.split(b"/", 3)[3]
        with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
            upstream.sendall(b" ".join([method, target, version]) + b"\r\n" + rest + body)
            answer = _read_message(upstream.makefile("rb"))
        with self._lock:
            drop = self.drop_answers > 0
            self.drop_answers -= drop
        if drop:
            self.dropped.append(json.loads(answer[1]))
            connection.shutdown(socket.SHUT_RDWR)
            return False
        connection.sendall(answer[0] + answer[1])
        return True


# -- a peer that answers what a test tells it (a proxy error page, a captive portal) -----


class OddPeer:
    """An HTTP server on loopback that answers every request with one fixed response."""

    def __init__(self, status: int, body: bytes, content_type: str):
        answer = (status, body, content_type)

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(answer[0])
                self.send_header("Content-Type", answer[2])
                self.send_header("Content-Length", str(len(answer[1])))
                self.end_headers()
                self.wfile.write(answer[1])

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA): (cert.pem, key.pem)."""
    return self_signed(tmp_path_factory.mktemp("tls"), common_name="sosqueue test CA", alt_name="IP:127.0.0.1")


@pytest.fixture
def tls_context(certificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


# -- the client against the real server ------------------------------------------------


def test_create_returns_a_ticket_with_code_token_and_status(tenant, queue_server):
    """A created request comes back as a ticket: its code, a customer token, status new."""
    ticket = client_for(tenant, queue_server.url).create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    assert ticket.status == "new"
    assert ticket.customer_token.startswith("sqc_")


def test_same_idempotency_key_returns_the_same_request(tenant, queue_server, api):
    """Two creates with one key file one request."""
    client, key = client_for(tenant, queue_server.url), str(uuid.uuid4())
    first = client.create(BODY, idempotency_key=key, source="sos")
    again = client.create(BODY, idempotency_key=key, source="sos")
    assert again.code == first.code
    assert api.codes(tenant.supporter_token) == [first.code]


def test_reused_key_with_another_body_is_rejected(tenant, queue_server):
    """Reusing a key for a different body is refused, not silently merged."""
    client, key = client_for(tenant, queue_server.url), str(uuid.uuid4())
    client.create(BODY, idempotency_key=key, source="sos")
    with pytest.raises(Rejected) as caught:
        client.create({"description": "something else"}, idempotency_key=key, source="sos")
    assert caught.value.status == 422


def test_customer_token_opens_status_join_leave_and_close(tenant, queue_server):
    """With the ticket's token the agent reads, joins, leaves and closes its request."""
    client = client_for(tenant, queue_server.url)
    ticket = client.create(BODY, idempotency_key=str(uuid.uuid4()), source="module")
    assert client.status(ticket)["status"] == "new"
    assert client.join(ticket)["session"]["customer_joined"] is True
    assert client.status(ticket)["status"] == "pending"
    assert client.leave(ticket)["session"]["customer_joined"] is False
    assert client.close(ticket)["status"] == "closed"


def test_wrong_customer_token_is_rejected_not_revoked(tenant, queue_server):
    """A customer token the server does not know is Rejected (the module itself is fine)."""
    client = client_for(tenant, queue_server.url)
    ticket = client.create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    with pytest.raises(Rejected) as caught:
        client.status(Ticket(ticket.code, "sqc_not-a-real-token", "new"))
    assert caught.value.status == 401


def test_unknown_module_token_is_module_revoked(tenant, queue_server):
    """A module token the server does not accept means the module was switched off."""
    client = QueueClient(module_config(server_url=queue_server.url, module_id=tenant.module_id, module_token="sqm_gone"))
    with pytest.raises(ModuleRevoked):
        client.create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")


def test_events_start_with_a_snapshot_and_report_the_close(tenant, queue_server, api):
    """Following a request yields its snapshot first, then the supporter's close with status closed."""
    client = client_for(tenant, queue_server.url)
    ticket = client.create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    seen: queue.Queue = queue.Queue()

    def follow():
        try:
            for event in client.events(ticket):
                seen.put(event)
                if event[2].get("status") == "closed":
                    return
        except Exception as error:  # noqa: BLE001 - handed to the test thread
            seen.put(error)

    threading.Thread(target=follow, daemon=True).start()
    first = seen.get(timeout=WAIT)
    assert first[0] == "snapshot" and first[2]["code"] == ticket.code
    assert api.action(ticket.code, "close", tenant.supporter_token).status_code == 200
    while True:
        event = seen.get(timeout=WAIT)
        assert not isinstance(event, Exception), event
        if event[0] == "closed":
            break
    assert event[2]["status"] == "closed"
    assert event[1] is not None and re.fullmatch(event_ids.PATTERN, event[1])  # opaque, for Last-Event-ID


def test_the_real_queue_tells_each_waiting_customer_their_place_and_moves_them_up(tenant, queue_server, api):
    client = client_for(tenant, queue_server.url)
    first, second = (client.create(BODY, idempotency_key=str(uuid.uuid4()), source="sos") for _ in range(2))
    ahead = client.waiting_room(first).position
    assert client.waiting_room(second) == WaitingRoom("new", position=ahead + 1)
    assert api.assign(first.code, tenant.admin_token, tenant.user_ids[tenant.supporter_email]).status_code == 200
    assert client.waiting_room(first).position is None
    assert client.waiting_room(second).position == ahead


# -- lost answers: the server did the work, the agent never heard -----------------------


def test_lost_answer_then_retry_returns_the_same_request(tenant, queue_server, api):
    """An answer lost on the way back makes delivery Unreachable; the retry gets the same code."""
    with LoopbackProxy(queue_server.port, drop_answers=1) as proxy:
        desk = make_desk(config_for(tenant, proxy.url))
        submission = desk.submit(BODY, source="sos")
        with pytest.raises(Unreachable):
            desk.deliver(submission)
        assert desk.outbox.pending() == [submission]
        ticket = desk.deliver(submission)
    assert [answer["code"] for answer in proxy.dropped] == [ticket.code]
    assert api.codes(tenant.supporter_token) == [ticket.code]
    assert desk.outbox.pending() == []


def test_lost_answer_during_retrying_delivery_files_one_request(tenant, queue_server, api):
    """Delivery with retries through two lost answers still ends with exactly one request."""
    with LoopbackProxy(queue_server.port, drop_answers=2) as proxy:
        desk = make_desk(config_for(tenant, proxy.url))
        ticket = deliver_with_retry(desk, desk.submit(BODY, source="sos"), RetryPolicy(give_up_after=120))
    assert {answer["code"] for answer in proxy.dropped} == {ticket.code}
    assert api.codes(tenant.supporter_token) == [ticket.code]


# -- proxies and TLS ------------------------------------------------------------------


def test_system_proxy_is_honoured(tenant, queue_server, api, monkeypatch):
    """With HTTP_PROXY set, the agent reaches a queue it cannot resolve itself through the proxy."""
    with LoopbackProxy(queue_server.port) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        client = client_for(tenant, "http://sosqueue.invalid")
        ticket = client.create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    assert proxy.request_lines[0].startswith("POST http://sosqueue.invalid/api/v1/service-requests")
    assert api.codes(tenant.supporter_token) == [ticket.code]


def test_untrusted_certificate_is_unreachable_and_nothing_is_sent(tenant, queue_server, api, tls_context):
    """TLS is verified: a certificate from an unknown CA stops the request before it is sent."""
    with LoopbackProxy(queue_server.port, tls=tls_context) as proxy:
        desk = make_desk(config_for(tenant, proxy.url))
        submission = desk.submit(BODY, source="sos")
        with pytest.raises(Unreachable, match="certificate"):
            desk.deliver(submission)
    assert proxy.request_lines == []
    assert desk.outbox.pending() == [submission]
    assert api.codes(tenant.supporter_token) == []


def test_module_ca_bundle_makes_a_private_certificate_trusted(tenant, queue_server, api, tls_context, certificate):
    """A module built with the queue's CA delivers over HTTPS to a privately signed server."""
    with LoopbackProxy(queue_server.port, tls=tls_context) as proxy:
        client = client_for(tenant, proxy.url, ca_bundle=certificate[0].read_bytes())
        ticket = client.create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    assert api.codes(tenant.supporter_token) == [ticket.code]


def test_module_ca_bundle_wins_over_a_ca_bundle_from_the_environment(
    tenant, queue_server, api, tls_context, certificate, monkeypatch
):
    """REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE on the PC do not replace the module's own CA."""
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())
    with LoopbackProxy(queue_server.port, tls=tls_context) as proxy:
        client = client_for(tenant, proxy.url, ca_bundle=certificate[0].read_bytes())
        ticket = client.create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    assert api.codes(tenant.supporter_token) == [ticket.code]


# -- odd answers from something that is not the queue ----------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_rate_limits_are_unreachable(tenant, status):
    """5xx and 429 mean "try again later": Unreachable, and the submission stays in the outbox."""
    problem = json.dumps({"status": status, "detail": "down for maintenance"}).encode()
    with OddPeer(status, problem, "application/problem+json") as peer:
        desk = make_desk(config_for(tenant, peer.url))
        submission = desk.submit(BODY, source="sos")
        with pytest.raises(Unreachable):
            desk.deliver(submission)
    assert desk.outbox.pending() == [submission]


@pytest.mark.parametrize("status, body, content_type", [
    (200, b"<html><body>Please log in to the hotel Wi-Fi</body></html>", "text/html"),
    (201, b'{"hello": "not the queue"}', "application/json"),
    (404, b"<html>Not Found</html>", "text/html"),
    (407, b"<html>Proxy Authentication Required</html>", "text/html"),
], ids=["captive-portal", "foreign-json", "wrong-address", "proxy-auth"])
def test_answer_from_something_that_is_not_the_queue_keeps_the_request(tenant, status, body, content_type):
    """A captive portal or a foreign server is Unreachable, never a crash and never a rejected request."""
    with OddPeer(status, body, content_type) as peer:
        desk = make_desk(config_for(tenant, peer.url))
        submission = desk.submit(BODY, source="sos")
        with pytest.raises(Unreachable):
            desk.deliver(submission)
    assert desk.outbox.pending() == [submission]
    assert not desk.outbox.rejected_directory.exists()


def test_plain_http_answer_on_an_https_url_is_unreachable(tenant):
    """A queue URL with https:// pointing at a plain-HTTP port fails cleanly (TLS error)."""
    with OddPeer(200, b"{}", "application/json") as peer:
        client = client_for(tenant, peer.url.replace("http://", "https://"))
        with pytest.raises(Unreachable):
            client.create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")



# -- the waiting room (against the queue stand-in: the endpoint's contract) -------------------

STAND_IN_MODULE = SimpleNamespace(module_id="m-waiting-room", module_token="t" * 24)


@pytest.fixture
def stand_in():
    server = RequestStandIn()
    yield server
    server.stop()


def test_the_waiting_room_is_asked_with_the_customer_token_and_read_as_the_queue_sends_it(stand_in):
    room = WaitingRoom("new", position=2, expected_wait_seconds=240)
    stand_in.set_room(room.to_json())
    client = client_for(STAND_IN_MODULE, stand_in.url)
    assert client.waiting_room(Ticket(stand_in.CODE, stand_in.TOKEN, "new")) == room
    assert stand_in.requests[-1] == (f"{stand_in.PREFIX}/waiting-room", f"Bearer {stand_in.TOKEN}")


def test_a_waiting_room_of_a_gone_request_or_with_a_wrong_token_is_rejected(stand_in):
    """404 and 401, as for the other customer calls (a wrong customer token is not a revoked module)."""
    client = client_for(STAND_IN_MODULE, stand_in.url)
    with pytest.raises(Rejected) as gone:
        client.waiting_room(Ticket(stand_in.CODE, stand_in.TOKEN, "new"))
    stand_in.set_room(WaitingRoom("new", position=1).to_json())
    with pytest.raises(Rejected) as not_ours:
        client.waiting_room(Ticket(stand_in.CODE, "sqc_not-the-token", "new"))
    assert (gone.value.status, not_ours.value.status) == (404, 401)


def test_a_waiting_room_the_agent_does_not_understand_is_not_reached(stand_in):
    """An answer that is not the queue's waiting room (a position in words) is Unreachable, never shown."""
    stand_in.set_room({"status": "new", "position": "third", "expected_wait_seconds": None, "assignee": None})
    with pytest.raises(Unreachable, match="not one the agent understands"):
        client_for(STAND_IN_MODULE, stand_in.url).waiting_room(Ticket(stand_in.CODE, stand_in.TOKEN, "new"))
