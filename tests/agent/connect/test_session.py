"""The customer's session end to end on this side: consent, sharing bar, stop, chat, drops, stalls.

A real Tk on a real X screen, the real capture, the real channel, and a loopback WebSocket
server in the queue's place (behind a TCP proxy that can stall, for a dead network). Clicks
and keys come from xdotool.
"""

import itertools
import os
import re
import subprocess
import time
from tkinter import ttk

import pytest

from agent import tls
from agent.client import Ticket
from agent.connect.session import CustomerSession
from agent.ui import UiQueue, theme
from agent.ui.chat import ChatPane
from agent.ui.session_view import TkSessionView
from tests.agent.connect.recording_injector import RecordingInjector
from tests.agent.connect.support import (decode, CODE, TOKEN, StallingProxy, Watchdog, flood_until_a_write_blocks,
                                         noise_pictures)
from tests.agent.ui.support import needs_x_tools, pump
from tests.support.modules import module_config
from tests.support.polling import eventually

pytestmark = needs_x_tools

VIEW_REQUEST = {"type": "view_request", "expert": {"id": "u1", "name": "Alex"}, "company": "Acme IT"}
QUIET_POLLS = 10


class CountingUiQueue(UiQueue):
    """The window's real queue, counting what other threads handed to it and what it ran."""

    def __init__(self, root):
        super().__init__(root)
        self.handed = 0
        self.ran = 0

    def call(self, function, *args) -> None:
        self.handed += 1
        super().call(self._counted, function, args)

    def _counted(self, function, args) -> None:
        try:
            function(*args)
        finally:
            self.ran += 1


@pytest.fixture
def open_session(root, captures):
    """Opens a customer session for request s12-345-678 at a server URL, with a chat pane on screen."""
    made: list[tuple[CustomerSession, UiQueue]] = []

    def open_(server_url: str, **options) -> CustomerSession:
        config = module_config(server_url=server_url, module_id="m-connect", module_token="t" * 24,
                               product="Acme Help", company="Acme Corp", primary="#7A1FA2")
        palette = theme.Palette.from_brand(config.brand)
        fonts = theme.make_fonts(root)
        theme.apply_style(root, palette, fonts)
        frame = ttk.Frame(root, padding=12)
        frame.pack()
        chat = ChatPane(frame, palette, fonts)
        chat.pack()
        ui = CountingUiQueue(root)
        ui.start()
        session = CustomerSession(TkSessionView(root, config, chat), ui, config, Ticket(CODE, TOKEN, "pending"),
                                  open_capture=captures.open, delays=lambda: itertools.repeat(0.05),
                                  **{"poll_seconds": 0.05, **options})
        session.fonts = fonts  # Tk forgets fonts nobody references
        made.append((session, ui))
        session.start()
        pump(root, lambda: session.channel.connected, what="the session channel")
        return session

    yield open_
    for session, ui in made:
        ui.stop()
        session.close(wait=5)


@pytest.fixture
def session(open_session, relay):
    """A customer session at the loopback relay."""
    return open_session(relay.url)


def test_a_session_with_a_plain_http_queue_reads_no_certificate_store(open_session, relay, monkeypatch):
    """Building a TLS context costs tens of milliseconds on the window's thread: none for a ws:// queue."""
    monkeypatch.setattr(tls, "tls_context", lambda _ca: pytest.fail("a TLS context for ws://"))
    session = open_session(relay.url)
    assert relay.url.startswith("http://") and session.channel.connected


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
    pump(session.view.root, lambda: session.view.dialog and session.view.dialog.open, what="the consent dialog")
    session.view.root.update()


def sharing(session, relay, painter) -> None:
    """The expert asked, the customer clicked Allow, the first frame arrived."""
    asked(session, relay)
    click(session.view.root, session.view.dialog.allow_button)
    pump(session.view.root, lambda: relay.frames, what="the first frame")


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
    assert session.view.dialog.question == "Alex from Acme IT wants to see your screen"
    painter.fill("#0B5FFF")
    assert (captures.opened, captures.grabs, relay.frames) == (0, 0, [])
    click(session.view.root, session.view.dialog.allow_button)
    pump(session.view.root, lambda: relay.frames, what="the first frame")
    assert relay.events[0] == {"type": "consent", "allowed": True, "scopes": ["view"]}
    assert isinstance(relay.events[1], bytes) and relay.events[1][:2] == b"\xff\xd8"
    assert captures.opened == 1
    assert session.consent == "allowed" and session.sharing
    assert session.view.indicator is not None
    assert session.snapshot()["sharing"] is True


