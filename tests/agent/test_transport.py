"""The queue client's HTTP on the standard library: HTTPS through a CONNECT proxy, NO_PROXY, proxy refusals,
redirects, cut bodies, kept-alive connections the server closed, and the TLS context built only for https."""

import base64
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from agent import tls
from agent.client import QueueClient, Ticket
from agent.errors import Unreachable
from tests.support.certificates import hashed_folder, self_signed
from tests.support.loopback import LoopbackListener
from tests.support.modules import module_config
from tests.support.tls_relay import TlsRelay

BODY = {"description": "the printer is on fire"}
PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def agent_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SOSQUEUE_AGENT_HOME", str(tmp_path / "agent-home"))
    for name in PROXY_ENV:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"), common_name="sosqueue transport CA", alt_name="IP:127.0.0.1")


@pytest.fixture
def https_queue(queue_server, certificate):
    """The real queue behind TLS on loopback."""
    with TlsRelay(queue_server.port, *certificate) as relay:
        yield relay


def client_for(tenant, url: str, **extra) -> QueueClient:
    return QueueClient(module_config(server_url=url, module_id=tenant.module_id, module_token=tenant.module_token,
                                     **extra))


class ConnectProxy(LoopbackListener):
    """A forward proxy on loopback that only tunnels (``CONNECT``), optionally asking for credentials."""

    def __init__(self, *, credentials: str | None = None):
        self.credentials = credentials
        self.requests: list[str] = []  # each CONNECT's request line
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    def _serve(self, connection: socket.socket):
        reader = connection.makefile("rb")
        head = [reader.readline().decode()]
        while head[-1] not in ("\r\n", ""):
            head.append(reader.readline().decode())
        self.requests.append(head[0].strip())
        method, authority, _ = head[0].split(" ")
        wanted = f"Proxy-Authorization: Basic {base64.b64encode(self.credentials.encode()).decode()}\r\n" \
            if self.credentials else None
        if method != "CONNECT" or (wanted and wanted not in head):
            connection.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            connection.close()
            return
        host, _, port = authority.rpartition(":")
        upstream = socket.create_connection((host, int(port)))
        connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=_pump, args=(upstream, connection), daemon=True).start()
        _pump(connection, upstream)


def _pump(source: socket.socket, target: socket.socket):
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        source.close()
        target.close()


class FixedAnswers(LoopbackListener):
    """An HTTP/1.1 server on loopback answering each request with the next of ``answers`` (raw bytes),
    then closing the connection when told; counts the connections it accepted."""

    def __init__(self, *answers: bytes, close_after_each: bool = False):
        self.answers = list(answers)
        self.close_after_each = close_after_each
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    def _serve(self, connection: socket.socket):
        reader = connection.makefile("rb")
        with connection:
            while self.answers:
                line = reader.readline()
                while line not in (b"\r\n", b""):
                    line = reader.readline()
                if not line:
                    return
                connection.sendall(self.answers.pop(0))
                if self.close_after_each:
                    return


def json_answer(text: bytes, *, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(text)}\r\n".encode()
            + extra + b"\r\n" + text)


STATUS = b'{"code": "s12-345-678", "status": "new"}'


# -- proxies ------------------------------------------------------------------------------------


