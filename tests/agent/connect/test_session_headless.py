"""The customer's session without any window: consent, sharing, remote control and chat through a recording view.

The real channel talks to the loopback relay; only the screen (a picture in memory), the mouse
and keyboard (a recording injector) and the view (a recorder) stand in for what needs a display.
"""

import io
import itertools
import queue
import subprocess
import sys
import time

import pytest
from PIL import Image

from agent.client import Ticket
from agent.connect.capture import Capture
from agent.connect.input import InjectionUnavailable, Monitor, PermissionMissing
from agent.connect.input._darwin import UNTRUSTED as NOT_TRUSTED_ON_MACOS
from agent.connect.session import CustomerSession
from tests.agent.connect.recording_injector import RecordingInjector
from tests.agent.connect.support import CODE, TOKEN
from tests.support.modules import module_config
from tests.support.polling import eventually

VIEW_REQUEST = {"type": "view_request", "expert": {"id": "u1", "name": "Alex"}, "company": "Acme IT"}
CONTROL_REQUEST = {"type": "control_request", "expert": {"id": "u1", "name": "Alex"}, "company": "Acme IT"}
#: Two monitors side by side that make up the 320×200 picture of PictureCapture.
HALVES = [Monitor(0, 0, 160, 200), Monitor(160, 0, 160, 200)]
WAIT = 30.0


class RecordingView:
    """A :class:`~agent.connect.session.SessionView` that remembers what it was told to show."""

    def __init__(self):
        self.question: tuple[str, str] | None = None
        self.control_question: tuple[str, str] | None = None
        self.answer = None  # the session's on_answer while a question (of either kind) is open
        self.in_control = ""  # the expert the bar names as in control
        self.take_back = None  # the bar's on_take_back while it shows who is in control
        self.stop_sharing = None  # the bar's on_stop while the bar is shown
        self.messages: list[tuple[str, str]] = []
        self.notes: list[str] = []
        self.connected: list[bool] = []
        self.send = None

    def ask_consent(self, expert, company, on_answer) -> None:
        self.question, self.answer = (expert, company), on_answer

    def asking(self) -> bool:
        return self.answer is not None

    def withdraw_question(self) -> None:
        self.answer = None

    def click(self, allowed: bool) -> None:
        answer, self.answer = self.answer, None
        answer(allowed)

    def ask_control(self, expert, company, on_answer) -> None:
        self.control_question, self.answer = (expert, company), on_answer

    def show_control(self, expert, on_take_back) -> None:
        self.in_control, self.take_back = expert, on_take_back

    def hide_control(self) -> None:
        self.in_control, self.take_back = "", None

    def control_shown(self) -> bool:
        return self.take_back is not None

    def click_take_back(self) -> None:
        take_back = self.take_back
        self.hide_control()
        take_back()

    def show_sharing_bar(self, on_stop) -> None:
        self.stop_sharing = on_stop

    def hide_sharing_bar(self) -> None:
        self.stop_sharing = None

    def sharing_bar_shown(self) -> bool:
        return self.stop_sharing is not None

    def click_stop_sharing(self) -> None:
        stop, self.stop_sharing = self.stop_sharing, None
        stop()

    def add_message(self, name, text) -> None:
        self.messages.append((name, text))

    def add_note(self, text) -> None:
        self.notes.append(text)

    def set_connected(self, connected) -> None:
        self.connected.append(connected)

    def send_chat_with(self, send) -> None:
        self.send = send

    def snapshot(self) -> dict:
        return {"asking": self.asking(), "sharing_bar": self.sharing_bar_shown(), "control_bar": self.control_shown()}


