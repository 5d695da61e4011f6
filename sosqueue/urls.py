"""Addresses: the queue server's URL as modules carry it, web addresses, same-origin checks."""

import ipaddress
from urllib.parse import urlsplit


class BadServerUrl(ValueError):
    """The queue server's address cannot be used; the message says why and what to do."""


def is_web_address(url: str) -> bool:
    """Whether ``url`` is an ``http(s)://host…`` address (nothing else is checked)."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. a broken [IPv6] host
        return False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_url(url: str, *, allow_insecure: bool, allow_loopback_http: bool = True) -> str:
    """The queue's address without its trailing slash, checked for modules to carry.

    ``http://`` is refused unless ``allow_insecure``, or (with ``allow_loopback_http``) the host
    is this computer itself.

    :raises BadServerUrl: for an address that is not https (or allowed http) with a host.
    """
    if not is_web_address(url):
        raise BadServerUrl(f"{url!r} is not an address like https://queue.example.com")
    host = urlsplit(url).hostname or ""
    if urlsplit(url).scheme == "http" and not allow_insecure and not (allow_loopback_http and is_loopback(host)):
        raise BadServerUrl(f"{url!r} is not encrypted; use https://, or build with --allow-insecure for a test network")
    return url.rstrip("/")


def same_origin(origin: str, host: str) -> bool:
    """Whether a browser's ``Origin`` (or ``Referer``) names the host this request came to."""
    try:
        return bool(origin) and urlsplit(origin).netloc == host
    except ValueError:
        return False
