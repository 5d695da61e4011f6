"""How often the sharer grabs: not at all while the X server reports no change, slower when it
compares grabs of a still screen, and never so rarely that a change is missed.

Grabs are counted in the capture backends themselves, not inferred from time.
"""

import threading

import pytest
from PIL import Image

from agent.connect.capture import Capture
from agent.connect.capture._linux import Capture as X11Capture
from agent.connect.sharing import IDLE_AFTER_GRABS, Sharer
from tests.agent.connect.support import decode
from tests.agent.ui.support import pump
from tests.support.polling import eventually

POLL = 0.02
IDLE_POLL = 0.05
QUIET_LOOKS = 20  # looks at an unchanged screen that must neither grab nor send


class CountedX11Capture(X11Capture):
    """The real X11 capture, counting its grabs."""

    def __init__(self):
        super().__init__()
        self.grabs = 0

    def _grab(self) -> Image.Image:
        self.grabs += 1
        return super()._grab()


class MemoryScreen(Capture):
    """A screen in memory of one colour (320×200), counting its grabs.

    :param reports: what :meth:`changed` answers: None, no reports at all (always maybe);
        False, a backend whose reports say nothing ever changes (a change it missed).
    """

    def __init__(self, *, reports: bool | None = None):
        super().__init__()
        self.colour = (20, 20, 220)
        self.grabs = 0
        self._reports = reports
        self._open = threading.Event()  # grabs go through while set
        self._open.set()
        self._waiting = threading.Event()  # a grab waits for release()

    @property
    def watches_changes(self) -> bool:
        return self._reports is not None

    def _changed(self) -> bool:
        return True if self._reports is None else self._reports

    def _grab(self) -> Image.Image:
        if not self._open.is_set():
            self._waiting.set()
            self._open.wait()
        self.grabs += 1
        return Image.new("RGB", (320, 200), self.colour)

    def hold(self) -> None:
        """Stop the next grab half-way; returns once the sharer waits in it."""
        self._waiting.clear()
        self._open.clear()
        eventually(self._waiting.is_set, what="the sharer in a grab")

    def release(self) -> None:
        self._open.set()


class Sink:
    """Takes frames as the channel would and acks each at once, like the expert's browser."""

    def __init__(self):
        self.frames: list[bytes] = []
        self.intervals: list[float] = []  # the sharer's pace as each frame went out
        self.sharer: Sharer | None = None
        self._lock = threading.Lock()

    def receive(self, frame: bytes) -> bool:
        with self._lock:
            self.frames.append(frame)
            self.intervals.append(self.sharer.interval)
        self.sharer.acknowledge()
        return True

    def count(self) -> int:
        with self._lock:
            return len(self.frames)


@pytest.fixture
def sharing():
    """Starts a sharer on a capture with a sink; every sharer started is stopped afterwards."""
    started: list[Sharer] = []

    def start(capture: Capture, **options) -> tuple[Sharer, Sink]:
        sink = Sink()
        sink.sharer = sharer = Sharer(lambda: capture, sink.receive, poll_seconds=POLL, **options)
        started.append(sharer)
        sharer.start()
        return sharer, sink

    yield start
    for sharer in started:
        sharer.stop()
        sharer.join(10)


def test_an_unchanged_x11_screen_is_not_grabbed_again(painter, sharing):
    """After the first frame, many looks at the still screen: no grab, no frame."""
    painter.fill("#0B5FFF")
    capture = CountedX11Capture()
    assert capture.watches_changes
    sharer, sink = sharing(capture, recheck_seconds=3600)
    pump(painter.root, lambda: sink.count() == 1, what="the first frame")
    grabs, polls = capture.grabs, sharer.polls
    pump(painter.root, lambda: sharer.polls >= polls + QUIET_LOOKS, what=f"{QUIET_LOOKS} looks")
    assert capture.grabs == grabs
    assert sink.count() == 1


def test_a_drawing_on_a_still_x11_screen_is_grabbed_and_sent(painter, sharing):
    """The X server reports the new colour: it is grabbed and goes out as a frame."""
    painter.fill("#0B5FFF")
    capture = CountedX11Capture()
    sharer, sink = sharing(capture, recheck_seconds=3600)
    pump(painter.root, lambda: sink.count() == 1, what="the first frame")
    polls = sharer.polls
    pump(painter.root, lambda: sharer.polls >= polls + QUIET_LOOKS, what=f"{QUIET_LOOKS} looks")
    grabs = capture.grabs
    painter.fill("#F5A623")
    pump(painter.root, lambda: sink.count() >= 2 and close_to(centre(sink.frames[-1]), (0xF5, 0xA6, 0x23)),
         what="the frame of the new colour")
    assert capture.grabs > grabs


def test_a_change_the_reports_missed_is_sent_after_the_recheck(sharing):
    """The backend says nothing changed, but the screen did: a grab is due all the same."""
    screen = MemoryScreen(reports=False)
    sharer, sink = sharing(screen, recheck_seconds=0.3)
    eventually(lambda: sink.count() == 1, what="the first frame")
    screen.colour = (220, 20, 20)
    eventually(lambda: sink.count() == 2, what="the frame of the unreported change")
    assert close_to(centre(sink.frames[-1]), (220, 20, 20))
    assert screen.grabs < sharer.polls  # the looks in between asked the capture, which said "no change"


def test_compared_grabs_of_a_still_screen_slow_down_until_a_change_or_a_nudge(sharing):
    """Without reports: the idle pace after IDLE_AFTER_GRABS unchanged grabs; a change or nudge() ends it."""
    screen = MemoryScreen()
    sharer, sink = sharing(screen, idle_poll_seconds=IDLE_POLL)
    assert sharer.interval == POLL
    eventually(lambda: sink.count() == 1, what="the first frame")
    eventually(lambda: sharer.interval == IDLE_POLL, what="the idle pace")
    assert screen.grabs >= IDLE_AFTER_GRABS
    screen.hold()
    sharer.nudge()
    assert sharer.interval == POLL
    screen.release()
    eventually(lambda: sharer.interval == IDLE_POLL, what="the idle pace again")
    screen.colour = (220, 20, 20)
    eventually(lambda: sink.count() == 2, what="the frame of the change")
    assert sink.intervals == [POLL, POLL]


def centre(frame: bytes) -> tuple[int, int, int]:
    picture = decode(frame)
    return picture.getpixel((picture.width // 2, picture.height // 2))


def close_to(actual: tuple, expected: tuple) -> bool:
    return all(abs(a - b) <= 3 for a, b in zip(actual, expected))