class MainThread:
    """The view's thread, played by the test: what other threads hand over runs in :meth:`run_until`."""

    def __init__(self):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()

    def call(self, function, *args) -> None:
        self._queue.put((function, args))

    def run_until(self, condition, what: str):
        deadline = time.monotonic() + WAIT
        while not (result := condition()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            try:
                function, args = self._queue.get(timeout=0.02)
            except queue.Empty:
                continue
            function(*args)
        return result


class PictureCapture(Capture):
    """A screen in memory that changes with every grab, so every poll has something to send."""

    backend_name = "picture"

    def __init__(self):
        super().__init__()
        self._colours = itertools.cycle([(30, 127, 60), (11, 95, 255)])

    def _grab(self) -> Image.Image:
        return Image.new("RGB", (320, 200), next(self._colours))


@pytest.fixture
def headless(relay):
    """A session at the loopback relay with a recording view and no window anywhere."""
    made = []

    def open_(**options) -> tuple[CustomerSession, RecordingView, MainThread]:
        config = module_config(server_url=relay.url, module_id="m-connect", module_token="t" * 24)
        view, main = RecordingView(), MainThread()
        session = CustomerSession(view, main, config, Ticket(CODE, TOKEN, "pending"), open_capture=PictureCapture,
                                  delays=lambda: itertools.repeat(0.05), poll_seconds=0.05, **options)
        made.append(session)
        session.start()
        main.run_until(lambda: view.connected[-1:] == [True], what="the connected channel")
        return session, view, main

    yield open_
    for session in made:
        session.close(wait=5)


def asked(relay, view, main) -> None:
    relay.send(VIEW_REQUEST)
    main.run_until(view.asking, what="the consent question")


def test_the_session_module_needs_no_window_toolkit():
    """Importing the session loads neither tkinter nor the agent's Tk UI."""
    code = "import sys, agent.connect.session; print(sorted(m for m in sys.modules if m == 'tkinter' or m.startswith('agent.ui')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_allow_sends_the_consent_then_frames_and_shows_the_sharing_bar(headless, relay):
    """The question names the expert and the company; Allow: consent first, then JPEG frames, the bar, a note."""
    session, view, main = headless()
    asked(relay, view, main)
    assert view.question == ("Alex", "Acme IT") and session.consent == "shown"
    view.click(True)
    main.run_until(lambda: relay.frames, what="the first frame")
    assert relay.events[0] == {"type": "consent", "allowed": True, "scopes": ["view"]}
    assert relay.frames[0][:2] == b"\xff\xd8"
    assert session.consent == "allowed" and session.sharing and view.sharing_bar_shown()
    assert view.notes == ["You are sharing your screen."]
    assert session.snapshot()["sharing_bar"] is True


def test_deny_sends_the_refusal_and_shares_nothing(headless, relay):
    """Deny: consent false goes out, no frame, no bar, a note says what was refused."""
    session, view, main = headless()
    asked(relay, view, main)
    view.click(False)
    main.run_until(lambda: relay.messages, what="the answer")
    assert relay.messages == [{"type": "consent", "allowed": False, "scopes": ["view"]}]
    assert session.consent == "denied" and not session.sharing and not view.sharing_bar_shown()
    assert relay.frames == []
    assert view.notes == ["You did not allow Alex to see your screen."]


@pytest.mark.parametrize("reason", ["expert_ended", "experts_left"])
def test_a_withdrawn_question_is_taken_away_and_a_late_allow_shares_nothing(headless, relay, reason):
    """view_stop while the question is open: the view withdraws it; an Allow clicked before that starts nothing."""
    session, view, main = headless()
    asked(relay, view, main)
    answer = view.answer
    relay.send({"type": "view_stop", "reason": reason})
    main.run_until(lambda: not view.asking(), what="the question to be withdrawn")
    answer(True)  # the click that raced the stop
    assert session.consent == "none" and not session.sharing and not view.sharing_bar_shown()
    assert relay.of_type("consent") == [] and relay.frames == []


def test_the_expert_ending_the_view_stops_sharing_and_says_so(headless, relay):
    """view_stop (expert_ended) while sharing: capture stops, the bar goes, a note names who stopped it."""
    session, view, main = headless()
    asked(relay, view, main)
    view.click(True)
    main.run_until(lambda: relay.frames, what="the first frame")
    relay.send({"type": "view_stop", "reason": "expert_ended"})
    main.run_until(lambda: not view.sharing_bar_shown(), what="the bar to go")
    assert not session.sharing
    assert view.notes[-1] == "Your supporter stopped viewing your screen."


def test_stop_sharing_on_the_bar_stops_capture_and_tells_the_experts(headless, relay):
    """The bar's Stop sharing: sharing ends, view_stop goes out after the last frame, a note says so."""
    session, view, main = headless()
    asked(relay, view, main)
    view.click(True)
    main.run_until(lambda: relay.frames, what="the first frame")
    view.click_stop_sharing()
    main.run_until(lambda: relay.of_type("view_stop"), what="view_stop at the relay")
    assert not session.sharing and not view.sharing_bar_shown()
    stop_at = relay.events.index({"type": "view_stop"})
    assert [event for event in relay.events[stop_at:] if isinstance(event, bytes)] == []
    assert view.notes[-1] == "You stopped sharing your screen."


def test_chat_goes_both_ways_through_the_view(headless, relay):
    """The expert's message reaches the view with the name; the customer's typed text goes out as chat."""
    session, view, main = headless()
    relay.send({"type": "chat", "from": "expert", "name": "Alex", "text": "Hello"})
    main.run_until(lambda: view.messages, what="the expert's message")
    assert view.messages == [("Alex", "Hello")]
    assert view.send("Thanks") is True
    main.run_until(lambda: relay.of_type("chat"), what="the customer's message")
    assert relay.of_type("chat") == [{"type": "chat", "text": "Thanks"}]


def test_a_dropped_connection_withdraws_the_question_and_disables_chat(headless, relay):
    """The socket drops while asking: the question goes, chat is off until the channel is back."""
    session, view, main = headless()
    asked(relay, view, main)
    relay.drop()
    main.run_until(lambda: not view.asking(), what="the question to be withdrawn")
    main.run_until(lambda: view.connected[-2:] == [False, True], what="the channel to come back")
    assert session.consent == "none"


# -- remote control ---------------------------------------------------------------------------


class Injectors(list):
    """Opens recording injectors for the session, and remembers them."""

    def __init__(self, monitors=HALVES, **options):
        super().__init__()
        self.monitors = monitors
        self.options = options

    def __call__(self) -> RecordingInjector:
        self.append(RecordingInjector(self.monitors, **self.options))
        return self[-1]


def move(x: int, y: int) -> dict:
    return {"type": "input.move", "x": x, "y": y, "width": 320, "height": 200}


def shared(relay, view, main) -> None:
    """The expert asked to see the screen, the customer allowed it, the first frame arrived."""
    asked(relay, view, main)
    view.click(True)
    main.run_until(lambda: relay.frames, what="the first frame")


def control_asked(relay, view, main) -> None:
    relay.send(CONTROL_REQUEST)
    main.run_until(lambda: view.control_question and view.asking(), what="the control question")


def in_control(relay, view, main, injectors: Injectors) -> RecordingInjector:
    """Sharing, then the control question allowed, and one move carried out."""
    shared(relay, view, main)
    control_asked(relay, view, main)
    view.click(True)
    main.run_until(lambda: relay.of_type("consent")[1:], what="the control consent")
    relay.send(move(10, 20))
    eventually(lambda: ("move", 10, 20) in injectors[-1].calls, what="the move carried out")
    return injectors[-1]


def marked(relay, main, view) -> None:
    """Wait until the channel handled everything the relay sent before (a chat after it reached the view)."""
    relay.send({"type": "chat", "from": "expert", "name": "Alex", "text": "marker"})
    main.run_until(lambda: ("Alex", "marker") in view.messages, what="the marker")


def test_a_control_request_while_sharing_asks_the_customer(headless, relay):
    """The question names the expert and the company; the injector is open, nothing is carried out yet."""
    injectors = Injectors()
    session, view, main = headless(open_injector=injectors)
    shared(relay, view, main)
    control_asked(relay, view, main)
    assert view.control_question == ("Alex", "Acme IT")
    assert session.snapshot()["control"] == "shown" and session.snapshot()["in_control"] == ""
    relay.send(move(1, 1))
    marked(relay, main, view)
    assert injectors[0].calls == []


def test_allow_sends_the_control_consent_and_the_experts_input_is_carried_out(headless, relay):
    """consent {allowed, scopes view+control, monitors, secure_attention}; moves and text reach the injector."""
    injectors = Injectors(secure_attention=False)
    session, view, main = headless(open_injector=injectors)
    injector = in_control(relay, view, main, injectors)
    assert relay.of_type("consent")[1] == {
        "type": "consent", "allowed": True, "scopes": ["control", "view"],
        "monitors": [{"x": 0, "y": 0, "width": 160, "height": 200}, {"x": 160, "y": 0, "width": 160, "height": 200}],
        "secure_attention": False}
    relay.send(move(200, 20))
    relay.send({"type": "input.text", "text": "Grüße"})
    eventually(lambda: ("type", "Grüße") in injector.calls, what="the text typed")
    assert injector.calls == [("move", 10, 20), ("move", 200, 20), ("type", "Grüße")]
    assert view.in_control == "Alex" and view.control_shown() and view.sharing_bar_shown()
    assert session.snapshot()["control"] == "allowed" and session.snapshot()["in_control"] == "Alex"
    assert "Ctrl+Alt+Space" in view.notes[-1]


def test_deny_sends_the_refusal_keeps_sharing_and_ignores_input(headless, relay):
    injectors = Injectors()
    session, view, main = headless(open_injector=injectors)
    shared(relay, view, main)
    control_asked(relay, view, main)
    view.click(False)
    main.run_until(lambda: relay.of_type("consent")[1:], what="the refusal")
    assert relay.of_type("consent")[1] == {"type": "consent", "allowed": False, "scopes": ["control", "view"]}
    relay.send(move(10, 20))
    marked(relay, main, view)
    assert injectors[0].calls == [("close",)]
    assert session.sharing and view.sharing_bar_shown() and not view.control_shown()
    assert session.control == "denied"
    assert view.notes[-1] == "You did not allow Alex to use your mouse and keyboard."


def taken_back_and_still_sharing(session, relay, view, main, injector) -> None:
    main.run_until(lambda: relay.of_type("control_stop"), what="control_stop at the relay")
    assert injector.closed and not view.control_shown()
    relay.send(move(30, 40))
    marked(relay, main, view)
    assert ("move", 30, 40) not in injector.calls
    assert session.sharing and view.sharing_bar_shown() and session.control == "none"
    assert "You took back control." in view.notes
    frames = len(relay.frames)
    main.run_until(lambda: len(relay.frames) > frames, what="frames after taking back control")


def test_take_back_on_the_bar_stops_input_and_tells_the_experts(headless, relay):
    injectors = Injectors()
    session, view, main = headless(open_injector=injectors)
    injector = in_control(relay, view, main, injectors)
    view.click_take_back()
    assert injector.closed  # before anything goes out
    taken_back_and_still_sharing(session, relay, view, main, injector)
    assert relay.of_type("control_stop") == [{"type": "control_stop"}]


def test_the_take_back_key_stops_input_and_tells_the_experts(headless, relay):
    injectors = Injectors()
    session, view, main = headless(open_injector=injectors)
    injector = in_control(relay, view, main, injectors)
    injector.press_take_back()
    taken_back_and_still_sharing(session, relay, view, main, injector)


def test_where_the_key_cannot_be_listened_for_a_note_says_so(headless, relay):
    injectors = Injectors(listens=False)
    session, view, main = headless(open_injector=injectors)
    in_control(relay, view, main, injectors)
    assert view.notes[-1] == "Ctrl+Alt+Space does not work on this computer: take back control with the button on " \
                             "the sharing bar."


def test_a_computer_that_cannot_be_controlled_answers_without_asking(headless, relay):
    """control_unavailable with the reason goes out, no question, a note tells the customer why."""
    def unavailable():
        raise InjectionUnavailable("this is a Wayland session without remote-desktop portal")

    session, view, main = headless(open_injector=unavailable)
    shared(relay, view, main)
    relay.send(CONTROL_REQUEST)
    main.run_until(lambda: relay.of_type("control_unavailable"), what="control_unavailable")
    assert relay.of_type("control_unavailable") == [
        {"type": "control_unavailable", "detail": "this is a Wayland session without remote-desktop portal"}]
    assert view.control_question is None and not view.asking() and session.control == "none"
    assert "this is a Wayland session without remote-desktop portal" in view.notes[-1]
    assert session.sharing


@pytest.mark.parametrize(("stop", "note"), [
    ({"type": "control_stop", "reason": "expert_stopped"},
     "Your supporter gave back control of your mouse and keyboard."),
    ({"type": "control_stop", "reason": "experts_left"}, "Your supporter left, so remote control ended."),
    ({"type": "view_stop", "reason": "expert_ended"}, "Your supporter stopped viewing your screen."),
])
def test_the_queue_ending_control_stops_the_input_at_once(headless, relay, stop, note):
    injectors = Injectors()
    session, view, main = headless(open_injector=injectors)
    injector = in_control(relay, view, main, injectors)
    injector.press("left")  # a drag under way
    relay.send(stop)
    main.run_until(lambda: not view.control_shown(), what="the control indicator to go")
    assert injector.closed and injector.calls[-2:] == [("release", "left"), ("close",)]
    assert view.notes[-1] == note and session.control == "none" and session.in_control == ""
    assert relay.of_type("control_stop") == []
    assert session.sharing is (stop["type"] == "control_stop")


def test_a_withdrawn_control_question_is_taken_away_and_a_late_allow_starts_nothing(headless, relay):
    injectors = Injectors()
    session, view, main = headless(open_injector=injectors)
    shared(relay, view, main)
    control_asked(relay, view, main)
    answer = view.answer
    relay.send({"type": "control_stop", "reason": "withdrawn"})
    main.run_until(lambda: not view.asking(), what="the question to be withdrawn")
    answer(True)  # the click that raced the stop
    relay.send(move(10, 20))
    marked(relay, main, view)
    assert len(relay.of_type("consent")) == 1 and injectors[0].closed and injectors[0].calls == [("close",)]
    assert session.control == "none" and not view.control_shown() and session.sharing


def test_stop_sharing_on_the_bar_ends_control_first(headless, relay):
    """The input stops before view_stop goes out; no control_stop is needed (view_stop ends control too)."""
    injectors = Injectors()
    session, view, main = headless(open_injector=injectors)
    injector = in_control(relay, view, main, injectors)
    view.click_stop_sharing()
    assert injector.closed
    main.run_until(lambda: relay.of_type("view_stop"), what="view_stop at the relay")
    assert relay.of_type("control_stop") == [] and not view.control_shown() and session.control == "none"


def test_picking_a_monitor_sends_that_part_of_the_screen(headless, relay):
    """input.monitor 1: the next frames show the right half (160×200) alone; null: the whole screen again."""
    injectors = Injectors()
    session, view, main = headless(open_injector=injectors)
    in_control(relay, view, main, injectors)
    relay.send({"type": "input.monitor", "monitor": 1})
    main.run_until(lambda: frame_size(relay.frames[-1]) == (160, 200), what="a frame of monitor 1")
    relay.send({"type": "input.monitor", "monitor": None})
    main.run_until(lambda: frame_size(relay.frames[-1]) == (320, 200), what="a frame of the whole screen")


def test_closing_the_session_ends_control(headless, relay):
    injectors = Injectors()
    session, view, main = headless(open_injector=injectors)
    injector = in_control(relay, view, main, injectors)
    session.close(wait=5)
    assert injector.closed and not view.control_shown()


def frame_size(frame: bytes) -> tuple[int, int] | None:
    """The size of a whole frame's picture (None for a region frame)."""
    if not frame.startswith(b"\xff\xd8"):
        return None
    with Image.open(io.BytesIO(frame)) as image:
        return image.size


def test_on_macos_without_the_accessibility_permission_the_note_says_where_to_give_it(headless, relay):
    def untrusted():
        raise PermissionMissing(NOT_TRUSTED_ON_MACOS)

    session, view, main = headless(open_injector=untrusted)
    shared(relay, view, main)
    relay.send(CONTROL_REQUEST)
    main.run_until(lambda: relay.of_type("control_unavailable"), what="control_unavailable")
    main.run_until(lambda: "Accessibility permission" in view.notes[-1], what="the note about the permission")
    assert view.notes[-1] == ("To allow it, give this program the Accessibility permission in System Settings › "
                              "Privacy & Security › Accessibility.")
    assert relay.of_type("control_unavailable")[0]["detail"] == NOT_TRUSTED_ON_MACOS
