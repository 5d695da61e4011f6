"""HTTP/1.1 for the queue client, on the standard library: kept-alive connections, the system's proxies,
TLS verified with :func:`agent.tls.tls_context`.

The agent used ``requests`` for this. It cost the idle tray 13.2 MB of its 57.9 MB: ``urllib3``,
``charset_normalizer``, ``idna`` and a TLS context with certifi's CA store that ``requests``
builds when it is imported, even for an ``http://`` queue. The agent needs little of it: one
server, JSON in and out, bounded downloads, an event stream. Without it (and with the help window
built only when it is first needed), ``benchmarks/agent_sos.py`` measures the idle tray, from source,
at 43.7 MB instead of 58.4 MB against an ``http://`` queue and 46.0 MB instead of 60.3 MB against an
``https://`` one. The protocol is :mod:`agent.http11`'s (it was :mod:`http.client`'s, which
brought the :mod:`email` package and :mod:`ssl` with it: 1.8 MB more, and OpenSSL's TLS library
even for an ``http://`` queue); this module adds what ``requests`` did for the agent:

- **Proxies** from the environment and the system, as ``requests`` chose them:
  ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` (and on Windows and macOS the system's settings,
  through :func:`urllib.request.getproxies`), except for hosts ``NO_PROXY`` names (suffixes,
  ``host:port``, ``*`` and, for IP addresses, networks such as ``10.0.0.0/8``). ``http://``
  proxies only; an ``https://`` queue is reached through a ``CONNECT`` tunnel. Elsewhere the
  settings are the environment's only, read here as :mod:`urllib.request` reads them: that
  module and what only it imports are not worth an idle agent's memory for a few variables.
- **Timeouts**: one for connecting (with the proxy's tunnel and the TLS handshake), one for
  every read.
- **Kept-alive connections**, checked before reuse: a connection the server has closed is
  dropped rather than written to.
- **Redirects are not followed**: the queue sends none, so one comes from something else (a
  captive portal) and the caller reports it as such.

A call that gets no HTTP answer raises :class:`Failure`, whose ``kind`` tells why.
"""

import base64
import json
import logging
import os
import select
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlencode, urlsplit

from agent import http11, tls

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("sosqueue.agent.transport")

