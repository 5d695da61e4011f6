"""The sharing loop on a real X screen: frames only for changes, one frame in flight, a stop is final.

The frames go to a collector standing in for the channel; the test plays the expert's
browser by acknowledging them (or not).
"""

import io
import threading
import time

import pytest
from PIL import Image, ImageColor

from agent.connect.capture import Capture, create_capture
from agent.connect.frames import encode_jpeg
from agent.connect.sharing import Sharer, cropped
from sosqueue.connect import JPEG_START, REGION_MAGIC, Region, parse_region
from tests.agent.connect.support import decode
from tests.agent.ui.support import pump
from tests.support.polling import eventually

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


# -- regions and quality ---------------------------------------------------------------------


def screen_with_box(colour: str) -> Image.Image:
    """Blue all over, with a 100-pixel square near the bottom-right corner."""
    picture = Image.new("RGB", (1280, 800), "#0B5FFF")
    picture.paste(ImageColor.getrgb(colour), (1100, 650, 1200, 750))
    return picture


def drawn(frames: list[bytes]) -> Image.Image:
    """What a viewer shows after the frames: whole ones replace the picture, regions go over it."""
    shown = decode(frames[0])
    for frame in frames[1:]:
        if frame.startswith(REGION_MAGIC):
            region, jpeg = parse_region(frame)
            shown.paste(decode(jpeg), (region.x, region.y))
        else:
            shown = decode(frame)
    return shown


def test_a_small_change_sends_only_its_region_and_the_viewer_draws_the_new_screen(painter, sharers):
    painter.show(screen_with_box("#0B5FFF"))
    viewer = Viewer(auto_ack=True)
    sharers.append(sharer := share(viewer))
    pump(painter.root, lambda: viewer.count() == 1, what="the first frame")
    assert viewer.frames[0].startswith(JPEG_START)
    painter.show(screen_with_box("#E5262A"))
    pump(painter.root, lambda: viewer.count() == 2, what="the frame of the change")
    region, _jpeg = parse_region(viewer.frames[1])
    assert region == Region(1088, 640, 112, 112, 1280, 800)  # the square (1100…1199, 650…749) aligned to 16 pixels
    assert len(viewer.frames[1]) < len(viewer.frames[0]) / 4
    shown = drawn(viewer.frames)
    assert close_to(shown.getpixel((1150, 700)), (0xE5, 0x26, 0x2A))
    assert close_to(shown.getpixel((640, 400)), (0x0B, 0x5F, 0xFF))
    assert sharer.regions_sent == 1


def test_refresh_sends_the_whole_screen_again_even_when_nothing_changed(painter, sharers):
    painter.fill("#1E7F3C")
    viewer = Viewer(auto_ack=True)
    sharers.append(sharer := share(viewer))
    pump(painter.root, lambda: viewer.count() == 1, what="the first frame")
    sharer.refresh()
    pump(painter.root, lambda: viewer.count() == 2, what="the whole frame after refresh")
    assert viewer.frames[1].startswith(JPEG_START)
    assert close_to(colour_of(viewer.frames[1]), (0x1E, 0x7F, 0x3C))


def test_after_a_frame_whose_ack_did_not_come_the_next_frame_is_whole(painter, sharers):
    """That frame may still wait in a queue where the next would replace it: a region could be lost."""
    painter.show(screen_with_box("#0B5FFF"))
    viewer = Viewer(auto_ack=False)
    sharers.append(sharer := share(viewer, ack_timeout=0.3))
    pump(painter.root, lambda: viewer.count() == 1, what="the first frame")
    painter.show(screen_with_box("#F5A623"))
    pump(painter.root, lambda: viewer.count() == 2, what="the frame after the timeout")
    assert viewer.frames[1].startswith(JPEG_START)
    assert sharer.regions_sent == 0


