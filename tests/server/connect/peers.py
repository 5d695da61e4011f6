"""Real WebSocket clients for Connect tests: the customer's agent and experts' browsers."""

import io
import json
import os
import socket
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
from PIL import Image
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from server.logins import COOKIE
from sosqueue.connect import INSTANCE_HEADER, new_instance
from tests.support.dashboard import DashboardClient
from tests.support.tenants import Tenant, bearer, file_request

OWN = "<the login's own CSRF token>"
CUSTOMER_NAME = "Ada Lovelace"
WAIT = 10  # seconds a message may take; they arrive in milliseconds unless something is wrong
FRAME_LIMIT = 2 * 1024 * 1024  # the server's connect_max_frame_bytes
MONITOR = [{"x": 0, "y": 0, "width": 1280, "height": 800}]


def jpeg(noise: int = 0) -> bytes:
    """A real JPEG picture, followed by ``noise`` random bytes so no two frames are alike."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 40), (200, 30, 60)).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue() + os.urandom(noise)


def receive(socket: ClientConnection) -> dict:
    """The next message, which must be a JSON text message."""
    message = socket.recv(timeout=WAIT)
    assert isinstance(message, str), f"expected a JSON message, got a binary one of {len(message)} bytes"
    return json.loads(message)


def receive_frame(socket: ClientConnection) -> bytes:
    message = socket.recv(timeout=WAIT)
    assert isinstance(message, bytes), f"expected a frame, got {message}"
    return message


def close_code(socket: ClientConnection) -> int:
    """The code the server closed the socket with (after any messages still unread)."""
    try:
        message = socket.recv(timeout=WAIT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else 1006
    raise AssertionError(f"expected the server to close the socket, got {message!r}")


def send(socket: ClientConnection, message: dict) -> None:
    socket.send(json.dumps(message))


@dataclass(frozen=True)
class Expert:
    """A supporter signed in to the dashboard, and how the customer sees them."""

    client: DashboardClient
    user_id: str
    name: str

    @property
    def shown(self) -> dict:
        return {"id": self.user_id, "name": self.name}


@dataclass(frozen=True)
class Filed:
    code: str  # s12-345-678
    customer_token: str


class Sockets:
    """Opens sockets to one server for one test, and closes them all after it."""

    def __init__(self, base_url: str, tenant: Tenant):
        self.base_url = base_url
        self.ws_url = "ws" + base_url.removeprefix("http")
        self.tenant = tenant
        self._open = ExitStack()

    def file(self, **body) -> Filed:
        """A new request, as the support module files it (``body`` overrides the defaults)."""
        body = {"end_customer": {"name": CUSTOMER_NAME, "email": "ada@example.test"}, **body}
        created = file_request(self.base_url, self.tenant.module_token, **body)
        return Filed(created["code"], created["customer_token"])

    def customer_raw(self, code: str, token: str | None, instance: str | None = None) -> ClientConnection:
        """A customer's socket with ``token`` (None: no Authorization) from the agent ``instance`` (None: a fresh
        one, "": no instance header, as an agent of an older version)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        instance = new_instance() if instance is None else instance
        if instance:
            headers[INSTANCE_HEADER] = instance
        # The agent sends JPEG, which does not deflate: it turns compression off.
        return self._keep(connect(f"{self.ws_url}/api/v1/service-requests/{code}/session",
                                  additional_headers=headers, compression=None, open_timeout=WAIT))

    def expert_raw(self, code: str, expert: Expert | None, *, csrf: str | None = OWN,
                   origin: str | None = None, headers: dict | None = None, max_queue: int = 16,
                   receive_buffer: int | None = None, mode: str | None = None,
                   query: str = "") -> ClientConnection:
        """An expert's socket: the ``expert``'s login cookie, this server's Origin unless ``origin`` says otherwise
        ("": none), and a first message ``auth`` with the login's CSRF token unless ``csrf`` says otherwise
        (None: no first message; the test sends its own).

        ``max_queue``: how many received messages the client buffers before it stops reading the socket.
        ``receive_buffer``: the socket's kernel receive buffer in bytes, fixed (Linux otherwise grows it,
        up to ``net.ipv4.tcp_rmem``'s maximum, 32 MiB on some machines: a stalled browser then holds a lot).
        ``mode``: the socket's ``?mode=`` (None: none, which joins the session); ``query``: more of the URL's
        query, as it is."""
        sent = dict(headers or {})
        if origin != "":
            sent["Origin"] = origin or self.base_url
        if expert is not None:
            sent["Cookie"] = f"{COOKIE}={expert.client.http.cookies[COOKIE]}"
        if csrf is OWN:
            csrf = expert.client.csrf_token if expert is not None else None
        query = "&".join(part for part in (f"mode={mode}" if mode is not None else "", query) if part)
        query = f"?{query}" if query else ""
        connection = connect(f"{self.ws_url}/requests/{code}/session/ws{query}", additional_headers=sent,
                             open_timeout=WAIT, max_size=FRAME_LIMIT + 1024, max_queue=max_queue)
        if receive_buffer is not None:
            connection.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self._keep(connection)
        if csrf is not None:
            try:
                send(connection, {"type": "auth", "csrf": csrf})
            except ConnectionClosed:
                pass  # refused before it was said (no login, another site): close_code tells the code
        return connection

    def customer(self, filed: Filed, instance: str | None = None) -> ClientConnection:
        """The customer's agent (its ``instance``, as in :meth:`customer_raw`), connected: its hello is read."""
        socket = self.customer_raw(filed.code, filed.customer_token, instance)
        assert receive(socket)["type"] == "hello"
        return socket

    def expert(self, filed: Filed, expert: Expert, **options) -> ClientConnection:
        """An expert's browser, connected: its hello is read (``options`` go to ``expert_raw``)."""
        socket = self.expert_raw(filed.code, expert, **options)
        assert receive(socket)["type"] == "hello"
        return socket

    def chatting(self, filed: Filed, expert: Expert, **options) -> ClientConnection:
        """A request page's chat-only socket, connected: its hello is read."""
        socket = self.expert_raw(filed.code, expert, mode="chat", **options)
        assert receive(socket)["type"] == "hello"
        return socket

    def sharing(self, filed: Filed, *viewers: Expert,
                instance: str | None = None) -> tuple[ClientConnection, list[ClientConnection]]:
        """A customer (of the agent ``instance``) who allowed viewing, and experts who see the screen (all
        messages so far read)."""
        customer = self.customer(filed, instance)
        experts = []
        for viewer in viewers:
            experts.append(self.expert(filed, viewer))
            assert receive(customer)["type"] == "expert_joined"
        send(experts[0], {"type": "view_request"})
        assert receive(customer)["type"] == "view_request"
        send(customer, {"type": "consent", "allowed": True, "scopes": ["view"]})
        for expert in experts:
            assert receive(expert) == {"type": "consent", "allowed": True, "scopes": ["view"]}
        return customer, experts

    def controlling(self, filed: Filed, *viewers: Expert, monitors: list[dict] | None = None,
                    secure_attention: bool = False) -> tuple[ClientConnection, list[ClientConnection]]:
        """As :meth:`sharing`, and the first expert is in control by the customer's consent (all messages read)."""
        customer, experts = self.sharing(filed, *viewers)
        send(experts[0], {"type": "control_request"})
        assert receive(customer) == {"type": "control_request", "expert": viewers[0].shown,
                                     "company": self.tenant.name}
        monitors = MONITOR if monitors is None else monitors
        send(customer, {"type": "consent", "allowed": True, "scopes": ["control", "view"], "monitors": monitors,
                        "secure_attention": secure_attention})
        for expert in experts:
            assert receive(expert) == {"type": "consent", "allowed": True, "scopes": ["control", "view"],
                                       "expert": viewers[0].shown, "monitors": monitors,
                                       "secure_attention": secure_attention}
        return customer, experts

    def close_all(self) -> None:
        self._open.close()

    def _keep(self, opening) -> ClientConnection:
        return self._open.enter_context(opening)


class Api:
    """The queue's REST API as the company's admin sees it."""

    def __init__(self, base_url: str, tenant: Tenant):
        self.http = httpx.Client(base_url=base_url, headers=bearer(tenant.admin_token), timeout=WAIT)

    def status(self, code: str) -> str:
        return self.http.get(f"/api/v1/service-requests/{code}").json()["status"]

    def history(self, code: str) -> list[tuple]:
        """(type, actor, data) of each event after the request's creation and first assignment."""
        events = self.http.get(f"/api/v1/service-requests/{code}/history").json()
        assert [e["type"] for e in events[:2]] == ["created", "assigned"]
        return [(e["type"], _actor(e["actor"]), e["data"]) for e in events[2:]]

    def close(self, code: str) -> None:
        response = self.http.post(f"/api/v1/service-requests/{code}/close")
        assert response.status_code == 200, response.text


def _actor(actor: dict | None) -> str | None:
    if actor is None:
        return None
    return actor["type"] if actor["id"] is None else f"{actor['type']}:{actor['id']}"
