"""The X11 capture's change reports: the X server's DAMAGE says when something was drawn.

On Xvfb (which has DAMAGE) a drawing is reported and a grab clears the report; on a server
started without DAMAGE the capture says "maybe changed" every time, so grabs are compared.
"""

import os
import shutil
import subprocess

import pytest

from agent.connect.capture import create_capture
from agent.connect.capture._linux import Capture
from tests.support.polling import eventually
from tests.support.xserver import SCREEN, read_line, stop

pytestmark = pytest.mark.skipif(not Capture.HAS_CHANGE_EVENTS, reason="needs python-xlib for X11 change reports")


@pytest.fixture
def capture(root):
    grabber = create_capture()
    yield grabber
    grabber.close()


def test_on_xvfb_the_capture_watches_changes(capture):
    """Xvfb has DAMAGE: the chosen capture hears of changes; before any grab it says "changed"."""
    assert capture.watches_changes is True
    assert capture.changed() is True


def test_a_drawing_is_reported_and_a_grab_clears_the_report(capture, painter):
    """After a grab an unchanged screen reports nothing; a new colour is reported until the next grab."""
    painter.fill("#0B5FFF")
    capture.grab()
    painter.root.update()
    assert capture.changed() is False
    painter.fill("#F5A623")
    eventually(capture.changed, what="the report of the new colour")
    assert capture.changed() is True  # still, until a grab
    capture.grab()
    assert capture.changed() is False


def test_after_a_failed_grab_the_screen_counts_as_changed(capture, painter, monkeypatch):
    """The report was cleared for a grab that then failed: the next look must grab again."""
    from PIL import ImageGrab

    from agent.connect.capture import CaptureFailed

    painter.fill("#0B5FFF")
    capture.grab()
    painter.root.update()
    assert capture.changed() is False
    monkeypatch.setattr(ImageGrab, "grab", refused)
    with pytest.raises(CaptureFailed):
        capture.grab()
    assert capture.changed() is True


def refused(**options):
    """Pillow's grab when the X server refuses the connection."""
    raise OSError("X connection failed: error 1")


def test_asked_not_to_watch_the_capture_always_says_maybe(root):
    """watch_changes=False: no change reports, so every look needs a grab."""
    grabber = Capture(watch_changes=False)
    try:
        grabber.grab()
        assert grabber.watches_changes is False
        assert grabber.changed() is True
    finally:
        grabber.close()


def test_a_closed_capture_answers_no_question(capture):
    """After close, changed() says so instead of asking the X server."""
    capture.close()
    with pytest.raises(RuntimeError, match="closed"):
        capture.changed()


@pytest.fixture
def screen_without_damage():
    """An X server started with its DAMAGE extension switched off; its DISPLAY name."""
    if not shutil.which("Xvfb"):
        pytest.skip("needs Xvfb (scripts/setup installs it)")
    read_end, write_end = os.pipe()
    process = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp",
                                "-extension", "DAMAGE"], pass_fds=(write_end,),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        number = read_line(read_end)
    finally:
        os.close(read_end)
    yield f":{number}"
    stop(process)


def test_without_damage_on_the_server_grabs_are_compared(screen_without_damage):
    """The server lacks DAMAGE: the capture still grabs, and says "maybe changed" every time."""
    grabber = Capture(screen_without_damage)
    try:
        assert grabber.watches_changes is False
        assert grabber.grab().size == (1280, 800)
        assert grabber.changed() is True
    finally:
        grabber.close()
