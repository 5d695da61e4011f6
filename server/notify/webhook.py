"""Webhook calls: a signed JSON POST per notification.

Each call is ``POST <company webhook URL>`` with a compact UTF-8 JSON body (the notification's
payload) and these headers:

- ``Content-Type: application/json``, ``User-Agent: sosqueue/<version>``
- ``X-Sosqueue-Event``: ``request.created``, ``request.assigned`` or ``request.escalated`` (the
  payload's ``event``; an escalated one's payload also has ``escalation``: ``{reason, minutes, lapsed_by}``)
- ``X-Sosqueue-Delivery``: the notification's id, 16 hex digits that tell nothing of other companies
  (``server.event_ids``); a retry repeats it, so receivers can drop repeats
- ``X-Sosqueue-Timestamp``: when this attempt was sent, in Unix seconds
- ``X-Sosqueue-Signature``: ``sha256=`` + hex HMAC-SHA256 with the company's webhook secret over
  ``f"{timestamp}.{body}"`` (the timestamp header, a dot, the raw body bytes). Sent only when the
  company has a secret.

To check a call, a receiver computes the same HMAC over the raw body it received, compares in
constant time (``verify_signature`` below does both), and should refuse timestamps more than a
few minutes old so that a recorded call cannot be replayed later.

Any 2xx answer means delivered. Other answers and network errors are retried; redirects are never
followed (the configured URL is the only place a notification goes).

The receiver's name is looked up once per call, and the call connects to an address of that
answer (the next one when one refuses the connection or takes none within its share of the
time), never to what a second lookup might say: the addresses checked against private networks
are the ones called (no DNS rebinding). The
name still goes in the ``Host`` header and in TLS (SNI), and the certificate is verified for it.
Calls go straight to the receiver; proxy settings of the environment are not used.
"""

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from importlib import metadata

import httpx

from server.notify.errors import DeliveryError, PermanentError

SIGNATURE_PREFIX = "sha256="


def _version() -> str:
    try:
        return metadata.version("sosqueue")
    except metadata.PackageNotFoundError:
        return "0"


USER_AGENT = f"sosqueue/{_version()}"


def encode_body(payload: dict) -> bytes:
    """The payload as sent: compact JSON in UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Sosqueue-Signature`` value for a body sent at ``timestamp``."""
    message = f"{timestamp}.".encode("ascii") + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_signature(secret: str, timestamp: int | str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` sent at ``timestamp`` with ``secret``."""
    if not secret or not header or not header.isascii() or not str(timestamp).isdigit():
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def headers_for(*, event: str, delivery_id: str, secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Sosqueue-Event": event,
        "X-Sosqueue-Delivery": delivery_id,
        "X-Sosqueue-Timestamp": str(timestamp),
    }
    if secret:
        headers["X-Sosqueue-Signature"] = sign(secret, timestamp, body)
    return headers


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` has now, in the resolver's order: the one lookup of a webhook call."""
    return list(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))


_PORTS = {"http": 80, "https": 443}


def _uncallable(url: str, reason: object) -> PermanentError:
    return PermanentError(f"the webhook URL {url!r} cannot be called: {reason}; fix it in the company settings")


def _target(url: str) -> httpx.URL:
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise _uncallable(url, error) from None
    if target.scheme not in _PORTS or not target.raw_host:
        raise _uncallable(url, "it needs http:// or https:// and a host")
    return target


def addresses_to_call(target: httpx.URL, *, allow_private: bool) -> list[str]:
    """The addresses a call to ``target`` may connect to, from one lookup of its host.

    Without ``allow_private``, every address of the host must be public: one loopback, private,
    link-local or other non-public address among them refuses the URL.
    """
    host = target.raw_host.decode("ascii")
    try:
        addresses = resolve(host, target.port or _PORTS[target.scheme])
    except (socket.gaierror, UnicodeError) as error:
        raise DeliveryError(f"cannot resolve the webhook host {host!r}: {error}") from None
    if not addresses:
        raise DeliveryError(f"cannot resolve the webhook host {host!r}: no address")
    private = sorted(a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_global)
    if private and not allow_private:
        raise PermanentError(
            f"the webhook URL points into a private network ({host} is {', '.join(private)}); this server "
            "allows only public addresses (SOSQUEUE_WEBHOOK_ALLOW_PRIVATE=false)"
        )
    return addresses


def post(url: str, *, event: str, delivery_id: str, payload: dict, secret: str, timeout: float,
         allow_private: bool = True) -> None:
    """Send one webhook call; raises DeliveryError unless the receiver answered 2xx."""
    target = _target(url)
    addresses = addresses_to_call(target, allow_private=allow_private)
    body = encode_body(payload)
    headers = headers_for(event=event, delivery_id=delivery_id, secret=secret, body=body, timestamp=int(time.time()))
    headers["Host"] = target.netloc.decode("ascii")
    name = {"sni_hostname": target.raw_host.decode("ascii")}  # TLS: SNI, and the name the certificate must have
    try:
        # Not the environment's proxy (it would look the name up again) nor its netrc; SSL_CERT_FILE
        # and SSL_CERT_DIR still name the CAs to trust.
        # Each address gets its share of the connect time, so that a dead first one (an IPv6 address
        # on a server without IPv6) leaves time for the next.
        budget = httpx.Timeout(timeout, connect=max(timeout / len(addresses), 1.0))
        with httpx.Client(timeout=budget, follow_redirects=False, trust_env=False,
                          verify=httpx.create_ssl_context()) as client:
            for index, address in enumerate(addresses):
                try:
                    with client.stream("POST", target.copy_with(host=address), content=body, headers=headers,
                                       extensions=name) as response:
                        status = response.status_code  # the answer's body is not needed, so not read
                    break
                except (httpx.ConnectError, httpx.ConnectTimeout):
                    if index == len(addresses) - 1:
                        raise
    except httpx.InvalidURL as error:
        raise _uncallable(url, error) from None
    except httpx.HTTPError as error:
        raise DeliveryError(f"webhook call failed: {type(error).__name__}: {error}") from None
    if not 200 <= status < 300:
        hint = " (redirects are not followed; configure the final URL)" if 300 <= status < 400 else ""
        raise DeliveryError(f"the webhook receiver answered HTTP {status}{hint}")
