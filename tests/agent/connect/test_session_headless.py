"""The customer's session without any window: consent, sharing and chat through a recording view.

The real channel talks to the loopback relay; only the screen (a picture in memory) and the view
(a recorder) stand in for what needs a display.
"""

import itertools
import queue
import subprocess
import sys
import time

import pytest
from PIL import Image

from agent.client import Ticket
from agent.connect.capture import Capture
from agent.connect.session import CustomerSession
from tests.agent.connect.support import CODE, TOKEN
from tests.support.modules import module_config

VIEW_REQUEST = {"type": "view_request", "expert": {"id": "u1", "name": "Alex"}, "company": "Acme IT"}
WAIT = 30.0


class RecordingView:
    """A :class:`~agent.connect.session.SessionView` that remembers what it was told to show."""

    def __init__(self):
        self.question: tuple[str, str] | None = None
        self.answer = None  # the session's on_answer while the question is open
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
        return {"asking": self.asking(), "sharing_bar": self.sharing_bar_shown()}


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

    def open_() -> tuple[CustomerSession, RecordingView, MainThread]:
        config = module_config(server_url=relay.url, module_id="m-connect", module_token="t" * 24)
        view, main = RecordingView(), MainThread()
        session = CustomerSession(view, main, config, Ticket(CODE, TOKEN, "pending"), open_capture=PictureCapture,
                                  delays=lambda: itertools.repeat(0.05), poll_seconds=0.05)
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
