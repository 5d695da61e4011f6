"""The customer's session channel: one WebSocket to the queue server, kept open while the request is.

The socket is the customer's presence in the session: while it is open the queue counts the
customer's agent as connected. It is opened from the agent only (outbound, through the
system's proxy settings: ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` and the operating
system's proxy configuration, which ``websockets`` reads through :mod:`urllib.request`), so
no port is ever opened on the customer's computer.

Messages are JSON text frames; screen frames are binary. A background thread receives and
reconnects after a drop with backoff (about 1, 2, 4 … 30 s); the close codes in
:data:`FINAL_CLOSE_CODES` end the channel for good.
"""

import json
import logging
import ssl
import threading
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from agent.outbox import backoff_delays

log = logging.getLogger("sosqueue.agent.connect")

SESSION_PATH = "/api/v1/service-requests/{code}/session"
#: The server closes with these when trying again cannot help: bad token, forbidden, no such
#: request, request no longer open, a newer connection of this customer took over.
FINAL_CLOSE_CODES = {4401: "not signed in", 4403: "forbidden", 4404: "no such request", 4409: "request not open",
                     4000: "replaced by a newer connection"}
BACKOFF_CAP = 30.0
OPEN_TIMEOUT = 10.0
CLOSE_TIMEOUT = 3.0
MAX_INCOMING = 64 * 1024  # the server's JSON messages are at most 16 KiB

#: The channel's states, as :class:`SessionChannel` reports them.
STATES = ("connecting", "connected", "reconnecting", "ended", "closed")


def session_url(server_url: str, code: str) -> str:
    """``wss://…/api/v1/service-requests/{code}/session`` for the queue at ``server_url`` (http → ws)."""
    parts = urlsplit(server_url.rstrip("/"))
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"the server address {server_url!r} is not an http(s) URL")
    path = parts.path + SESSION_PATH.format(code=quote(code.replace(" ", ""), safe=""))
    return f"{scheme}://{parts.netloc}{path}"


def tls_context(ca_bundle: bytes | None) -> ssl.SSLContext:
    """Verify the queue's certificate: the module's own CA when it has one, else the usual ones.

    The usual ones are the system's plus certifi's, as :mod:`requests` (the agent's HTTP client) uses.
    """
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


class SessionChannel:
    """One request's WebSocket, reconnecting until :meth:`close` or a final refusal.

    :param on_state: called with one of :data:`STATES` (and a reason for ``ended``) from the
        channel's thread on every change; hand UI work to the main thread from there.
    :param on_message: called with each JSON message (a dict with a ``type``) from the channel's thread.
    :param delays: the waits between attempts (tests shorten them).
    """

    def __init__(self, url: str, token: str, *, on_state: Callable[[str, str], None],
                 on_message: Callable[[dict], None], ssl_context: ssl.SSLContext | None = None,
                 user_agent: str = "sosqueue-agent",
                 delays: Callable[[], Iterator[float]] = lambda: backoff_delays(cap=BACKOFF_CAP)):
        self.url = url
        self._token = token
        self._on_state = on_state
        self._on_message = on_message
        self._ssl = ssl_context if url.startswith("wss://") else None
        self._user_agent = user_agent
        self._delays = delays
        self._closing = threading.Event()
        self._lock = threading.Lock()  # guards _connection
        self._send_lock = threading.Lock()  # one message at a time, in order
        self._connection: ClientConnection | None = None
        self._state = "new"
        self._thread = threading.Thread(target=self._run, name="sosqueue-session", daemon=True)

    @property
    def state(self) -> str:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state == "connected"

    def start(self) -> None:
        """Connect in the background."""
        self._thread.start()

    def send_json(self, message: dict) -> bool:
        """Send one JSON message; False when the channel is not connected (nothing is queued)."""
        return self._send(json.dumps(message, ensure_ascii=False))

    def send_frame(self, data: bytes) -> bool:
        """Send one screen frame (a binary message); False when not connected."""
        return self._send(data)

    def close(self, timeout: float = CLOSE_TIMEOUT + 2) -> None:
        """Close the socket (the queue sees the customer leave) and end the thread."""
        self._closing.set()
        with self._lock:
            connection = self._connection
        if connection is not None:
            connection.close()  # sends Close and waits up to CLOSE_TIMEOUT for the server's
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _send(self, payload: str | bytes) -> bool:
        with self._send_lock:
            with self._lock:
                connection = self._connection
            if connection is None or self._closing.is_set():
                return False
            try:
                connection.send(payload)
            except ConnectionClosed:
                return False
            return True

    def _run(self) -> None:
        delays = self._delays()
        self._set_state("connecting")
        while not self._closing.is_set():
            final = self._connect_and_receive()
            if final:
                self._set_state("ended", final)
                return
            if final is not None:
                delays = self._delays()  # it was up: the next drop starts the backoff anew
            if self._closing.is_set():
                break
            self._set_state("reconnecting")
            self._closing.wait(next(delays))
        self._set_state("closed")

    def _connect_and_receive(self) -> str | None:
        """One socket's life: None when it did not open, else "" or the reason the server ended it for good."""
        try:
            with connect(
                self.url, additional_headers={"Authorization": f"Bearer {self._token}"}, ssl=self._ssl,
                user_agent_header=self._user_agent, compression=None,  # JPEG does not compress further
                open_timeout=OPEN_TIMEOUT, close_timeout=CLOSE_TIMEOUT, max_size=MAX_INCOMING,
            ) as connection:
                if not self._adopt(connection):
                    return None
                return self._receive(connection)
        except InvalidStatus as error:
            log.info("the queue refused the session channel: HTTP %s", error.response.status_code)
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as error:
            log.info("cannot open the session channel: %s", error)
        return None

    def _adopt(self, connection: ClientConnection) -> bool:
        with self._lock:
            if self._closing.is_set():
                return False
            self._connection = connection
        return True

    def _receive(self, connection: ClientConnection) -> str:
        """Hand on messages until the socket closes; the reason when the server ended it for good."""
        self._set_state("connected")
        try:
            for message in connection:
                self._dispatch(message)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._connection = None
        code = connection.close_code
        log.info("the session channel closed (%s %s)", code, connection.close_reason or "")
        return "" if self._closing.is_set() else FINAL_CLOSE_CODES.get(code or 0, "")

    def _dispatch(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            log.debug("ignored a binary message from the server")
            return
        try:
            data = json.loads(message)
        except ValueError:
            log.warning("ignored a malformed message from the server")
            return
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            log.warning("ignored a message without a type from the server")
            return
        try:
            self._on_message(data)
        except Exception:
            log.exception("error while handling a %r message", data["type"])

    def _set_state(self, state: str, reason: str = "") -> None:
        if state == self._state:
            return
        self._state = state
        try:
            self._on_state(state, reason)
        except Exception:
            log.exception("error while reporting the channel state %r", state)