#: Why a call got no answer: :attr:`Failure.kind`.
TLS, TIMEOUT, PROXY, CONNECTION = "tls", "timeout", "proxy", "connection"
KEPT_CONNECTIONS = 4  # idle connections kept per route; the agent rarely has more than two calls at once
CHUNK = 64 * 1024
#: What a kept-alive connection the server closed meanwhile raises when it is reused.
STALE = (http11.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class Failure(Exception):
    """No HTTP answer: ``kind`` is :data:`TLS`, :data:`TIMEOUT`, :data:`PROXY`, :data:`CONNECTION`, or
    the name of the protocol error; ``error`` is what was raised."""

    def __init__(self, kind: str, error: BaseException):
        super().__init__(f"{error}" or type(error).__name__)
        self.kind = kind
        self.error = error


@dataclass(frozen=True)
class Route:
    """Where a call's connection goes: the server, and the proxy in between if any."""

    scheme: str
    host: str
    port: int
    proxy: tuple[str, int] | None = None
    proxy_authorization: str | None = None

    @property
    def tunnel(self) -> bool:
        """An ``https://`` server through a proxy: a ``CONNECT`` tunnel, TLS inside it."""
        return self.proxy is not None and self.scheme == "https"

    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == (443 if self.scheme == "https" else 80) else f"{name}:{self.port}"

    def target(self, path: str) -> str:
        """The request target: absolute (``http://host/path``) for a forwarding proxy, else the path."""
        return f"http://{self.host_header()}{path}" if self.proxy and not self.tunnel else path


class Response:
    """An answer: status, reason and headers at once, the body as it is read."""

    def __init__(self, answer: http11.Answer, release):
        self._answer = answer
        self._release = release  # hands the connection back (True: it can be reused)
        self.status_code = answer.status
        self.reason = answer.reason
        self.headers = answer.headers  # case-insensitive .get
        self._body: bytes | None = None

    def read(self) -> bytes:
        """The whole body (read once, then kept)."""
        if self._body is None:
            self._body = b"".join(self.iter_content(CHUNK))
        return self._body

    def json(self):
        """The body as JSON (:class:`ValueError` when it is not)."""
        return json.loads(self.read())

    def iter_content(self, size: int) -> Iterator[bytes]:
        """The body in pieces of at most ``size`` bytes; a body cut short raises :class:`Failure`."""
        while chunk := self._read(lambda: self._answer.read1(size)):
            yield chunk
        if self._answer.length:  # the connection ended before the announced length
            missing = self._answer.length
            self.close()
            raise Failure("IncompleteRead", http11.IncompleteRead(missing))
        self.close()

    def iter_lines(self) -> Iterator[str]:
        """The body's lines as text, without their line ends (an event stream's)."""
        while line := self._read(self._answer.readline):
            yield line.decode("utf-8", errors="replace").rstrip("\r\n")
        self.close()

    def close(self) -> None:
        """Done with the answer: its connection is kept if the whole body was read, else closed."""
        if self._release is None:
            return
        release, self._release = self._release, None
        answer = self._answer
        whole = answer.isclosed() or answer.length == 0
        answer.close()
        release(whole and not answer.will_close)

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _read(self, read):
        try:
            return read()
        except socket.timeout as error:
            self.close()
            raise Failure(TIMEOUT, error) from None
        except OSError as error:
            self.close()
            raise Failure(CONNECTION, error) from None
        except http11.HTTPException as error:
            self.close()
            raise Failure(type(error).__name__, error) from None


class HttpClient:
    """Calls to one server (``base_url``), with its module's CA (``ca_bundle``) if it has one.

    Safe to use from several threads: each call takes a connection of its own.
    """

    def __init__(self, base_url: str, *, ca_bundle: bytes | None = None, headers: dict | None = None):
        address = urlsplit(base_url)
        if address.scheme not in ("http", "https") or not address.hostname:
            raise ValueError(f"the server address {base_url!r} is not an http(s) URL")
        self.scheme, self.host = address.scheme, address.hostname
        self.port = address.port or (443 if address.scheme == "https" else 80)
        self.prefix = address.path.rstrip("/")
        self._ca_bundle = ca_bundle
        self._headers = {"Accept": "*/*", "Accept-Encoding": "identity", **(headers or {})}
        self._idle: dict[Route, list[http11.Connection]] = {}
        self._lock = threading.Lock()

    def request(self, method: str, path: str, *, headers: dict | None = None, params: dict | None = None,
                json_body=None, timeout: tuple[float, float], stream: bool = False) -> Response:
        """Send one request and return its answer (with the body read, unless ``stream``).

        :param timeout: seconds to connect (proxy tunnel and TLS included), and for each read.
        :raises Failure: when no answer came.
        """
        route = self.route()
        target = route.target(self.prefix + path + (f"?{urlencode(params)}" if params else ""))
        body = json.dumps(json_body, allow_nan=False).encode() if json_body is not None else None
        sent = {**self._headers, "Host": route.host_header(), **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/json"
        if route.proxy_authorization and not route.tunnel:
            sent["Proxy-Authorization"] = route.proxy_authorization
        connection, reused = self._connection(route, timeout)
        try:
            answer = self._exchange(connection, method, target, body, sent, timeout[1])
        except Failure as failure:
            if not (reused and method == "GET" and isinstance(failure.error, STALE)):
                raise
            # The server closed a kept-alive connection just as it was reused: nothing reached it.
            connection = self._connect(route, timeout)
            answer = self._exchange(connection, method, target, body, sent, timeout[1])
        response = Response(answer, lambda reusable: self._release(route, connection, reusable))
        if not stream:
            response.read()  # and the connection is free for the next call
        return response

    def route(self) -> Route:
        """This server's route as the proxy settings say now (they are read for every call)."""
        proxy = _proxy_for(self.scheme, self.host, self.port)
        if proxy is None:
            return Route(self.scheme, self.host, self.port)
        address = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if address.scheme != "http" or not address.hostname:
            raise Failure(PROXY, ValueError(f"the proxy {proxy!r} is not an http:// proxy"))
        authorization = None
        if address.username:
            credentials = f"{unquote(address.username)}:{unquote(address.password or '')}"
            authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
        return Route(self.scheme, self.host, self.port, (address.hostname, address.port or 80), authorization)

    def _exchange(self, connection: http11.Connection, method: str, target: str, body: bytes | None,
                  headers: dict, read_timeout: float) -> http11.Answer:
        connection.sock.settimeout(read_timeout)
        try:
            connection.request(method, target, body=body, headers=headers)
            return connection.getresponse(method)
        except socket.timeout as error:
            connection.close()
            raise Failure(TIMEOUT, error) from None
        except OSError as error:
            connection.close()
            raise Failure(CONNECTION, error) from None
        except http11.HTTPException as error:
            connection.close()
            raise Failure(type(error).__name__, error) from None

    def _connection(self, route: Route, timeout: tuple[float, float]) -> tuple[http11.Connection, bool]:
        """A kept connection that is still open, else a new one; and whether it was kept."""
        while True:
            with self._lock:
                kept = self._idle.get(route)
                connection = kept.pop() if kept else None
            if connection is None:
                return self._connect(route, timeout), False
            if not _dropped(connection.sock):
                return connection, True
            connection.close()

    def _release(self, route: Route, connection: http11.Connection, reusable: bool) -> None:
        if reusable and connection.sock is not None:
            with self._lock:
                kept = self._idle.setdefault(route, [])
                if len(kept) < KEPT_CONNECTIONS:
                    kept.append(connection)
                    return
        connection.close()

    def _connect(self, route: Route, timeout: tuple[float, float]) -> http11.Connection:
        context = tls.tls_context(self._ca_bundle) if route.scheme == "https" else None
        try:
            return self._open(route, timeout, context)
        except Failure as failure:
            if context is None or failure.kind != TLS or not tls.missing_authority(failure.error):
                raise
            wider = tls.wider_context(self._ca_bundle, context)
            if wider is None:
                raise
            log.info("the system's certificate authorities lack the one of %s; trying certifi's as well", route.host)
            return self._open(route, timeout, wider)

    @staticmethod
    def _open(route: Route, timeout: tuple[float, float], context: "ssl.SSLContext | None") -> http11.Connection:
        """A new connection on ``route``, through its proxy's tunnel, secured with ``context`` for
        an ``https://`` server."""
        connect_timeout = timeout[0]
        host, port = route.proxy or (route.host, route.port)
        try:
            sock = socket.create_connection((wire_name(host), port), timeout=connect_timeout)
        except socket.timeout as error:
            raise Failure(PROXY if route.proxy else TIMEOUT, error) from None
        except OSError as error:
            raise Failure(PROXY if route.proxy else CONNECTION, error) from None
        try:
            if route.tunnel:
                _open_tunnel(sock, route)
            if route.scheme == "https":
                sock = _secure(sock, route.host, context)
        except BaseException:
            sock.close()
            raise
        return http11.Connection(sock)  # never a silent reconnect past the proxy and TLS set up here


def _secure(sock: socket.socket, host: str, context: "ssl.SSLContext") -> "ssl.SSLSocket":
    import ssl  # here: an http:// queue never loads OpenSSL's TLS library

    try:
        return context.wrap_socket(sock, server_hostname=wire_name(host))
    except ssl.SSLError as error:
        raise Failure(TLS, error) from None
    except socket.timeout as error:
        raise Failure(TIMEOUT, error) from None
    except OSError as error:
        raise Failure(CONNECTION, error) from None


def wire_name(host: str) -> str | bytes:
    """``host`` as name lookup and TLS take it: an ASCII name as bytes, which is what the ``idna``
    codec makes of it, without loading that codec and its tables (0.3 MB); other names as text,
    for the codec."""
    return host.encode("ascii") if host.isascii() else host


def _open_tunnel(sock: socket.socket, route: Route) -> None:
    """Ask the proxy on ``sock`` for a tunnel to the server (``CONNECT``); :class:`Failure` when it says no."""
    authority = f"[{route.host}]:{route.port}" if ":" in route.host else f"{route.host}:{route.port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if route.proxy_authorization:
        lines.append(f"Proxy-Authorization: {route.proxy_authorization}")
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        with sock.makefile("rb") as file:  # the proxy says nothing after its answer until TLS begins
            answer = http11.Answer(file, "CONNECT")
    except (OSError, http11.HTTPException) as error:
        raise Failure(PROXY, error) from None
    if answer.status != 200:
        raise Failure(PROXY, OSError(f"the proxy answered CONNECT with {answer.status} {answer.reason}"))


def _dropped(sock: socket.socket | None) -> bool:
    """Whether a kept connection ended: an idle one has nothing to read unless the server closed it."""
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _proxy_for(scheme: str, host: str, port: int) -> str | None:
    """The proxy for ``scheme://host:port`` from the environment and the system, or None (as requests chose)."""
    proxies = _system_proxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or _bypasses_proxy(host, port):
        return None
    return proxy


def _bypasses_proxy(host: str, port: int) -> bool:
    """Whether ``NO_PROXY`` (or the system's exceptions) exempt ``host``."""
    no_proxy = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
    entries = [entry for entry in no_proxy.replace(" ", "").split(",") if entry]
    if entries and _is_ip(host):
        if any(_in_network(host, entry) if "/" in entry else entry == host for entry in entries):
            return True
    elif any(host.endswith(entry) or f"{host}:{port}".endswith(entry) for entry in entries):
        return True
    if not _SYSTEM_SETTINGS:  # the environment's exceptions as urllib.request reads them
        return _environment_bypass(host, _environment_proxies().get("no", ""))
    import urllib.request

    try:
        return bool(urllib.request.proxy_bypass(host))
    except (OSError, TypeError, ValueError):
        return False


#: Where the system has proxy settings of its own beside the environment's (read by urllib.request).
_SYSTEM_SETTINGS = sys.platform in ("win32", "darwin")


def _system_proxies() -> dict[str, str]:
    """``scheme -> proxy`` (and ``no`` for the exceptions), as :func:`urllib.request.getproxies` says."""
    if not _SYSTEM_SETTINGS:
        return _environment_proxies()
    import urllib.request

    return urllib.request.getproxies()


def _environment_proxies() -> dict[str, str]:
    """The ``*_proxy`` variables, as :func:`urllib.request.getproxies_environment` reads them: any case,
    lower case first; ``HTTP_PROXY`` not in a CGI script (``REQUEST_METHOD``, CVE-2016-1000110)."""
    proxies = {}
    for name, value in os.environ.items():
        name = name.lower()
        if value and name.endswith("_proxy"):
            proxies[name.removesuffix("_proxy")] = value
    if "REQUEST_METHOD" in os.environ:
        proxies.pop("http", None)
    for name, value in os.environ.items():
        if name.endswith("_proxy"):  # lower case only: it wins
            if value:
                proxies[name.removesuffix("_proxy")] = value
            else:
                proxies.pop(name.removesuffix("_proxy"), None)
    return proxies


def _environment_bypass(host: str, no_proxy: str) -> bool:
    """Whether ``no_proxy`` exempts ``host``, as :func:`urllib.request.proxy_bypass_environment` decides."""
    if no_proxy == "*":
        return True
    host = host.lower()
    for name in no_proxy.split(","):
        name = name.strip().lstrip(".").lower()
        if name and (host == name or host.endswith(f".{name}")):
            return True
    return False


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def _in_network(host: str, network: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False
