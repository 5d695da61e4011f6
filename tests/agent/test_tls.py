"""The agent's TLS contexts: the system's authorities looked up in their folder when a handshake
needs one, certifi's added only after the system's failed, certifi's file found without importing
certifi."""

import ssl
import subprocess
import sys

import certifi
import pytest

from agent import tls
from tests.support.certificates import hashed_folder, self_signed


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("tls"), common_name="sosqueue tls CA", alt_name="IP:127.0.0.1")[0]


def subjects(context: ssl.SSLContext) -> list:
    return [ca["subject"] for ca in context.get_ca_certs()]


def certifis_subjects() -> list:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=certifi.where())
    return subjects(context)


def test_certifis_file_is_the_one_certifi_names_and_certifi_is_not_imported():
    """The same cacert.pem as certifi.where(), found without loading certifi (nor importlib.resources)."""
    probe = ("import sys, agent.tls as tls; print(tls.certifi_bundle()); "
             "print(sorted(m for m in ('certifi', 'importlib.resources') if m in sys.modules))")
    lines = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split("\n")
    assert lines[:2] == [certifi.where(), "[]"]


def test_with_the_systems_hashed_folder_no_authority_is_held_before_a_handshake(tmp_path, certificate, monkeypatch):
    """The folder is searched when a server's chain needs an authority: nothing is read up front."""
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed_folder(tmp_path / "certs", certificate)))
    context = tls.tls_context(None)
    assert context.cert_store_stats()["x509_ca"] == 0
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_a_file_ssl_cert_file_names_is_trusted_beside_the_folder(tmp_path, certificate, monkeypatch):
    other = self_signed(tmp_path, common_name="another CA", alt_name="IP:127.0.0.1")[0]
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed_folder(tmp_path / "certs", other)))  # looked up, not loaded
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    assert subjects(tls.tls_context(None)) == [((("commonName", "sosqueue tls CA"),),)]


def test_a_system_without_a_hashed_folder_trusts_its_file_and_certifis_at_once(tmp_path, certificate, monkeypatch):
    """As ssl.create_default_context and certifi did before: all loaded now, nothing wider later."""
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "ca-bundle.crt").write_bytes(certificate.read_bytes())
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "plain"))
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    assert subjects(tls.tls_context(None)) == [((("commonName", "sosqueue tls CA"),),), *certifis_subjects()]
    assert tls.wider_context(None, tls.tls_context(None)) is None


def test_the_wider_context_trusts_the_whole_system_store_and_certifis_and_is_used_from_then_on(
        tmp_path, certificate, monkeypatch):
    """Exactly what ssl.create_default_context and certifi trusted before."""
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed_folder(tmp_path / "certs", certificate)))
    lean = tls.tls_context(None)
    wider = tls.wider_context(None, lean)
    expected = ssl.create_default_context()
    expected.load_verify_locations(cafile=certifi.where())
    assert wider is not None and wider is not lean
    assert subjects(wider) == subjects(expected) and len(subjects(wider)) > 100
    assert tls.tls_context(None) is wider
    assert tls.wider_context(None, wider) is None  # nothing wider left: the caller reports the failure


def test_a_connection_that_failed_narrow_gets_the_context_another_one_widened_meanwhile(tmp_path, certificate,
                                                                                       monkeypatch):
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed_folder(tmp_path / "certs", certificate)))
    lean = tls.tls_context(None)
    first = tls.wider_context(None, lean)
    assert tls.wider_context(None, lean) is first is not None


def test_a_module_with_its_own_authority_is_never_widened(certificate):
    """Its CA is the only one it trusts: a failure against it must not fall back to the usual ones."""
    ca = certificate.read_bytes()
    assert subjects(tls.tls_context(ca)) == [((("commonName", "sosqueue tls CA"),),)]
    assert tls.wider_context(ca, tls.tls_context(ca)) is None


def test_a_module_authority_is_read_past_a_byte_order_mark_and_comments(certificate):
    """As some editors save a PEM file: the certificates in it count, what is around them does not."""
    ca = "\ufeff# Zertifizierungsstelle für die Warteschlange\n".encode() + certificate.read_bytes()
    assert subjects(tls.tls_context(ca)) == [((("commonName", "sosqueue tls CA"),),)]


@pytest.mark.parametrize("unreadable", [
    b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    b"not a certificate at all",
])
def test_a_module_authority_that_cannot_be_read_verifies_no_server(unreadable):
    """Never the usual authorities instead: they would verify any public server."""
    context = tls.tls_context(unreadable)
    assert context.cert_store_stats()["x509_ca"] == 0 and context is not tls.tls_context(None)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert tls.wider_context(unreadable, context) is None


def test_without_certifi_there_is_nothing_wider(tmp_path, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed_folder(tmp_path / "certs", certificate)))
    monkeypatch.setattr(tls.importlib.util, "find_spec", lambda name: None)
    assert tls.wider_context(None, tls.tls_context(None)) is None