def test_https_through_a_connect_proxy_reaches_the_queue(tenant, https_queue, certificate, api, monkeypatch):
    """HTTPS_PROXY: the agent opens a tunnel with CONNECT and speaks verified TLS inside it."""
    with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        ticket = client_for(tenant, https_queue.url, ca_bundle=certificate[0].read_bytes()).create(
            BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    assert proxy.requests == [f"CONNECT 127.0.0.1:{https_queue.port} HTTP/1.1"]
    assert api.codes(tenant.supporter_token) == [ticket.code]


def test_proxy_credentials_from_the_proxy_address_are_sent(tenant, https_queue, certificate, monkeypatch):
    """``http://user:pass@proxy``: the tunnel is asked for with Basic credentials (percent-escapes decoded)."""
    with ConnectProxy(credentials="jane:s3cret/") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://jane:s3cret%2F@"))
        ticket = client_for(tenant, https_queue.url, ca_bundle=certificate[0].read_bytes()).create(
            BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    assert ticket.status == "new"


def test_a_proxy_that_refuses_the_tunnel_is_a_proxy_error(tenant, https_queue, certificate, monkeypatch):
    """407 to CONNECT: Unreachable, in the words for a proxy."""
    with ConnectProxy(credentials="jane:s3cret") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        client = client_for(tenant, https_queue.url, ca_bundle=certificate[0].read_bytes())
        with pytest.raises(Unreachable, match="the proxy refused the connection"):
            client.create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")


def test_a_proxy_nobody_listens_on_is_a_proxy_error(tenant, queue_server, monkeypatch):
    """HTTP_PROXY pointing at a closed port: Unreachable, in the words for a proxy."""
    monkeypatch.setenv("HTTP_PROXY", "127.0.0.1:9")  # no scheme: http:// is meant, as requests read it
    with pytest.raises(Unreachable, match="the proxy refused the connection"):
        client_for(tenant, queue_server.url).create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "127.0.0.0/8", "*", "localhost,127.0.0.1"])
def test_no_proxy_exempts_the_queue(tenant, queue_server, monkeypatch, no_proxy):
    """NO_PROXY by address, by network or ``*``: the queue is reached directly past a dead proxy."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    ticket = client_for(tenant, queue_server.url).create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    assert ticket.status == "new"


# -- answers that are not the queue's -------------------------------------------------------------


def test_a_redirect_is_not_followed_and_is_not_the_queue(tenant):
    """A captive portal's 302: Unreachable, and the token never goes to the address it names."""
    redirect = b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/login\r\nContent-Length: 0\r\n\r\n"
    with FixedAnswers(redirect) as peer:
        with pytest.raises(Unreachable, match=r"Something other than the support server answered \(HTTP 302 Found\)"):
            client_for(tenant, peer.url).create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")


def test_a_download_cut_short_is_reported_as_broken_off(tenant):
    """A body shorter than its Content-Length: the download broke off (not a smaller file)."""
    cut = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10
    with FixedAnswers(cut, close_after_each=True) as peer:
        with pytest.raises(Unreachable, match="broke off"):
            list(client_for(tenant, peer.url).update_file("linux-x86_64"))


# -- kept-alive connections ---------------------------------------------------------------------


def test_calls_share_one_kept_alive_connection(tenant):
    """Three calls, one connection: the body of each is read to its end before the next."""
    with FixedAnswers(json_answer(STATUS), json_answer(STATUS), json_answer(STATUS)) as peer:
        client = client_for(tenant, peer.url)
        for _ in range(3):
            assert client.status(Ticket("s12-345-678", "sqc_token", "new"))["status"] == "new"
    assert peer.connections == 1


def test_a_connection_the_server_closed_is_not_reused(tenant):
    """A server that closes after each answer: every call gets a fresh connection, none fails."""
    answers = [json_answer(STATUS, extra=b"Connection: close\r\n") for _ in range(3)]
    with FixedAnswers(*answers, close_after_each=True) as peer:
        client = client_for(tenant, peer.url)
        for _ in range(3):
            assert client.status(Ticket("s12-345-678", "sqc_token", "new"))["status"] == "new"
    assert peer.connections == 3


def test_a_kept_connection_closed_meanwhile_is_replaced(tenant):
    """The server drops an idle kept-alive connection without saying so: the next call opens another."""
    with FixedAnswers(json_answer(STATUS), json_answer(STATUS), close_after_each=True) as peer:
        client = client_for(tenant, peer.url)
        client.status(Ticket("s12-345-678", "sqc_token", "new"))
        assert client.status(Ticket("s12-345-678", "sqc_token", "new"))["status"] == "new"
    assert peer.connections == 2


# -- TLS ------------------------------------------------------------------------------------------


