"""The customer's session end to end on this side: consent, sharing bar, stop, chat, drops.

A real Tk on a real X screen, the real capture, the real channel, and a loopback WebSocket
server in the queue's place. Clicks and keys come from xdotool.
"""

import itertools
import os
import re
import subprocess
import time
from tkinter import ttk

import pytest

from agent.client import Ticket
from agent.connect.session import CustomerSession
from agent.ui import UiQueue, theme
from agent.ui.chat import ChatPane
from tests.agent.connect.support import CODE, TOKEN
from tests.agent.ui.support import needs_x_tools, pump
from tests.support.modules import module_config

pytestmark = needs_x_tools

VIEW_REQUEST = {"type": "view_request", "expert": {"id": "u1", "name": "Alex"}, "company": "Acme IT"}
QUIET_POLLS = 10


@pytest.fixture
def session(root, relay, captures):
    """A customer session for request s12-345-678 at the loopback relay, with a chat pane on screen."""
    config = module_config(server_url=relay.url, module_id="m-connect", module_token="t" * 24,
                           product="Acme Help", company="Acme Corp", primary="#7A1FA2")
    palette = theme.Palette.from_brand(config.brand)
    fonts = theme.make_fonts(root)
    theme.apply_style(root, palette, fonts)
    frame = ttk.Frame(root, padding=12)
    frame.pack()
    chat = ChatPane(frame, palette, fonts)
    chat.pack()
    ui = UiQueue(root)
    ui.start()
    made = CustomerSession(root, ui, config, Ticket(CODE, TOKEN, "pending"), chat=chat, open_capture=captures.open,
                           delays=lambda: itertools.repeat(0.05), poll_seconds=0.05)
    made.fonts = fonts  # Tk forgets fonts nobody references
    made.start()
    pump(root, lambda: made.channel.connected, what="the session channel")
    yield made
    ui.stop()
    made.close(wait=5)


def xdotool(root, *args: str) -> None:
    subprocess.run(["xdotool", *args], env={"DISPLAY": os.environ["DISPLAY"], "PATH": "/usr/bin:/bin"},
                   check=True, timeout=30)
    root.update()


def click(root, widget) -> None:
    """A real mouse click in the middle of ``widget``."""
    root.update()
    x = widget.winfo_rootx() + widget.winfo_width() // 2
    y = widget.winfo_rooty() + widget.winfo_height() // 2
    xdotool(root, "mousemove", str(x), str(y), "click", "1")


def asked(session, relay) -> None:
    relay.send(VIEW_REQUEST)
    pump(session.root, lambda: session.dialog and session.dialog.open, what="the consent dialog")
    session.root.update()


def sharing(session, relay, painter) -> None:
    """The expert asked, the customer clicked Allow, the first frame arrived."""
    asked(session, relay)
    click(session.root, session.dialog.allow_button)
    pump(session.root, lambda: relay.frames, what="the first frame")


def grabs_stay(session, captures, painter) -> int:
    """Change the screen for a while; the number of grabs must not move. Returns it."""
    before = captures.grabs
    for colour in ("#FFFFFF", "#000000", "#E5262A"):
        painter.fill(colour)
        time.sleep(0.05 * 3)  # three poll periods, were the capture still running
    assert captures.grabs == before
    return before


def test_nothing_is_captured_or_sent_before_allow(session, relay, captures, painter):
    """The question is on screen: no capture opened, no grab, no frame; Allow: consent first, then frames."""
    painter.fill("#1E7F3C")
    asked(session, relay)
    assert session.consent == "shown"
    assert session.dialog.question == "Alex from Acme IT wants to see your screen"
    painter.fill("#0B5FFF")
    assert (captures.opened, captures.grabs, relay.frames) == (0, 0, [])
    click(session.root, session.dialog.allow_button)
    pump(session.root, lambda: relay.frames, what="the first frame")
    assert relay.events[0] == {"type": "consent", "allowed": True, "scopes": ["view"]}
    assert isinstance(relay.events[1], bytes) and relay.events[1][:2] == b"\xff\xd8"
    assert captures.opened == 1
    assert session.consent == "allowed" and session.sharing
    assert session.indicator is not None
    assert session.snapshot()["sharing"] is True


def test_deny_sends_the_refusal_and_captures_nothing(session, relay, captures, painter):
    """Escape on the question (Deny has the focus): consent false goes out, the capture is never opened."""
    asked(session, relay)
    xdotool(session.root, "key", "Escape")
    pump(session.root, lambda: relay.messages, what="the answer")
    assert relay.messages == [{"type": "consent", "allowed": False, "scopes": ["view"]}]
    assert session.consent == "denied"
    assert not session.dialog.open
    painter.fill("#E5262A")
    assert (captures.opened, captures.grabs, relay.frames) == (0, 0, [])
    assert session.indicator is None
    assert "You did not allow Alex to see your screen." in [message["text"] for message in session.chat.messages]