def test_deny_sends_the_refusal_and_captures_nothing(session, relay, captures, painter):
    """Escape on the question (Deny has the focus): consent false goes out, the capture is never opened."""
    asked(session, relay)
    xdotool(session.view.root, "key", "Escape")
    pump(session.view.root, lambda: relay.messages, what="the answer")
    assert relay.messages == [{"type": "consent", "allowed": False, "scopes": ["view"]}]
    assert session.consent == "denied"
    assert not session.view.dialog.open
    painter.fill("#E5262A")
    assert (captures.opened, captures.grabs, relay.frames) == (0, 0, [])
    assert session.view.indicator is None
    assert "You did not allow Alex to see your screen." in [message["text"] for message in session.view.chat.messages]


def test_view_stop_from_the_server_stops_the_capture_at_once(session, relay, captures, painter):
    """view_stop: the capture stops in the channel's thread; no grab and no frame follow it."""
    sharing(session, relay, painter)
    relay.send({"type": "view_stop", "reason": "expert_ended"})
    pump(session.view.root, lambda: not session.sharing, what="sharing to stop")
    # A frame handed to the socket just before the stop may still be on its way: the marker
    # goes after it, so the count is taken once the marker arrived.
    assert session.send_chat("after the stop")
    pump(session.view.root, lambda: relay.of_type("chat"), what="the marker message")
    frames = len(relay.frames)
    grabs_stay(session, captures, painter)
    assert len(relay.frames) == frames
    pump(session.view.root, lambda: session.view.indicator is None, what="the sharing bar to go")
    assert "Your supporter stopped viewing your screen." in [message["text"] for message in session.view.chat.messages]


def test_the_sharing_bars_stop_button_stops_capture_and_sends_view_stop(session, relay, captures, painter):
    """A real click on Stop sharing: capture ends, view_stop goes out, and no frame after it."""
    sharing(session, relay, painter)
    bar = pump(session.view.root, lambda: (snapshot := session.snapshot())["stop_sharing_at"] and snapshot,
               what="the sharing bar on screen")
    assert re.fullmatch(r"\d+x\d+\+\d+\+8", bar["sharing_bar"])
    x, y = bar["stop_sharing_at"]
    xdotool(session.view.root, "mousemove", str(x), str(y), "click", "1")
    pump(session.view.root, lambda: relay.of_type("view_stop"), what="view_stop at the server")
    assert not session.sharing
    assert session.view.indicator is None
    grabs_stay(session, captures, painter)
    stop_at = relay.events.index({"type": "view_stop"})
    assert [event for event in relay.events[stop_at:] if isinstance(event, bytes)] == []
    assert session.snapshot()["sharing_bar"] == ""


def test_a_dropped_connection_stops_sharing_and_a_new_question_is_needed(session, relay, captures, painter):
    """The socket drops while sharing: capture stops, the bar goes; after reconnecting nothing is shared."""
    sharing(session, relay, painter)
    relay.drop()
    pump(session.view.root, lambda: relay.connections == 2 and session.channel.connected, what="the new socket")
    pump(session.view.root, lambda: session.view.indicator is None, what="the sharing bar to go")
    assert not session.sharing
    frames = len(relay.frames)
    grabs_stay(session, captures, painter)
    assert len(relay.frames) == frames


def run_queued(session) -> None:
    """Let the window run everything other threads have handed to it so far."""
    handed = session.ui.handed
    pump(session.view.root, lambda: session.ui.ran >= handed, what="the window to catch up")


