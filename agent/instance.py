"""One agent per module and user: later starts hand their wish to the running one and exit.

The first instance takes an exclusive lock on ``<runtime dir>/<key>.lock`` (held for its whole
life; the operating system drops it if the process dies) and listens on a local endpoint:

* POSIX: a Unix domain socket ``<runtime dir>/<key>.sock`` in the user's private runtime
  directory (mode 0700), so only the same user can connect.
* Windows: a TCP socket on 127.0.0.1 with a port chosen by the system. Its port and a random
  secret are written to ``<runtime dir>\\<key>.port``, inside the user's own profile; a message
  must start with that secret, so other local users cannot drive the agent.

A message is one UTF-8 line: ``open``, ``sos``, ``tray``, ``code:s12-345-678`` or ``update``
(``--update`` installed a new agent: restart into it when idle); the running instance answers ``ok``.
"""

import hashlib
import logging
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.paths import runtime_dir

log = logging.getLogger("sosqueue.agent")

MESSAGES = ("open", "sos", "tray", "update")
MAX_MESSAGE = 200
UNIX_PATH_LIMIT = 100  # sun_path is 104 bytes on macOS, 108 on Linux
HAS_UNIX_SOCKETS = hasattr(socket, "AF_UNIX") and sys.platform != "win32"


class InstanceError(Exception):
    """Another instance holds the lock but does not answer."""


def is_valid_message(message: str) -> bool:
    return message in MESSAGES or (message.startswith("code:") and 5 < len(message) <= 40)


class SingleInstance:
    """The single-instance guard for one module (``key`` is the module id).

    :param key: what makes instances the same; one running agent per key and user.
    :param directory: where the lock and endpoint live (default :func:`agent.paths.runtime_dir`).
    """

    def __init__(self, key: str, *, directory: Path | None = None):
        self.key = hashlib.sha256(key.encode()).hexdigest()[:16]
        self.directory = directory or runtime_dir()
        self._lock_handle = None
        self._server: socket.socket | None = None
        self._bound: Path | None = None  # the socket or port file to remove on release
        self._secret = ""
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    @property
    def lock_path(self) -> Path:
        return self.directory / f"{self.key}.lock"

    @property
    def endpoint_path(self) -> Path:
        """The Unix socket (POSIX) or the port file (Windows)."""
        return self.directory / (f"{self.key}.sock" if HAS_UNIX_SOCKETS else f"{self.key}.port")

    def acquire(self) -> bool:
        """Become the running instance (True), or learn that another one runs (False)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # e.g. no /run/user/<uid> outside a desktop session
            log.info("cannot use %s (%s); using the temporary directory", self.directory, error.strerror)
            self.directory = _private_temp_dir()
        _private(self.directory)
        handle = open(self.lock_path, "a+b")
        if not _try_lock(handle):
            handle.close()
            return False
        self._lock_handle = handle
        return True

    def listen(self, on_message: Callable[[str], None]) -> None:
        """Accept messages from later starts in a daemon thread; ``on_message`` runs in that thread."""
        if self._lock_handle is None:
            raise RuntimeError("listen() needs acquire() first")
        self._server = self._bind()
        self._thread = threading.Thread(target=self._serve, args=(on_message,), name="sosqueue-instance", daemon=True)
        self._thread.start()

    def send(self, message: str, *, timeout: float = 10.0) -> None:
        """Hand ``message`` to the running instance; waits while it is still starting up.

        :raises InstanceError: when it does not answer within ``timeout`` seconds.
        """
        if not is_valid_message(message):
            raise ValueError(f"not an instance message: {message!r}")
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._send_once(message)
            except (OSError, ValueError) as error:
                if time.monotonic() > deadline:
                    raise InstanceError(f"the running support module does not answer ({error})") from None
                time.sleep(0.1)

    def release(self) -> None:
        """Stop listening and give up the lock (the next start becomes the running instance)."""
        self._closed.set()
        if self._server is not None:
            _close_quietly(self._server)
            self._server = None
        if self._bound is not None:
            self._bound.unlink(missing_ok=True)
            self._bound = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._lock_handle is not None:
            _unlock(self._lock_handle)
            self._lock_handle.close()
            self._lock_handle = None

    # -- endpoint ------------------------------------------------------------------------------

    def _bind(self) -> socket.socket:
        if HAS_UNIX_SOCKETS:
            path = self._socket_path()
            path.unlink(missing_ok=True)  # left behind by a crashed instance; we hold the lock
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(str(path))
            self._bound = path
        else:
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.bind(("127.0.0.1", 0))
            self._secret = secrets.token_hex(16)
            _write_private(self.endpoint_path, f"{server.getsockname()[1]} {self._secret}\n")
            self._bound = self.endpoint_path
        server.listen(8)
        server.settimeout(0.5)  # so release() ends the thread promptly
        return server

    def _socket_path(self) -> Path:
        path = self.endpoint_path
        if len(os.fsencode(path)) <= UNIX_PATH_LIMIT:
            return path
        return _private_temp_dir() / f"{self.key}.sock"  # a deep home directory: a short path instead

    def _serve(self, on_message: Callable[[str], None]) -> None:
        server = self._server
        while not self._closed.is_set() and server is not None:
            try:
                connection, _address = server.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            with connection:
                message = self._receive(connection)
            if message:
                try:
                    on_message(message)
                except Exception:
                    log.exception("could not handle %r from a second start", message)

    def _receive(self, connection: socket.socket) -> str | None:
        connection.settimeout(5)
        try:
            line = _read_line(connection)
            if not HAS_UNIX_SOCKETS:
                secret, _space, line = line.partition(" ")
                if not secrets.compare_digest(secret, self._secret):
                    log.warning("ignored a message with a wrong secret")
                    return None
            if not is_valid_message(line):
                log.warning("ignored an unknown message %r", line[:40])
                return None
            connection.sendall(b"ok\n")
            log.info("a second start asked for %r", line)
            return line
        except (OSError, UnicodeDecodeError) as error:
            log.info("a second start hung up: %s", error)
            return None

    def _send_once(self, message: str) -> None:
        if HAS_UNIX_SOCKETS:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: object = str(self._socket_path())
            line = message
        else:
            port, secret = self.endpoint_path.read_text().split()
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = ("127.0.0.1", int(port))
            line = f"{secret} {message}"
        with client:
            client.settimeout(5)
            client.connect(address)
            client.sendall(line.encode() + b"\n")
            if _read_line(client) != "ok":
                raise ValueError("no acknowledgement")


def _read_line(connection: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n") and len(data) <= MAX_MESSAGE:
        chunk = connection.recv(MAX_MESSAGE)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8").strip()


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


def _private(directory: Path) -> None:
    if os.name == "posix":
        try:
            os.chmod(directory, 0o700)
        except OSError as error:
            log.debug("cannot make %s private: %s", directory, error)


def _private_temp_dir() -> Path:
    """``<temp>/sosqueue-<user>``, made private; refused if someone else made it first."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    folder = Path(tempfile.gettempdir()) / f"sosqueue-{user}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if hasattr(os, "getuid") and folder.stat().st_uid != os.getuid():
        raise OSError(f"{folder} belongs to another user")
    _private(folder)
    return folder


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


if sys.platform == "win32":
    import msvcrt

    def _try_lock(handle) -> bool:
        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(handle) -> None:
        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
else:
    import fcntl

    def _try_lock(handle) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(handle) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
