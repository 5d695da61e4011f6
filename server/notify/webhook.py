"""Webhook calls: a signed JSON POST per notification.

Each call is ``POST <company webhook URL>`` with a compact UTF-8 JSON body (the notification's
payload) and these headers:

- ``Content-Type: application/json``, ``User-Agent: sosqueue/<version>``
- ``X-Sosqueue-Event``: ``request.created``, ``request.assigned`` or ``request.escalated`` (the
  payload's ``event``; an escalated one's payload also has ``escalation``: ``{reason, minutes, lapsed_by}``)
- ``X-Sosqueue-Delivery``: the notification's id; a retry repeats it, so receivers can drop repeats
- ``X-Sosqueue-Timestamp``: when this attempt was sent, in Unix seconds
- ``X-Sosqueue-Signature``: ``sha256=`` + hex HMAC-SHA256 with the company's webhook secret over
  ``f"{timestamp}.{body}"`` (the timestamp header, a dot, the raw body bytes). Sent only when the
  company has a secret.

To check a call, a receiver computes the same HMAC over the raw body it received, compares in
constant time (``verify_signature`` below does both), and should refuse timestamps more than a
few minutes old so that a recorded call cannot be replayed later.

Any 2xx answer means delivered. Other answers and network errors are retried; redirects are never
followed (the configured URL is the only place a notification goes).
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


def headers_for(*, event: str, delivery_id: int, secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Sosqueue-Event": event,
        "X-Sosqueue-Delivery": str(delivery_id),
        "X-Sosqueue-Timestamp": str(timestamp),
    }
    if secret:
        headers["X-Sosqueue-Signature"] = sign(secret, timestamp, body)
    return headers


def require_public_host(url: str) -> None:
    """Refuse a URL whose host resolves to a loopback, private, link-local or other non-public address.

    For servers that host companies which must not reach into the server's own network. The
    address is checked when the call is made; a name that changes its address between this check
    and the connection (DNS rebinding) is not covered.
    """
    host = httpx.URL(url).host
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError) as error:
        raise DeliveryError(f"cannot resolve the webhook host {host!r}: {error}") from None
    private = sorted(a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_global)
    if private:
        raise PermanentError(
            f"the webhook URL points into a private network ({host} is {', '.join(private)}); this server "
            "allows only public addresses (SOSQUEUE_WEBHOOK_ALLOW_PRIVATE=false)"
        )


def post(url: str, *, event: str, delivery_id: int, payload: dict, secret: str, timeout: float,
         allow_private: bool = True) -> None:
    """Send one webhook call; raises DeliveryError unless the receiver answered 2xx."""
    if not allow_private:
        require_public_host(url)
    body = encode_body(payload)
    headers = headers_for(event=event, delivery_id=delivery_id, secret=secret, body=body, timestamp=int(time.time()))
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            with client.stream("POST", url, content=body, headers=headers) as response:
                status = response.status_code  # the answer's body is not needed, so not read
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
        raise PermanentError(f"the webhook URL {url!r} cannot be called: {error}; fix it in the company settings") from None
    except httpx.HTTPError as error:
        raise DeliveryError(f"webhook call failed: {type(error).__name__}: {error}") from None
    if not 200 <= status < 300:
        hint = " (redirects are not followed; configure the final URL)" if 300 <= status < 400 else ""
        raise DeliveryError(f"the webhook receiver answered HTTP {status}{hint}")