def test_view_stop_from_the_server_stops_the_capture_at_once(session, relay, captures, painter):
    """view_stop: the capture stops in the channel's thread; no grab and no frame follow it."""
    sharing(session, relay, painter)
    relay.send({"type": "view_stop", "reason": "expert_ended"})
    pump(session.root, lambda: not session.sharing, what="sharing to stop")
    frames = len(relay.frames)
    grabs_stay(session, captures, painter)
    assert session.send_chat("after the stop")  # goes after anything sent before it
    pump(session.root, lambda: relay.of_type("chat"), what="the marker message")
    assert len(relay.frames) == frames
    pump(session.root, lambda: session.indicator is None, what="the sharing bar to go")
    assert "Your supporter stopped viewing your screen." in [message["text"] for message in session.chat.messages]


def test_the_sharing_bars_stop_button_stops_capture_and_sends_view_stop(session, relay, captures, painter):
    """A real click on Stop sharing: capture ends, view_stop goes out, and no frame after it."""
    sharing(session, relay, painter)
    bar = pump(session.root, lambda: (snapshot := session.snapshot())["stop_sharing_at"] and snapshot,
               what="the sharing bar on screen")
    assert re.fullmatch(r"\d+x\d+\+\d+\+8", bar["sharing_bar"])
    x, y = bar["stop_sharing_at"]
    xdotool(session.root, "mousemove", str(x), str(y), "click", "1")
    pump(session.root, lambda: relay.of_type("view_stop"), what="view_stop at the server")
    assert not session.sharing
    assert session.indicator is None
    grabs_stay(session, captures, painter)
    stop_at = relay.events.index({"type": "view_stop"})
    assert [event for event in relay.events[stop_at:] if isinstance(event, bytes)] == []
    assert session.snapshot()["sharing_bar"] == ""


def test_a_dropped_connection_stops_sharing_and_a_new_question_is_needed(session, relay, captures, painter):
    """The socket drops while sharing: capture stops, the bar goes; after reconnecting nothing is shared."""
    sharing(session, relay, painter)
    relay.drop()
    pump(session.root, lambda: relay.connections == 2 and session.channel.connected, what="the new socket")
    pump(session.root, lambda: session.indicator is None, what="the sharing bar to go")
    assert not session.sharing
    frames = len(relay.frames)
    grabs_stay(session, captures, painter)
    assert len(relay.frames) == frames


def test_incoming_chat_shows_with_the_experts_name_as_plain_text(session, relay):
    """Markup and braces are not interpreted: the pane shows exactly what was written."""
    text = "<b>Hello</b> {name} & welcome"
    relay.send({"type": "chat", "from": "expert", "name": "Alex", "text": text, "at": "2025-01-01T10:00:00Z"})
    pump(session.root, lambda: session.chat.messages, what="the message in the pane")
    assert session.chat.messages == [{"from": "expert", "name": "Alex", "text": text}]
    assert session.chat.history.get("1.0", "end-1c") == f"Alex: {text}\n"


def test_a_typed_message_goes_out_as_chat_and_shows_in_the_pane(session, relay):
    """Type into the chat line, press Return: {"type":"chat","text":…} at the server, "You: …" in the pane."""
    root = session.root
    root.deiconify()
    root.geometry("+40+40")
    root.lift()  # above the painted screen
    pump(root, lambda: root.winfo_viewable(), what="the window")
    click(root, session.chat.entry)
    session.chat.entry.focus_force()
    root.update()
    xdotool(root, "type", "--delay", "15", "Das Programm <startet> nicht")
    xdotool(root, "key", "Return")
    pump(root, lambda: relay.of_type("chat"), what="the chat at the server")
    assert relay.of_type("chat") == [{"type": "chat", "text": "Das Programm <startet> nicht"}]
    assert session.chat.messages == [{"from": "customer", "name": "You", "text": "Das Programm <startet> nicht"}]
    assert session.chat.entry.get() == ""


def test_closing_the_session_stops_capture_first_and_closes_the_socket(session, relay, captures, painter):
    """close(): sharing stops, the bar goes, the server sees the socket closed normally."""
    sharing(session, relay, painter)
    session.close(wait=5)
    assert not session.sharing
    assert session.indicator is None
    assert session.channel.state == "closed"
    pump(session.root, lambda: not relay.connected, what="the server to see the socket closed")
    grabs_stay(session, captures, painter)
