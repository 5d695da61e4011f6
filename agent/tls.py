"""The TLS contexts the agent verifies its queue with, for HTTP calls and the session channel alike.

Built on first use only (an ``http://`` queue never builds one) and once per CA. Which
authorities are trusted:

- a module built with its own CA trusts that CA only (and one whose CA cannot be read, none);
- otherwise the system's store, and certifi's file as well. Holding both in memory costs an idle
  tray about 1.9 MB (``benchmarks/agent_sos.py``: the system's ~140 certificates 1.2 MB, certifi's
  0.7 MB), so the first context looks the system's authorities up in their hashed folder
  (``/etc/ssl/certs``) only when a handshake needs one; after a server's authority was missing
  there, the system's whole store and certifi's are loaded (:func:`wider_context`), and every
  connection uses those from then on. A system without such a folder (Windows, say) gets them
  all at once, as before.
"""

import functools
import importlib.util
import logging
import os
import re
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("sosqueue.agent.tls")

CERTIFI_BUNDLE = "cacert.pem"
#: A certificate's name in a folder OpenSSL looks authorities up in: its subject's hash and a number.
HASHED_NAME = re.compile(r"[0-9a-f]{8}\.[0-9]+")
#: OpenSSL's verification results that say an authority is missing, which more authorities may
#: supply: no issuer found (2, 20), a self-signed certificate (18) or one in the chain (19), the
#: leaf's issuer (21).
MISSING_AUTHORITY = frozenset({2, 18, 19, 20, 21})
_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")

_widened = threading.Event()  # the system's authorities once failed to verify a server


def tls_context(ca_bundle: bytes | None) -> "ssl.SSLContext":
    """The context to verify the queue with: the module's own CA when it has one, else the usual
    authorities (certifi's too once :func:`wider_context` was needed). Shared by every connection:
    do not change it."""
    return _module_context(ca_bundle) if ca_bundle else _usual_context(with_certifi=_widened.is_set())


def wider_context(ca_bundle: bytes | None, tried: "ssl.SSLContext") -> "ssl.SSLContext | None":
    """After ``tried`` (a :func:`tls_context`) missed the authority of a server's certificate: the
    context that trusts certifi's authorities and the system's whole store (what
    :func:`tls_context` gives from then on, also when another connection widened it meanwhile);
    ``None`` when there is none wider (a module's own CA: no downgrade; everything loaded already;
    certifi not installed)."""
    if ca_bundle:
        return None
    current = tls_context(None)
    if current is not tried:
        return current
    if _widened.is_set() or _system_folder() is None or importlib.util.find_spec("certifi") is None:
        return None
    _widened.set()
    return _usual_context(with_certifi=True)


def missing_authority(error: BaseException) -> bool:
    """Whether ``error`` (a failed handshake) says the trusted authorities lack the certificate's:
    not a wrong host name or a lapsed certificate, which no other authority would change."""
    import ssl

    return isinstance(error, ssl.SSLCertVerificationError) and error.verify_code in MISSING_AUTHORITY


@functools.lru_cache(maxsize=4)
def _module_context(ca_bundle: bytes) -> "ssl.SSLContext":
    import ssl  # here: an http:// queue never loads OpenSSL's TLS library (1.3 MB)

    try:
        certificates = b"\n".join(_PEM_CERTIFICATE.findall(ca_bundle)).decode("ascii")
        if not certificates:
            raise ValueError("it holds no PEM certificate")
        return ssl.create_default_context(cadata=certificates)
    except (ssl.SSLError, ValueError) as error:
        log.warning("the module's certificate authority cannot be read (%s): no server will verify", error)
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # trusts no authority: never the usual ones instead


@functools.lru_cache(maxsize=2)
def _usual_context(*, with_certifi: bool) -> "ssl.SSLContext":
    """The system's authorities looked up in their folder when a handshake needs one; or, when
    widened or where the system has no such folder, its whole store and certifi's, loaded now."""
    import ssl

    folder = _system_folder()
    if folder is not None and not with_certifi:
        context = ssl.create_default_context(capath=folder)  # loads no file
        chosen_file = os.environ.get(ssl.get_default_verify_paths().openssl_cafile_env)
        if chosen_file and os.path.isfile(chosen_file):
            context.load_verify_locations(cafile=chosen_file)
        return context
    context = ssl.create_default_context()  # the system's file and folder (Windows: its store)
    try:
        context.load_verify_locations(cafile=certifi_bundle())
    except (ImportError, OSError) as error:
        log.debug("using only the system's certificate authorities: %s", error)
    return context


def forget() -> None:
    """Build every context anew on next use, and start again from the system's authorities
    (after the system's or certifi's files changed)."""
    _widened.clear()
    _module_context.cache_clear()
    _usual_context.cache_clear()


def _system_folder() -> str | None:
    """The folder OpenSSL looks the system's authorities up in (``SSL_CERT_DIR`` or its default),
    if it holds hashed names; ``None`` where it does not exist or OpenSSL could not use it."""
    import ssl

    folder = ssl.get_default_verify_paths().capath
    if not folder or sys.platform == "win32":  # Windows: its own store, which OpenSSL does not look up
        return None
    try:
        with os.scandir(folder) as entries:
            return folder if any(HASHED_NAME.fullmatch(entry.name) for entry in entries) else None
    except OSError:
        return None


def certifi_bundle() -> str:
    """certifi's CA file, the one ``certifi.where()`` names: ``cacert.pem`` in certifi's package
    folder, found without importing certifi (whose :mod:`importlib.resources` machinery is 0.5 MB
    of an idle agent's memory); certifi itself where the file is not there (a zipped package).

    :raises ImportError: when certifi is not installed.
    """
    spec = importlib.util.find_spec("certifi")
    if spec is None:
        raise ImportError("certifi is not installed")
    for folder in spec.submodule_search_locations or ():
        bundle = os.path.join(folder, CERTIFI_BUNDLE)
        if os.path.isfile(bundle):
            return bundle
    import certifi

    return certifi.where()
