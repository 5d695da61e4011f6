"""The one TLS context the agent verifies its queue with, for HTTP calls and the session channel alike.

Built on first use only (an ``http://`` queue never builds one) and once per CA: loading the
system's and certifi's certificates costs tens of milliseconds and about 1-2 MB, so a
background call pays it before the window's thread needs the context.
"""

import functools
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("sosqueue.agent.tls")


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
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError) as error:
        log.debug("using only the system's certificate authorities: %s", error)
    return context
