"""The one TLS context the agent verifies its queue with, for HTTP calls and the session channel alike.

Built on first use only (an ``http://`` queue never builds one) and once per CA: loading the
system's and certifi's certificates costs tens of milliseconds and about 1-2 MB, so a
background call pays it before the window's thread needs the context.
"""

import functools
import importlib.util
import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("sosqueue.agent.tls")

CERTIFI_BUNDLE = "cacert.pem"


@functools.lru_cache(maxsize=4)
def tls_context(ca_bundle: bytes | None) -> "ssl.SSLContext":
    """Verify the queue's certificate: the module's own CA when it has one, else the usual ones
    (the system's plus certifi's). Shared by every connection: do not change it."""
    import ssl  # here: an http:// queue never loads OpenSSL's TLS library (1.3 MB)

    if ca_bundle:
        try:
            return ssl.create_default_context(cadata=ca_bundle.decode("ascii"))
        except (ssl.SSLError, ValueError) as error:  # then the queue's certificate fails to verify: no downgrade
            log.warning("the module's certificate authority cannot be read (%s); using the usual ones", error)
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=certifi_bundle())
    except (ImportError, OSError) as error:
        log.debug("using only the system's certificate authorities: %s", error)
    return context


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
