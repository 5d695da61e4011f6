"""Server names reach name lookup and TLS as bytes when ASCII (no idna codec): still looked up and verified."""

import pytest

from agent import transport
from tests.support.certificates import self_signed
from tests.support.tls_relay import TlsRelay

TIMEOUT = (5, 5)


@pytest.fixture
def relay_for(queue_server, tmp_path):
    """A TLS relay to the queue with a certificate for ``alt_name``, and its CA's bytes."""
    relays = []

    def make(alt_name: str):
        folder = tmp_path / alt_name.replace(":", "-")
        folder.mkdir()
        certificate, key = self_signed(folder, common_name="names test CA", alt_name=alt_name)
        relays.append(TlsRelay(queue_server.port, certificate, key).__enter__())
        return relays[-1], certificate.read_bytes()

    yield make
    for relay in relays:
        relay.__exit__()


def test_an_ascii_name_is_passed_as_the_idna_codec_would_pass_it():
    """ASCII names as the codec's bytes; others left to the codec."""
    assert transport.wire_name("Queue.Example.com") == "Queue.Example.com".encode("idna")
    assert transport.wire_name("bücher.example") == "bücher.example"  # the codec's work


def test_a_server_by_name_is_looked_up_and_its_certificate_checked_for_that_name(relay_for):
    """localhost (any case) resolves, and the certificate for DNS:localhost verifies."""
    relay, ca = relay_for("DNS:localhost")
    client = transport.HttpClient(f"https://LocalHost:{relay.port}", ca_bundle=ca)
    assert client.request("GET", "/healthz", timeout=TIMEOUT).status_code == 200


def test_a_certificate_for_another_name_is_refused(relay_for):
    """The name is still what the certificate is checked against."""
    relay, ca = relay_for("DNS:queue.example")
    client = transport.HttpClient(f"https://localhost:{relay.port}", ca_bundle=ca)
    with pytest.raises(transport.Failure) as failure:
        client.request("GET", "/healthz", timeout=TIMEOUT)
    assert failure.value.kind == transport.TLS
