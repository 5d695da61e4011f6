"""The agent's TLS context: certifi's CA file found without importing certifi, and trusted as before."""

import ssl
import subprocess
import sys

import certifi

from agent import tls


def test_certifis_file_is_the_one_certifi_names_and_certifi_is_not_imported():
    """The same cacert.pem as certifi.where(), found without loading certifi (nor importlib.resources)."""
    probe = ("import sys, agent.tls as tls; print(tls.certifi_bundle()); "
             "print(sorted(m for m in ('certifi', 'importlib.resources') if m in sys.modules))")
    lines = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split("\n")
    assert lines[:2] == [certifi.where(), "[]"]


def test_the_usual_context_trusts_the_systems_and_certifis_authorities():
    """Without a module CA: exactly the authorities of the system's store and certifi's file."""
    expected = ssl.create_default_context()
    expected.load_verify_locations(cafile=certifi.where())
    context = tls.tls_context.__wrapped__(None)
    assert context.get_ca_certs() == expected.get_ca_certs() and len(context.get_ca_certs()) > 100
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