@pytest.mark.parametrize("withdrawal", ["expert_ended", "experts_left", "dropped"])
def test_allow_clicked_after_the_question_was_withdrawn_starts_no_capture(session, relay, captures, painter,
                                                                         withdrawal):
    """The expert ends or leaves (view_stop), or the socket drops, while the question is open, and the
    customer clicks Allow before the window has heard of it: no consent goes out, nothing is captured,
    no bar shows; the next question shares with the bar as usual."""
    painter.fill("#1E7F3C")
    asked(session, relay)
    handed = session.ui.handed
    if withdrawal == "dropped":
        relay.drop()
        eventually(lambda: relay.connections == 2 and session.channel.connected, what="the new socket")
    else:
        relay.send({"type": "view_stop", "reason": withdrawal})
    eventually(lambda: session.ui.handed > handed, what="the channel to hand the news to the window")
    session.view.dialog.allow_button.invoke()  # the window has not run the news yet: the click comes first
    run_queued(session)
    assert not session.sharing
    assert grabs_stay(session, captures, painter) == 0
    assert (captures.opened, relay.frames, relay.of_type("consent")) == (0, [], [])
    assert session.view.indicator is None
    assert not session.view.dialog.open
    assert session.consent == "none"

    asked(session, relay)
    click(session.view.root, session.view.dialog.allow_button)
    pump(session.view.root, lambda: relay.frames and session.snapshot()["sharing_bar"], what="frames and the bar")
    assert relay.of_type("consent") == [{"type": "consent", "allowed": True, "scopes": ["view"]}]
    assert session.sharing and session.consent == "allowed"


def test_a_view_stop_while_the_question_is_open_closes_it_and_nothing_is_sent(session, relay, captures, painter):
    """Every expert left (view_stop, reason experts_left): the dialog goes without an answer, nothing is captured."""
    asked(session, relay)
    relay.send({"type": "view_stop", "reason": "experts_left"})
    pump(session.view.root, lambda: not session.view.dialog.open, what="the dialog to close")
    assert session.consent == "none"
    assert grabs_stay(session, captures, painter) == 0
    assert (captures.opened, relay.frames, relay.messages) == (0, [], [])


def stalled_while_sharing(open_session, relay, proxy, painter):
    """A session sharing a changing screen through ``proxy``, whose link then stalls mid-write."""
    session = open_session(proxy.url, ack_timeout=0.05, send_timeout=600)  # the test's stall outlasts no timeout
    pictures = noise_pictures(4, (painter.width, painter.height))
    sharing(session, relay, painter)
    proxy.stall()
    flood_until_a_write_blocks(session.view.root, painter, pictures)
    return session


def test_stop_sharing_on_a_stalled_network_is_handled_and_capture_stops(open_session, relay, captures, painter):
    """The link stops carrying data in the middle of a frame: a click on Stop sharing is still handled, capture
    stops, the bar goes; once the link moves again view_stop arrives after the last frame, on the same socket."""
    with StallingProxy(relay.port) as proxy:
        session = stalled_while_sharing(open_session, relay, proxy, painter)
        x, y = session.snapshot()["stop_sharing_at"]
        with Watchdog(proxy.cut) as watchdog:  # a window that hangs is freed, and the test fails
            xdotool(session.view.root, "mousemove", str(x), str(y), "click", "1")
            pump(session.view.root, lambda: session.view.indicator is None, what="Stop sharing to be handled")
            chatted = session.send_chat("still there?")
        assert not watchdog.fired, "the window hung while the network was stalled"
        assert chatted is True
        assert not session.sharing
        grabs_stay(session, captures, painter)
        proxy.resume()
        pump(session.view.root, lambda: relay.of_type("chat"), what="the messages after the stall")
    stop_at = relay.events.index({"type": "view_stop"})
    assert relay.events[stop_at:] == [{"type": "view_stop"}, {"type": "chat", "text": "still there?"}]
    assert relay.connections == 1


def test_closing_the_session_on_a_stalled_network_returns_and_stops_capture(open_session, relay, captures, painter):
    """Quit while a frame write is stuck: close() returns (the socket is cut), capture has stopped,
    the channel is closed."""
    with StallingProxy(relay.port) as proxy:
        session = stalled_while_sharing(open_session, relay, proxy, painter)
        with Watchdog(proxy.cut) as watchdog:
            session.close(wait=5)
        assert not watchdog.fired, "closing hung while the network was stalled"
        assert session.channel.state == "closed"
        assert not session.sharing
        assert session.view.indicator is None
        grabs_stay(session, captures, painter)