class LateViewer(Viewer):
    """Acks each frame ``delay`` seconds after it arrives."""

    def __init__(self, delay: float):
        super().__init__(auto_ack=False)
        self.delay = delay

    def receive(self, frame: bytes) -> bool:
        super().receive(frame)
        threading.Timer(self.delay, self.sharer.acknowledge).start()
        return True


def test_slow_acks_lower_the_jpeg_quality_and_fast_ones_raise_it_again(painter, sharers):
    painter.fill("#000000")
    viewer = LateViewer(delay=0.35)
    sharers.append(sharer := share(viewer, ack_timeout=5))
    shade = 0

    def changing_until(quality: int) -> bool:
        nonlocal shade
        shade = (shade + 17) % 256
        painter.fill(f"#{shade:02X}{shade:02X}{shade:02X}")
        return sharer.quality.quality == quality

    pump(painter.root, lambda: changing_until(30), what="the lowest quality")
    assert sharer.ack_timeouts == 0
    viewer.delay = 0.0
    pump(painter.root, lambda: changing_until(70), what="the quality back up")


def test_a_still_screen_after_blurred_frames_is_sent_once_more_whole_and_sharp(painter, sharers):
    """Slow acks lowered the quality; when the screen stops changing, one whole frame at the top
    quality follows, then nothing."""
    painter.fill("#000000")
    viewer = LateViewer(delay=0.35)
    sharers.append(sharer := share(viewer, ack_timeout=5))
    shade = 0

    def changing_until_blurred() -> bool:
        nonlocal shade
        shade = (shade + 17) % 256
        painter.fill(f"#{shade:02X}{shade:02X}{shade:02X}")
        return sharer.quality.quality < 70

    pump(painter.root, lambda: changing_until_blurred(), what="a lower quality")
    sent = viewer.count()
    pump(painter.root, lambda: viewer.count() >= sent + 1 and quantization(viewer.frames[-1]) == SHARP,
         what="a sharp frame of the still screen", timeout=20)
    assert viewer.frames[-1].startswith(JPEG_START)
    settled = viewer.count()
    time.sleep(1.5)
    assert viewer.count() == settled


def quantization(frame: bytes) -> dict:
    return Image.open(io.BytesIO(frame)).quantization


SHARP = quantization(encode_jpeg(Image.new("RGB", (16, 16)), quality=70))


class HalvesCapture(Capture):
    """A still screen in memory: the left half red, the right half blue (320×200)."""

    backend_name = "halves"

    def _grab(self) -> Image.Image:
        image = Image.new("RGB", (320, 200), (220, 20, 20))
        image.paste((20, 20, 220), (160, 0, 320, 200))
        return image


def test_show_area_crops_the_next_frames_and_sends_that_part_whole(sharers):
    """The expert picked the right half: the next frame is one whole JPEG of that half alone; None: all again."""
    viewer = Viewer(auto_ack=True)
    sharer = Sharer(HalvesCapture, viewer.receive, poll_seconds=POLL)
    viewer.sharer = sharer
    sharers.append(sharer)
    sharer.start()
    eventually(lambda: viewer.count() == 1, what="the first frame")
    sharer.show_area((160, 0, 320, 200))
    eventually(lambda: viewer.count() == 2, what="the frame of the right half")
    second = viewer.frames[1]
    assert second.startswith(JPEG_START) and decode(second).size == (160, 200)
    assert close_to(decode(second).getpixel((80, 100)), (20, 20, 220))
    sharer.show_area(None)
    eventually(lambda: viewer.count() == 3, what="the whole screen again")
    assert viewer.frames[2].startswith(JPEG_START) and decode(viewer.frames[2]).size == (320, 200)


@pytest.mark.parametrize(("box", "size"), [((-10, -10, 100, 50), (100, 50)), ((300, 150, 900, 900), (20, 50)),
                                           ((400, 0, 500, 10), (320, 200)), (None, (320, 200))])
def test_a_box_partly_or_wholly_outside_the_picture_is_kept_within_it(box, size):
    assert cropped(HalvesCapture().grab(), box).size == size
