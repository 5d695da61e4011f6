"""Writing to the session's socket from a thread of its own, so no caller ever waits for the network.

On a stalled network one socket write can block for many minutes; the window's thread must
never be the one that waits. Messages go out in the order they were queued. Screen frames keep
the queue short: a new frame takes the place of one still waiting, so a slow link carries the
newest picture, not a backlog of old ones. A write that has not finished within the send
timeout is ended by a watchdog that shuts the socket down under it.
"""

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from websockets.exceptions import ConnectionClosed
from websockets.sync.connection import Connection

log = logging.getLogger("sosqueue.agent.connect")

#: Messages waiting at most; a link that far behind is as good as down.
MAX_QUEUED = 100


def bound_writes(sock: socket.socket, seconds: float) -> None:
    """On Linux, end the connection when sent data stays unacknowledged ``seconds`` long (``TCP_USER_TIMEOUT``).

    This also covers the library's own writes (pongs, the Close frame). The socket stays
    blocking: a socket timeout would apply to the library's receiving thread as well, and
    setting one races with that thread, which may already have closed the socket.
    """
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    if option is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, option, max(1, int(seconds * 1000)))
    except OSError as error:  # also: the socket is closed already (the server ended it at once)
        log.debug("cannot set TCP_USER_TIMEOUT: %s", error)


def cut(connection: Connection) -> None:
    """Shut the socket down under a write that blocks, which then fails at once (safe from any thread)."""
    try:
        # socket.socket's own shutdown: an SSLSocket's would also drop its TLS state under the writing thread.
        socket.socket.shutdown(connection.socket, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class SendWatchdog:
    """Cuts ``connection`` when a send guarded by :meth:`guarding` has not finished within ``seconds``."""

    def __init__(self, connection: Connection, seconds: float):
        self._connection = connection
        self._seconds = seconds
        self._deadline: float | None = None  # of the send in progress
        self._ended = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._watch, name="sosqueue-session-send-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def end(self) -> None:
        """Stop watching (the writer is done)."""
        with self._changed:
            self._ended = True
            self._changed.notify()

    @contextmanager
    def guarding(self) -> Iterator[None]:
        """Watch the send made inside the ``with`` block."""
        with self._changed:
            self._deadline = time.monotonic() + self._seconds
            self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                self._deadline = None

    def _watch(self) -> None:
        with self._changed:
            while not self._ended:
                if self._deadline is None:
                    self._changed.wait()
                elif (left := self._deadline - time.monotonic()) > 0:
                    self._changed.wait(left)
                else:
                    self._deadline = None
                    log.info("a write on the session channel took longer than %s s; dropping the socket",
                             self._seconds)
                    cut(self._connection)


class SocketWriter:
    """Sends one socket's messages, in order, from its own thread; :meth:`put` never waits.

    :param send_timeout: seconds one message may take to write before the socket is cut
        (None: no limit).
    """

    def __init__(self, connection: Connection, send_timeout: float | None = None):
        self._connection = connection
        self._watchdog = SendWatchdog(connection, send_timeout) if send_timeout is not None else None
        self._queue: deque[tuple[bool, str | bytes]] = deque()  # (is a frame, payload)
        self._changed = threading.Condition()
        self._accepting = True
        self._finishing = False
        self._thread = threading.Thread(target=self._run, name="sosqueue-session-send", daemon=True)

    @property
    def pending(self) -> int:
        """How many messages wait to be written."""
        with self._changed:
            return len(self._queue)

    def start(self) -> None:
        if self._watchdog is not None:
            self._watchdog.start()
        self._thread.start()

    def put(self, payload: str | bytes, *, frame: bool = False) -> bool:
        """Queue ``payload`` (a ``frame`` replaces a frame still waiting); False when the socket takes nothing more."""
        with self._changed:
            if not self._accepting:
                return False
            if frame and self._replace_frame(payload):
                return True
            if len(self._queue) >= MAX_QUEUED:
                log.info("the session channel is too far behind; a message was not sent")
                return False
            self._queue.append((frame, payload))
            self._changed.notify()
        return True

    def drop_frames(self) -> None:
        """Forget the frames still waiting (sharing stopped: no more of the screen leaves)."""
        with self._changed:
            kept = [item for item in self._queue if not item[0]]
            self._queue.clear()
            self._queue.extend(kept)

    def finish(self) -> None:
        """Write what is queued, then close the socket with the Close handshake; take nothing more."""
        with self._changed:
            self._accepting = False
            self._finishing = True
            self._changed.notify()

    def stop(self) -> None:
        """Forget what is queued and end the thread (the socket is gone)."""
        with self._changed:
            self._accepting = False
            self._finishing = False
            self._queue.clear()
            self._changed.notify()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the thread to end; True when it has."""
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _replace_frame(self, payload: bytes) -> bool:
        for index, (is_frame, _waiting) in enumerate(self._queue):
            if is_frame:
                self._queue[index] = (True, payload)
                return True
        return False

    def _next(self) -> str | bytes | None:
        with self._changed:
            while not self._queue and self._accepting:
                self._changed.wait()
            return self._queue.popleft()[1] if self._queue else None

    def _run(self) -> None:
        try:
            self._write_all()
        finally:
            if self._watchdog is not None:
                self._watchdog.end()

    def _write_all(self) -> None:
        while (payload := self._next()) is not None:
            try:
                self._send(payload)
            except (ConnectionClosed, OSError) as error:
                log.info("the session channel could not send: %s", error)
                self.stop()
                return
        with self._changed:
            finishing = self._finishing
        if finishing:
            self._connection.close()  # sends Close and waits up to its close timeout for the server's

    def _send(self, payload: str | bytes) -> None:
        if self._watchdog is None:
            self._connection.send(payload)
            return
        with self._watchdog.guarding():
            self._connection.send(payload)