def test_incoming_chat_shows_with_the_experts_name_as_plain_text(session, relay):
    """Markup and braces are not interpreted: the pane shows exactly what was written."""
    text = "<b>Hello</b> {name} & welcome"
    relay.send({"type": "chat", "from": "expert", "name": "Alex", "text": text, "at": "2025-01-01T10:00:00Z"})
    pump(session.view.root, lambda: session.view.chat.messages, what="the message in the pane")
    assert session.view.chat.messages == [{"from": "expert", "name": "Alex", "text": text}]
    assert session.view.chat.history.get("1.0", "end-1c") == f"Alex: {text}\n"


def test_a_typed_message_goes_out_as_chat_and_shows_in_the_pane(session, relay):
    """Type into the chat line, press Return: {"type":"chat","text":…} at the server, "You: …" in the pane."""
    root = session.view.root
    root.deiconify()
    root.geometry("+40+40")
    root.lift()  # above the painted screen
    pump(root, lambda: root.winfo_viewable(), what="the window")
    click(root, session.view.chat.entry)
    session.view.chat.entry.focus_force()
    root.update()
    xdotool(root, "type", "--delay", "15", "Das Programm <startet> nicht")
    xdotool(root, "key", "Return")
    pump(root, lambda: relay.of_type("chat"), what="the chat at the server")
    assert relay.of_type("chat") == [{"type": "chat", "text": "Das Programm <startet> nicht"}]
    assert session.view.chat.messages == [{"from": "customer", "name": "You", "text": "Das Programm <startet> nicht"}]
    assert session.view.chat.entry.get() == ""


def test_closing_the_session_stops_capture_first_and_closes_the_socket(session, relay, captures, painter):
    """close(): sharing stops, the bar goes, the server sees the socket closed normally."""
    sharing(session, relay, painter)
    session.close(wait=5)
    assert not session.sharing
    assert session.view.indicator is None
    assert session.channel.state == "closed"
    pump(session.view.root, lambda: not relay.connected, what="the server to see the socket closed")
    grabs_stay(session, captures, painter)


def test_a_refresh_from_the_server_brings_the_whole_screen_again(session, relay, captures, painter):
    """An expert missed a region: on refresh the next frame is the whole screen, though nothing changed."""
    painter.fill("#1E7F3C")
    sharing(session, relay, painter)
    time.sleep(0.5)  # the screen settles (the sharing bar appears): its frames go out
    session.view.root.update()
    sent = len(relay.frames)
    relay.send({"type": "refresh"})
    pump(session.view.root, lambda: len(relay.frames) > sent, what="the whole frame after refresh")
    assert relay.frames[sent][:2] == b"\xff\xd8", [frame[:4] for frame in relay.frames]
    assert decode(relay.frames[sent]).size == (1280, 800)


def test_remote_control_on_screen_the_question_then_the_bar_says_who_is_in_control(open_session, relay, painter):
    """control_request: the control question (Deny focused); a real click on Allow: the consent goes out and
    the bar names the expert; a real click on Take back control: control_stop, the screen stays shared."""
    injectors: list[RecordingInjector] = []
    session = open_session(relay.url, open_injector=lambda: injectors.append(RecordingInjector()) or injectors[-1])
    root = session.view.root
    sharing(session, relay, painter)
    relay.send({"type": "control_request", "expert": {"id": "u1", "name": "Alex"}, "company": "Acme IT"})
    pump(root, lambda: session.view.dialog and session.view.dialog.open and session.control == "shown",
         what="the control question")
    dialog = session.view.dialog
    assert dialog.question == "Alex from Acme IT wants to use your mouse and keyboard"
    pump(root, lambda: dialog.window.focus_get() is dialog.deny_button, what="the focus on Deny")
    click(root, dialog.allow_button)
    pump(root, lambda: len(relay.of_type("consent")) == 2, what="the control consent")
    assert relay.of_type("consent")[1]["scopes"] == ["control", "view"]
    at = pump(root, lambda: session.snapshot()["take_back_at"], what="Take back control on the bar")
    assert session.view.indicator.control_label.cget("text") == "Alex is in control"
    assert session.snapshot()["in_control"] == "Alex"
    xdotool(root, "mousemove", str(at[0]), str(at[1]), "click", "1")
    pump(root, lambda: relay.of_type("control_stop"), what="control_stop at the relay")
    xdotool(root, "mousemove", "0", "799")  # off the hidden part of the bar: see tests/agent/ui/test_sharing_indicator
    assert injectors[0].closed and not session.view.control_shown()
    assert session.sharing and session.view.indicator is not None
