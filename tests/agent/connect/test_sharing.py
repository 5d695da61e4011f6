"""The sharing loop on a real X screen: frames only for changes, one frame in flight, a stop is final.

The frames go to a collector standing in for the channel; the test plays the expert's
browser by acknowledging them (or not).
"""

import threading
import time

import pytest

from agent.connect.capture import create_capture
from agent.connect.sharing import Sharer
from tests.agent.connect.support import decode
from tests.agent.ui.support import pump

POLL = 0.05
QUIET_POLLS = 10  # grabs of an unchanged screen that must produce nothing


class Viewer:
    """Receives frames as the channel would hand them on; acks them when told to."""

    def __init__(self, *, auto_ack: bool):
        self.frames: list[bytes] = []
        self.auto_ack = auto_ack
        self.sharer: Sharer | None = None
        self._lock = threading.Lock()

    def receive(self, frame: bytes) -> bool:
        with self._lock:
            self.frames.append(frame)
        if self.auto_ack:
            self.sharer.acknowledge()
        return True

    def count(self) -> int:
        with self._lock:
            return len(self.frames)


def share(viewer: Viewer, **options) -> Sharer:
    sharer = Sharer(create_capture, viewer.receive, poll_seconds=POLL, **options)
    viewer.sharer = sharer
    sharer.start()
    return sharer


@pytest.fixture
def sharers():
    """Every sharer a test starts is stopped after it."""
    started: list[Sharer] = []
    yield started
    for sharer in started:
        sharer.stop()
        sharer.join(10)


def colour_of(frame: bytes) -> tuple[int, int, int]:
    return decode(frame).getpixel((640, 400))


def close_to(actual: tuple, expected: tuple) -> bool:
    return all(abs(a - b) <= 3 for a, b in zip(actual, expected))


def test_a_static_screen_sends_one_frame_and_then_nothing(painter, sharers):
    """One frame at the start; over the next polls of an unchanged screen, none."""
    painter.fill("#0B5FFF")
    viewer = Viewer(auto_ack=True)
    sharers.append(sharer := share(viewer))
    pump(painter.root, lambda: viewer.count() == 1, what="the first frame")
    polls = sharer.polls
    pump(painter.root, lambda: sharer.polls >= polls + QUIET_POLLS, what=f"{QUIET_POLLS} more polls")
    assert viewer.count() == 1
    assert sharer.frames_sent == 1
    assert close_to(colour_of(viewer.frames[0]), (0x0B, 0x5F, 0xFF))


def test_a_change_sends_exactly_one_more_frame(painter, sharers):
    """The screen turns green: one frame showing green, then quiet again."""
    painter.fill("#0B5FFF")
    viewer = Viewer(auto_ack=True)
    sharers.append(sharer := share(viewer))
    pump(painter.root, lambda: viewer.count() == 1, what="the first frame")
    painter.fill("#1E7F3C")
    pump(painter.root, lambda: viewer.count() == 2, what="the frame of the change")
    polls = sharer.polls
    pump(painter.root, lambda: sharer.polls >= polls + QUIET_POLLS, what=f"{QUIET_POLLS} more polls")
    assert viewer.count() == 2
    assert close_to(colour_of(viewer.frames[1]), (0x1E, 0x7F, 0x3C))
    assert sharer.bytes_sent == sum(len(frame) for frame in viewer.frames)


def test_without_acks_the_next_frame_waits_for_the_timeout(painter, sharers):
    """Nobody acks while the screen keeps changing: every frame after the first was released by the timeout."""
    painter.fill("#000000")
    viewer = Viewer(auto_ack=False)
    sharers.append(sharer := share(viewer, ack_timeout=0.3))
    shade = 0

    def changing_until_three_frames() -> bool:
        nonlocal shade
        shade = (shade + 17) % 256
        painter.fill(f"#{shade:02X}{shade:02X}{shade:02X}")
        return viewer.count() >= 3

    pump(painter.root, changing_until_three_frames, what="three frames")
    sharer.stop()
    sharer.join(10)
    assert sharer.ack_timeouts == viewer.count() - 1


def test_with_acks_each_frame_follows_an_ack_and_none_is_sent_before(painter, sharers):
    """One frame in flight: changes wait for the ack; each ack lets exactly the latest picture go."""
    painter.fill("#000000")
    viewer = Viewer(auto_ack=False)
    sharers.append(sharer := share(viewer, ack_timeout=600))
    pump(painter.root, lambda: viewer.count() == 1, what="the first frame")
    for colour in ("#E5262A", "#F5A623", "#1E7F3C"):
        painter.fill(colour)
        time.sleep(4 * POLL)  # time for the sharer to misbehave, were it to send without an ack
        painter.root.update()
    assert viewer.count() == 1
    sharer.acknowledge()
    pump(painter.root, lambda: viewer.count() == 2, what="the frame after the ack")
    assert close_to(colour_of(viewer.frames[1]), (0x1E, 0x7F, 0x3C))
    painter.fill("#0B5FFF")
    sharer.acknowledge()
    pump(painter.root, lambda: viewer.count() == 3, what="the next frame after the next ack")
    assert close_to(colour_of(viewer.frames[2]), (0x0B, 0x5F, 0xFF))
    assert sharer.ack_timeouts == 0


def test_after_stop_no_frame_leaves_and_the_capture_is_closed(painter, sharers):
    """stop() is final: further changes send nothing and the thread ends."""
    painter.fill("#000000")
    opened = []

    def open_capture():
        opened.append(create_capture())
        return opened[-1]

    viewer = Viewer(auto_ack=True)
    sharer = Sharer(open_capture, viewer.receive, poll_seconds=POLL)
    viewer.sharer = sharer
    sharers.append(sharer)
    sharer.start()
    pump(painter.root, lambda: viewer.count() == 1, what="the first frame")
    sharer.stop()
    sent = viewer.count()
    painter.fill("#FFFFFF")
    sharer.join(10)
    assert viewer.count() == sent == 1
    assert not sharer.sharing
    assert opened[0].closed


def test_a_channel_that_went_down_ends_sharing_by_itself(painter):
    """send_frame says the channel is gone: the sharer ends and says why."""
    painter.fill("#000000")
    ended = []
    sharer = Sharer(create_capture, lambda frame: False, poll_seconds=POLL, on_end=ended.append)
    sharer.start()
    sharer.join(30)
    assert ended == ["channel"]
    assert sharer.frames_sent == 0
