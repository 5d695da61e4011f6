"""Real parts for the Connect tests: a loopback WebSocket relay, a painted X screen, a counted capture.

:class:`LocalRelay` plays the queue's side of one customer session with ``websockets``' own
server: it checks the customer token, says hello, records every message and frame, acks
frames like an expert's browser does, and can send, drop or refuse on the test's command.
:class:`StallingProxy` sits between the agent and it and can stop carrying the agent's bytes,
as a network does that died in the middle of a write.
"""

import io
import itertools
import json
import os
import re
import select
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import tkinter as tk
from pathlib import Path

from PIL import Image
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from agent.connect.capture import Capture
from sosqueue.connect import INSTANCE_HEADER
from tests.support.polling import eventually

CODE = "s12-345-678"
TOKEN = "sqc_localrelaytoken"
SESSION_PATH = f"/api/v1/service-requests/{CODE}/session"


class LocalRelay:
    """A WebSocket server on 127.0.0.1 standing in for the queue's session endpoint.

    :param auto_ack: answer every frame with ``{"type": "ack"}`` (an expert drew it).
    """

    def __init__(self, *, auto_ack: bool = True, token: str = TOKEN, tls: ssl.SSLContext | None = None):
        self.auto_ack = auto_ack
        self.token = token
        self.messages: list[dict] = []  # JSON messages from the customer, in order
        self.frames: list[bytes] = []  # binary messages from the customer, in order
        self.events: list[object] = []  # both, in the order they arrived
        self.authorizations: list[str | None] = []
        self.instances: list[str | None] = []  # each socket's agent instance header
        self.paths: list[str] = []
        self.connections = 0  # accepted customer sockets so far
        self.refuse_with: int | None = None  # close every new socket with this code
        self._current: ServerConnection | None = None
        self._lock = threading.Lock()
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None, ssl=tls)
        self.port = self._server.socket.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-relay", daemon=True)

    def __enter__(self) -> "LocalRelay":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._thread.join(10)

    # -- what the test does ------------------------------------------------------------------

    def send(self, message: dict) -> None:
        """Send ``message`` to the connected customer (waits for one to be connected)."""
        connection = eventually(lambda: self._current, what="a connected customer")
        connection.send(json.dumps(message))

    def drop(self) -> None:
        """End the current socket as a restarting server does (1012), without a farewell message."""
        connection = eventually(lambda: self._current, what="a connected customer")
        connection.close(1012, "service restart")

    def close(self, code: int, reason: str = "") -> None:
        connection = eventually(lambda: self._current, what="a connected customer")
        connection.close(code, reason)

    @property
    def connected(self) -> bool:
        return self._current is not None

    def of_type(self, kind: str) -> list[dict]:
        return [message for message in self.messages if message.get("type") == kind]

    # -- the server's side -------------------------------------------------------------------

    def _handle(self, connection: ServerConnection) -> None:
        self.paths.append(connection.request.path)
        self.authorizations.append(connection.request.headers.get("Authorization"))
        self.instances.append(connection.request.headers.get(INSTANCE_HEADER))
        if self.refuse_with is not None:
            connection.close(self.refuse_with, "refused")
            return
        if connection.request.headers.get("Authorization") != f"Bearer {self.token}":
            connection.close(4401, "not signed in")
            return
        with self._lock:
            self.connections += 1
            self._current = connection
        connection.send(json.dumps({"type": "hello", "role": "customer", "code": CODE, "experts": []}))
        try:
            for message in connection:
                self._received(connection, message)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if self._current is connection:
                    self._current = None

    def _received(self, connection: ServerConnection, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.frames.append(message)
            self.events.append(message)
            if self.auto_ack:
                connection.send(json.dumps({"type": "ack"}))
            return
        data = json.loads(message)
        self.messages.append(data)
        self.events.append(data)


class ConnectProxy:
    """An HTTP proxy on 127.0.0.1 that tunnels ``CONNECT host:port`` requests, as company proxies do."""

    def __init__(self):
        self.requests: list[str] = []  # the request lines it was sent
        proxy = self

        class Tunnel(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._tunnel(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Tunnel)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "ConnectProxy":
        threading.Thread(target=self._server.serve_forever, name="connect-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        self.requests.append(line)
        method, target, _version = line.split(" ")
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _pipe(client, upstream)


class _LinkProxy:
    """A TCP relay on 127.0.0.1 in front of ``target_port``: each accepted link is (agent's socket,
    upstream socket, a flag of the subclass's), carried by ``_carry_agent`` and ``_carry_back``."""

    def __init__(self, target_port: int, listener: socket.socket):
        self._target = ("127.0.0.1", target_port)
        self._listener = listener
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._links: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        self._lock = threading.Lock()

    def __enter__(self):
        threading.Thread(target=self._accept, name=type(self).__name__, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._listener.close()
        with self._lock:
            links = list(self._links)
        for agent, upstream, _flag in links:
            _close(agent)
            _close(upstream)

    def _new_flag(self) -> threading.Event:
        return threading.Event()

    def _accept(self) -> None:
        while True:
            try:
                agent, _address = self._listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(self._target, timeout=10)
            upstream.settimeout(None)
            flag = self._new_flag()
            with self._lock:
                self._links.append((agent, upstream, flag))
            threading.Thread(target=self._carry_agent, args=(agent, upstream, flag), daemon=True).start()
            threading.Thread(target=self._carry_back, args=(upstream, agent, flag), daemon=True).start()


class StallingProxy(_LinkProxy):
    """A TCP relay on 127.0.0.1 in front of a :class:`LocalRelay` that can stop reading what the agent sends.

    Its sockets take little into their receive buffer, so after :meth:`stall` the agent's
    writes soon block as they do when the link is gone; the relay's messages keep flowing to
    the agent. :meth:`resume` carries the agent's bytes again; :meth:`cut` resets the stalled
    sockets. Sockets opened after a stall flow normally.
    """

    RECEIVE_BUFFER = 16 * 1024

    def __init__(self, target_port: int):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.RECEIVE_BUFFER)  # accepted ones inherit it
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        super().__init__(target_port, listener)

    def __exit__(self, *exc) -> None:
        self.resume()
        super().__exit__(*exc)

    def stall(self) -> None:
        """Stop reading from the agent's open sockets."""
        with self._lock:
            for _agent, _upstream, flowing in self._links:
                flowing.clear()

    def resume(self) -> None:
        with self._lock:
            for _agent, _upstream, flowing in self._links:
                flowing.set()

    def cut(self) -> None:
        """Reset the stalled sockets (closing with unread data sends RST): a blocked write fails."""
        with self._lock:
            stalled = [(agent, upstream) for agent, upstream, flowing in self._links if not flowing.is_set()]
        for agent, upstream in stalled:
            _close(agent)
            _close(upstream)

    def _new_flag(self) -> threading.Event:
        flowing = threading.Event()
        flowing.set()
        return flowing

    @staticmethod
    def _carry_agent(agent: socket.socket, upstream: socket.socket, flowing: threading.Event) -> None:
        try:
            while True:
                flowing.wait()
                data = agent.recv(4096)
                if not data:
                    break
                upstream.sendall(data)
        except OSError:
            pass
        _close(upstream)

    @staticmethod
    def _carry_back(upstream: socket.socket, agent: socket.socket, _flowing: threading.Event) -> None:
        try:
            while data := upstream.recv(65536):
                agent.sendall(data)
            agent.shutdown(socket.SHUT_WR)  # a half close: a stalled write stays stalled
        except OSError:
            pass


class VanishingProxy(_LinkProxy):
    """A TCP relay on 127.0.0.1 in front of a server whose links can vanish as a dead network does.

    :meth:`vanish` resets the agent's side of the open links and leaves the server's side open and
    silent: what the server sends there is kept (:attr:`after_vanishing`), nothing goes back, so the
    server goes on thinking the agent is there. Links opened later flow normally.
    """

    def __init__(self, target_port: int):
        super().__init__(target_port, socket.create_server(("127.0.0.1", 0)))
        self.after_vanishing = bytearray()  # what the server sent on vanished links

    def vanish(self) -> None:
        """Reset the agent's side of every open link (it sees the connection drop at once); the server sees nothing."""
        with self._lock:
            links = [link for link in self._links if not link[2].is_set()]
        for agent, _upstream, vanished in links:
            vanished.set()
            agent.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
            _close(agent)

    def close_codes_after_vanishing(self) -> list[int]:
        """The codes of the Close frames the server sent on vanished links (its frames are not masked)."""
        return [int.from_bytes(match.group(1), "big")
                for match in re.finditer(rb"\x88[\x02-\x7d](..)", bytes(self.after_vanishing), re.DOTALL)]

    @staticmethod
    def _carry_agent(agent: socket.socket, upstream: socket.socket, vanished: threading.Event) -> None:
        try:
            while data := agent.recv(65536):
                upstream.sendall(data)
        except OSError:
            pass
        if not vanished.is_set():
            _close(upstream)

    def _carry_back(self, upstream: socket.socket, agent: socket.socket, vanished: threading.Event) -> None:
        try:
            while data := upstream.recv(65536):
                if not vanished.is_set():
                    try:
                        agent.sendall(data)
                        continue
                    except OSError:
                        if not vanished.is_set():
                            break
                with self._lock:
                    self.after_vanishing += data
        except OSError:
            pass
        if not vanished.is_set():
            _close(agent)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


_WEBSOCKETS_WRITE = str(Path("websockets") / "sync" / "connection.py")


def writing_thread() -> int | None:
    """The id of a thread of this process that is inside a websockets socket write now, if any."""
    for ident, frame in sys._current_frames().items():
        if frame.f_code.co_name == "send_data" and frame.f_code.co_filename.endswith(_WEBSOCKETS_WRITE):
            return ident
    return None


class BlockedWrite:
    """Tells when one thread has stayed inside a socket write for :data:`SAMPLES` looks in a row."""

    SAMPLES = 15
    PAUSE = 0.05

    def __init__(self):
        self._thread: int | None = None
        self._seen = 0

    def __call__(self) -> bool:
        thread = writing_thread()
        self._seen = self._seen + 1 if thread is not None and thread == self._thread else int(thread is not None)
        self._thread = thread
        time.sleep(self.PAUSE)
        return self._seen >= self.SAMPLES


class Watchdog:
    """Runs ``rescue`` if the block it guards is still running after ``patience`` seconds, and says so.

    A hang then ends as a failed assertion on :attr:`fired` instead of a test that never returns.
    """

    def __init__(self, rescue, patience: float = 60.0):
        self._rescue = rescue
        self._patience = patience
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self.fired = False

    def __enter__(self) -> "Watchdog":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        if not self._done.wait(self._patience):
            self.fired = True
            self._rescue()


def noise_pictures(count: int, size: tuple[int, int]) -> list[Image.Image]:
    """Pictures of random colours: every one makes a frame of about half a megabyte."""
    width, height = size
    return [Image.frombytes("RGB", size, os.urandom(width * height * 3)) for _ in range(count)]


def flood_until_a_write_blocks(root: tk.Tk, painter: "Painter", pictures: list[Image.Image]) -> None:
    """Keep the screen changing (big frames) until a socket write has stayed blocked (the link is full)."""
    from tests.agent.ui.support import pump

    photos = itertools.cycle([painter.photo(picture) for picture in pictures])
    blocked = BlockedWrite()

    def changed_and_blocked() -> bool:
        painter.show_photo(next(photos))
        return blocked()

    pump(root, changed_and_blocked, what="a socket write to block on the stalled link")


def _pipe(first: socket.socket, second: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [first, second]
    while True:
        ready, _, _ = select.select(sockets, [], [], 30)
        if not ready:
            return
        for source in ready:
            data = source.recv(65536)
            if not data:
                return
            (second if source is first else first).sendall(data)


class CaptureCounter:
    """Opens this system's real screen capture and counts how often it was opened and grabbed."""

    def __init__(self):
        self.opened = 0
        self.grabs = 0

    def open(self) -> Capture:
        """What a session calls once sharing is allowed."""
        from agent.connect.capture import create_capture

        self.opened += 1
        return _Counted(create_capture(), self)


class _Counted(Capture):
    def __init__(self, real: Capture, counter: CaptureCounter):
        super().__init__()
        self._real = real
        self._counter = counter

    def _grab(self) -> Image.Image:
        self._counter.grabs += 1
        return self._real.grab()

    def _close(self) -> None:
        self._real.close()


class Painter:
    """A borderless Tk window covering the whole X screen, showing a colour or a picture."""

    def __init__(self, root: tk.Tk):
        self.root = root
        self.window = tk.Toplevel(root, borderwidth=0, highlightthickness=0)
        self.window.overrideredirect(True)
        self.width, self.height = root.winfo_screenwidth(), root.winfo_screenheight()
        self.window.geometry(f"{self.width}x{self.height}+0+0")
        self.label = tk.Label(self.window, borderwidth=0, highlightthickness=0, background="#000000")
        self.label.place(x=0, y=0, width=self.width, height=self.height)
        self._photo: tk.PhotoImage | None = None
        self.window.lift()  # below every window made after it (dialogs, the sharing bar)

    def fill(self, colour: str) -> None:
        """Show one colour everywhere, and wait until X has drawn it."""
        self._photo = None
        self.label.configure(image="", background=colour)
        self._settle()

    def show(self, picture: Image.Image) -> None:
        """Show ``picture`` (the screen's size) pixel for pixel."""
        self.show_photo(self.photo(picture))

    def photo(self, picture: Image.Image) -> tk.PhotoImage:
        """``picture`` ready to show (making it once is quicker when pictures take turns)."""
        buffer = io.BytesIO()
        picture.save(buffer, "PNG")
        return tk.PhotoImage(master=self.root, data=buffer.getvalue())

    def show_photo(self, photo: tk.PhotoImage) -> None:
        self._photo = photo
        self.label.configure(image=photo)
        self._settle()

    def destroy(self) -> None:
        self.window.destroy()

    def _settle(self) -> None:
        self.root.update()
        self.root.update_idletasks()
        self.root.tk.call("update")  # and once more: the X server has drawn what Tk sent


def decode(frame: bytes) -> Image.Image:
    """A frame as the browser sees it: the decoded JPEG, in RGB."""
    with Image.open(io.BytesIO(frame)) as image:
        assert image.format == "JPEG"
        return image.convert("RGB")


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    """The mean absolute difference per channel and pixel (0–255) of two pictures of one size."""
    assert first.size == second.size, (first.size, second.size)
    from PIL import ImageChops, ImageStat

    return sum(ImageStat.Stat(ImageChops.difference(first, second)).mean) / 3
