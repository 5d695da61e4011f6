"""The customer's session channel: one WebSocket to the queue server, kept open while the request is.

The socket is the customer's presence in the session: while it is open the queue counts the
customer's agent as connected. It is opened from the agent only (outbound, through the
system's proxy settings: ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` and the operating
system's proxy configuration, which ``websockets`` reads through :mod:`urllib.request`), so
no port is ever opened on the customer's computer.

Messages are JSON text frames; screen frames are binary. A background thread receives and
reconnects after a drop with backoff (about 1, 2, 4 … 30 s); the close codes in
:data:`~sosqueue.connect.FINAL_CLOSES` end the channel for good. Every socket of one channel
carries the same random instance id (:data:`~sosqueue.connect.INSTANCE_HEADER`): with it a
reconnect takes the place of the channel's own old socket, which the server may still hold after
a drop, while a socket of anyone else holding the customer token is refused. The channel is
``connected`` once the server's first message (its hello) arrives: a socket closed before that
was refused, and the backoff goes on. Sending only queues: each socket has a
:class:`~agent.connect.writer.SocketWriter` thread, so a stalled network never blocks the caller,
and a write that has not finished within :data:`SEND_TIMEOUT` seconds drops the socket (then the
channel reconnects). Reading is never time-limited: a quiet session stays open.
"""

import json
import logging
import threading
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from agent import tls
from agent.connect.writer import SocketWriter, bound_writes, cut
from agent.outbox import backoff_delays
from sosqueue.connect import FINAL_CLOSES, INSTANCE_HEADER, CloseCode, new_instance

log = logging.getLogger("sosqueue.agent.connect")

SESSION_PATH = "/api/v1/service-requests/{code}/session"
#: Why the channel ended, in the words it reports with ``ended``, for each close after which
#: trying again cannot help.
ENDED_REASONS = {CloseCode.NOT_SIGNED_IN: "not signed in", CloseCode.FORBIDDEN: "forbidden",
                 CloseCode.NOT_FOUND: "no such request", CloseCode.NOT_OPEN: "request not open",
                 CloseCode.REPLACED: "replaced by a newer connection"}
BACKOFF_CAP = 30.0
OPEN_TIMEOUT = 10.0
CLOSE_TIMEOUT = 3.0
#: A write that takes longer than this ends the socket (a 2 MiB frame needs about 100 KiB/s).
SEND_TIMEOUT = 20.0
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


def received_close(connection: ClientConnection) -> tuple[int | None, str]:
    """The code and reason of the server's Close frame; (None, "") when none arrived (the link dropped)."""
    frame = connection.protocol.close_rcvd
    return (frame.code, frame.reason) if frame is not None else (None, "")


class SessionChannel:
    """One request's WebSocket, reconnecting until :meth:`close` or a final refusal.

    :param on_state: called with one of :data:`STATES` (and a reason for ``ended``) from the
        channel's thread on every change; hand UI work to the main thread from there.
    :param on_message: called with each JSON message (a dict with a ``type``) from the channel's thread.
    :param delays: the waits between attempts (tests shorten them).
    :param send_timeout: seconds one write may take before the socket is dropped.
    """

    def __init__(self, url: str, token: str, *, on_state: Callable[[str, str], None],
                 on_message: Callable[[dict], None], ca_bundle: bytes | None = None,
                 user_agent: str = "sosqueue-agent",
                 delays: Callable[[], Iterator[float]] = lambda: backoff_delays(cap=BACKOFF_CAP),
                 send_timeout: float = SEND_TIMEOUT):
        self.url = url
        self._token = token
        self._instance = new_instance()
        self._on_state = on_state
        self._on_message = on_message
        self._secure = url.startswith("wss://")
        self._ca_bundle = ca_bundle
        self._user_agent = user_agent
        self._delays = delays
        self._send_timeout = send_timeout
        self._closing = threading.Event()
        self._lock = threading.Lock()  # guards _connection and _writer
        self._connection: ClientConnection | None = None
        self._writer: SocketWriter | None = None
        self._state = "new"
        self._thread = threading.Thread(target=self._run, name="sosqueue-session", daemon=True)

    @property
    def state(self) -> str:
        return self._state

    @property
    def instance(self) -> str:
        """The random id every socket of this channel sends (:data:`~sosqueue.connect.INSTANCE_HEADER`)."""
        return self._instance

    @property
    def connected(self) -> bool:
        return self._state == "connected"

    def start(self) -> None:
        """Connect in the background."""
        self._thread.start()

    def send_json(self, message: dict) -> bool:
        """Queue one JSON message for the open socket, without waiting; False when not connected."""
        return self._send(json.dumps(message, ensure_ascii=False))

    def send_frame(self, data: bytes) -> bool:
        """Queue one screen frame (a binary message), replacing one still waiting; False when not connected."""
        return self._send(data, frame=True)

    def drop_frames(self) -> None:
        """Forget the frames not written yet (sharing stopped)."""
        with self._lock:
            writer = self._writer
        if writer is not None:
            writer.drop_frames()

    def close(self, timeout: float = CLOSE_TIMEOUT + 2) -> None:
        """Close the socket after what is queued (the queue sees the customer leave) and end the thread.

        On a stalled network the socket is cut after :data:`CLOSE_TIMEOUT` and a second, so this
        returns within about that plus ``timeout`` seconds.
        """
        self._closing.set()
        with self._lock:
            connection, writer = self._connection, self._writer
        if writer is not None:
            writer.finish()
            if not writer.join(CLOSE_TIMEOUT + 1):
                log.info("the session channel did not close in time; cutting the connection")
                cut(connection)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _send(self, payload: str | bytes, *, frame: bool = False) -> bool:
        with self._lock:
            writer = self._writer
        if writer is None or self._closing.is_set():
            return False
        return writer.put(payload, frame=frame)

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
        """One socket's life: None when it did not open or was refused before the server's first message,
        else "" or the reason the server ended it for good."""
        # the HTTP client's context (agent.tls), read for each attempt: the client may have widened it
        context = tls.tls_context(self._ca_bundle) if self._secure else None
        try:
            with connect(
                self.url, additional_headers={"Authorization": f"Bearer {self._token}",
                                              INSTANCE_HEADER: self._instance}, ssl=context,
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
            if context is not None and tls.missing_authority(error):
                tls.wider_context(self._ca_bundle, context)  # the next attempt trusts certifi's as well
        return None

    def _adopt(self, connection: ClientConnection) -> bool:
        with self._lock:
            if self._closing.is_set():
                return False
            bound_writes(connection.socket, self._send_timeout)
            self._connection = connection
            self._writer = SocketWriter(connection, send_timeout=self._send_timeout)
            self._writer.start()
        return True

    def _receive(self, connection: ClientConnection) -> str | None:
        """Hand on messages until the socket closes; the reason when the server ended it for good, None when
        it closed the socket before its first message (a refusal worth another try later), else ""."""
        admitted = False
        try:
            for message in connection:
                if not admitted:
                    admitted = True
                    self._set_state("connected")
                self._dispatch(message)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._connection = None
                writer, self._writer = self._writer, None
            if writer is not None:
                writer.stop()
        code, reason = received_close(connection)
        log.info("the session channel closed (%s %s)", code, reason)
        if self._closing.is_set():
            return ""
        if code in FINAL_CLOSES:
            return ENDED_REASONS.get(code) or CloseCode(code).name.lower()
        return "" if admitted else None

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
