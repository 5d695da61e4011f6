"""The TLS contexts the agent verifies its queue with, for HTTP calls and the session channel alike.

Built on first use only (an ``http://`` queue never builds one) and once per CA. Which
authorities are trusted:

- a module built with its own CA trusts that CA only;
- otherwise the system's store, and certifi's file as well. Holding both in memory costs an idle
  tray about 1.9 MB (``benchmarks/agent_sos.py``: the system's ~140 certificates 1.2 MB, certifi's
  0.7 MB), so the first context looks the system's authorities up in its hashed folder
  (``/etc/ssl/certs``) only when a handshake needs one, and certifi's are added only after the
  system's failed to verify a server: :func:`wider_context`. A system without such a folder gets
  its file and certifi's at once, as before.
"""

import functools
import importlib.util
import logging
import os
import re
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("sosqueue.agent.tls")

CERTIFI_BUNDLE = "cacert.pem"
#: A certificate's name in a folder OpenSSL looks authorities up in: its subject's hash and a number.
HASHED_NAME = re.compile(r"[0-9a-f]{8}\.[0-9]+")

_widened = threading.Event()  # the system's authorities once failed to verify a server


def tls_context(ca_bundle: bytes | None) -> "ssl.SSLContext":
    """The context to verify the queue with: the module's own CA when it has one, else the usual
    authorities (certifi's too once :func:`wider_context` was needed). Shared by every connection:
    do not change it."""
    module_context = _module_context(ca_bundle) if ca_bundle else None
    return module_context or _usual_context(with_certifi=_widened.is_set())


def wider_context(ca_bundle: bytes | None) -> "ssl.SSLContext | None":
    """After :func:`tls_context` failed to verify a server: the context that adds certifi's
    authorities to the system's, which :func:`tls_context` gives from now on; ``None`` when there
    is none wider (a module's own CA, certifi's already trusted, or certifi not installed)."""
    if ca_bundle and _module_context(ca_bundle) is not None:
        return None  # the module's CA is the only one it trusts: no downgrade
    if _widened.is_set() or _system_folder() is None or importlib.util.find_spec("certifi") is None:
        return None
    _widened.set()
    return _usual_context(with_certifi=True)


@functools.lru_cache(maxsize=4)
def _module_context(ca_bundle: bytes) -> "ssl.SSLContext | None":
    import ssl  # here: an http:// queue never loads OpenSSL's TLS library (1.3 MB)

    try:
        return ssl.create_default_context(cadata=ca_bundle.decode("ascii"))
    except (ssl.SSLError, ValueError) as error:  # then the queue's certificate fails to verify: no downgrade
        log.warning("the module's certificate authority cannot be read (%s); using the usual ones", error)
        return None


@functools.lru_cache(maxsize=2)
def _usual_context(*, with_certifi: bool) -> "ssl.SSLContext":
    """The system's authorities, and certifi's when asked or when the system's cannot be looked up
    later (then they are all loaded now, as :func:`ssl.create_default_context` does)."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the certificate and the host name
    folder = _system_folder()
    if folder is None:
        context.load_default_certs()
    else:
        context.load_verify_locations(capath=folder)
        chosen_file = os.environ.get(ssl.get_default_verify_paths().openssl_cafile_env)
        if chosen_file and os.path.isfile(chosen_file):
            context.load_verify_locations(cafile=chosen_file)
    if with_certifi or folder is None:
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
    if not folder:
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
