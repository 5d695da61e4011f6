"""The agent as the customer runs it, with an expert on the queue: consent, sharing, chat, Stop sharing.

A real agent process under Xvfb, the real queue server, and an expert's WebSocket signed in
to the dashboard the way a browser is. What the agent shows comes from its state hooks
(``SOSQUEUE_AGENT_TEST_HOOKS``, key ``session``).
"""

import io
import json
import re
import subprocess

import pytest
from PIL import Image
from websockets.sync.client import ClientConnection, connect

from server.logins import COOKIE
from tests.agent.ui.support import agent, display, needs_x_tools  # noqa: F401  (fixtures)
from tests.support.dashboard import PASSWORD, logged_in
from tests.support.modules import write_module_file
from tests.support.queue_api import CODE_PATTERN
from tests.support.tenants import make_tenant

pytestmark = needs_x_tools

WAIT = 30


@pytest.fixture
def company(queue_server):
    """A company whose supporter can sign in to the dashboard."""
    return make_tenant(queue_server.database_url, password=PASSWORD)


@pytest.fixture
def expert_login(queue_server, company):
    client = logged_in(queue_server.url, company.supporter_email)
    yield client
    client.close()


def expert_socket(base_url: str, code: str, client) -> ClientConnection:
    """The expert's browser side: login cookie, our own Origin, then the CSRF token as its first message."""
    socket = connect(f"ws{base_url.removeprefix('http')}/requests/{code}/session/ws",
                     additional_headers={"Origin": base_url, "Cookie": f"{COOKIE}={client.http.cookies[COOKIE]}"},
                     open_timeout=WAIT)
    socket.send(json.dumps({"type": "auth", "csrf": client.csrf_token}))
    return socket


def next_message(socket: ClientConnection, kind: str) -> dict:
    """The next JSON message of type ``kind`` (frames and other messages before it are skipped)."""
    while True:
        message = socket.recv(timeout=WAIT)
        if isinstance(message, str) and json.loads(message)["type"] == kind:
            return json.loads(message)


def next_frame(socket: ClientConnection) -> bytes:
    while True:
        message = socket.recv(timeout=WAIT)
        if isinstance(message, bytes):
            return message


def test_an_expert_asks_the_customer_allows_and_sees_the_screen_until_stop_sharing(
        agent, queue_server, company, expert_login, tmp_path):
    """view_request → consent dialog → Tab, Return (Allow) → frames at the expert → chat → Stop sharing."""
    module = write_module_file(tmp_path / "module.bin", server_url=queue_server.url, module_id=company.module_id,
                               module_token=company.module_token,
                               fields={"name": "hidden", "email": "hidden", "description": "required"})
    process = agent(module)
    process.start("--sos")
    process.wait_for(lambda state: state["view"] == "form" and state["visible"], what="the form")
    process.type("Please look at my screen")
    process.keys("Return")
    state = process.wait_for(lambda state: re.fullmatch(CODE_PATTERN, state.get("code", ""))
                             and state["session"]["channel"] == "connected", what="the connected session")
    assert state["session"] == {"channel": "connected", "consent": "none", "consent_buttons": None, "sharing": False,
                                "frames_sent": 0, "control": "none", "in_control": "", "experts": [], "chat": [],
                                "sharing_bar": "", "stop_sharing_at": None, "take_back_at": None}
    with expert_socket(queue_server.url, state["code"], expert_login) as expert:
        assert next_message(expert, "hello")["customer_connected"] is True
        expert.send(json.dumps({"type": "view_request"}))
        shown = process.wait_for(lambda state: state["session"]["consent_buttons"], what="the consent dialog")
        assert shown["session"]["consent"] == "shown"
        assert shown["session"]["consent_buttons"]["allow"][0] > shown["session"]["consent_buttons"]["deny"][0]
        process.keys("Tab", "Return")  # Deny has the focus; Tab moves to Allow
        assert next_message(expert, "consent") == {"type": "consent", "allowed": True, "scopes": ["view"]}
        with Image.open(io.BytesIO(next_frame(expert))) as picture:
            assert (picture.format, picture.size) == ("JPEG", (1280, 800))
        expert.send(json.dumps({"type": "ack"}))
        shared = process.wait_for(lambda state: state["session"]["sharing"] and state["session"]["stop_sharing_at"]
                                  and state["session"]["frames_sent"], what="the sharing bar and the count")["session"]
        assert re.fullmatch(r"\d+x\d+\+\d+\+\d+", shared["sharing_bar"])
        expert.send(json.dumps({"type": "chat", "text": "I can see it now"}))
        process.wait_for(lambda state: any(message["text"] == "I can see it now" and message["from"] == "expert"
                                           for message in state["session"]["chat"]), what="the chat in the pane")
        x, y = shared["stop_sharing_at"]
        subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], env=process.env, check=True,
                       timeout=WAIT)
        assert next_message(expert, "view_stopped") == {"type": "view_stopped", "reason": "customer_stopped"}
        state = process.wait_for(lambda state: not state["session"]["sharing"], what="sharing to stop")
        assert state["session"]["sharing_bar"] == "" and state["session"]["consent"] == "allowed"