def test_an_http_queue_never_builds_a_tls_context(tenant, queue_server, monkeypatch):
    """Building one loads the CA store (time and memory): an http:// queue does without."""
    monkeypatch.setattr(tls, "tls_context", lambda _ca: pytest.fail("a TLS context for http://"))
    assert client_for(tenant, queue_server.url).create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")


def test_the_tls_context_is_built_once_per_ca(certificate):
    """The HTTP client and the session channel share the context: the window's thread finds it built."""
    ca = certificate[0].read_bytes()
    assert tls.tls_context(ca) is tls.tls_context(ca)
    assert tls.tls_context(None) is tls.tls_context(None) is not tls.tls_context(ca)


def test_a_queue_the_systems_folder_verifies_is_reached_without_certifis_authorities(
        tenant, https_queue, certificate, tmp_path, monkeypatch):
    """One handshake; the authority it needed is the only one the context then holds."""
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed_folder(tmp_path / "certs", certificate[0])))
    assert client_for(tenant, https_queue.url).create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    assert tls.tls_context(None).cert_store_stats()["x509_ca"] == 1
    assert tls.wider_context(None, tls.tls_context(None)) is not None  # it was not needed


def test_a_queue_only_certifis_authorities_verify_is_reached_on_a_second_handshake(
        tenant, https_queue, certificate, monkeypatch):
    """The system's store lacks the CA (an old system): the call still gets through, and later
    connections (the session channel's too) start from the wider context."""
    monkeypatch.setattr(tls, "certifi_bundle", lambda: str(certificate[0]))
    ticket = client_for(tenant, https_queue.url).create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    assert ticket.code
    assert ((("commonName", "sosqueue transport CA"),),) in [ca["subject"] for ca in tls.tls_context(None).get_ca_certs()]


def test_a_queue_no_authority_verifies_is_unreachable_after_both_tries(tenant, https_queue):
    with pytest.raises(Unreachable, match="certificate"):
        client_for(tenant, https_queue.url).create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    assert tls.wider_context(None, tls.tls_context(None)) is None  # certifi's were tried


def test_a_certificate_for_another_host_is_not_tried_with_more_authorities(tenant, queue_server, tmp_path, monkeypatch):
    """Its authority is trusted; no other authority would make the name match: one handshake, no widening."""
    elsewhere = self_signed(tmp_path, common_name="elsewhere CA", alt_name="DNS:elsewhere.example")
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed_folder(tmp_path / "certs", elsewhere[0])))
    with TlsRelay(queue_server.port, *elsewhere) as relay:
        with pytest.raises(Unreachable, match="certificate"):
            client_for(tenant, relay.url).create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    assert tls.wider_context(None, tls.tls_context(None)) is not None  # not widened


def test_a_module_authority_that_fails_is_not_retried_with_the_usual_ones(tenant, https_queue, tmp_path,
                                                                          certificate, monkeypatch):
    """No downgrade: the system's folder would verify the queue, the module's own CA does not."""
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed_folder(tmp_path / "certs", certificate[0])))
    other = self_signed(tmp_path, common_name="another CA", alt_name="IP:127.0.0.1")[0]
    with pytest.raises(Unreachable, match="certificate"):
        client_for(tenant, https_queue.url, ca_bundle=other.read_bytes()).create(
            BODY, idempotency_key=str(uuid.uuid4()), source="sos")


def test_the_event_stream_is_followed_over_https(tenant, https_queue, certificate):
    """The snapshot arrives through TLS, line by line."""
    client = client_for(tenant, https_queue.url, ca_bundle=certificate[0].read_bytes())
    ticket = client.create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    stream = client.events(ticket)
    try:
        event, _event_id, data = next(stream)
    finally:
        stream.close()
    assert (event, data["code"]) == ("snapshot", ticket.code)


def test_the_client_imports_neither_requests_nor_websockets():
    """requests and urllib3 are replaced; websockets waits for a session (the idle tray's memory)."""
    probe = "import sys, agent.client; print(sorted(m for m in ('requests', 'urllib3', 'websockets') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "[]"
