"""The screen capture on a real X server: the real size, the real pixels, one clear error when impossible."""

import importlib
import sys

import pytest
from PIL import Image, ImageDraw

from agent.connect import capture
from agent.connect.capture import CaptureFailed, create_capture
from agent.connect.frames import encode_jpeg
from tests.agent.connect.support import decode, mean_difference

# A JPEG at quality 70 of this smooth pattern differs from it by about 1.5 per channel on
# average (measured: 1.88); 8 leaves room for nothing but JPEG's own loss.
JPEG_TOLERANCE = 8


def pattern_picture(width: int, height: int) -> Image.Image:
    """Gradients, blocks and lines: a picture whose every region is recognisable."""
    picture = Image.new("RGB", (width, height))
    picture.putdata([(x * 255 // (width - 1), y * 255 // (height - 1), 128)
                     for y in range(height) for x in range(width)])
    draw = ImageDraw.Draw(picture)
    for index, colour in enumerate(["#E5262A", "#0B5FFF", "#1E7F3C", "#FFFFFF", "#000000", "#F5A623"]):
        left = 80 + index * 190
        draw.rectangle([left, 200, left + 150, 400], fill=colour)
    for y in range(480, 720, 24):
        draw.line([80, y, width - 80, y], fill="#FFFFFF", width=6)
    return picture


def test_the_capture_grabs_the_whole_screen_at_its_real_size(root):
    """Xvfb's screen is 1280×800: so is the captured picture, in RGB."""
    grabbed = create_capture().grab()
    assert grabbed.size == (root.winfo_screenwidth(), root.winfo_screenheight()) == (1280, 800)
    assert grabbed.mode == "RGB"


def test_the_x11_capture_covers_the_whole_desktop(root):
    """The root window is every monitor: the picture is the X screen's whole size, as COVERS_DESKTOP says."""
    from Xlib.display import Display

    from agent.connect.capture._linux import Capture

    display = Display(root.winfo_screen())
    try:
        screen = display.screen()
        size = (screen.width_in_pixels, screen.height_in_pixels)
    finally:
        display.close()
    assert Capture.COVERS_DESKTOP is True
    assert create_capture().grab().size == size


def foreign_backend(platform: str):
    """A capture backend of another system, imported here as it would be there (the test fakes its grab).

    The module is left out of ``sys.modules`` again, so that the automatic choice never finds it.
    """
    name = f"agent.connect.capture._{platform}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "platform", platform)
        patch.setattr("shutil.which", lambda executable: f"/usr/sbin/{executable}")
        patch.delitem(sys.modules, name, raising=False)
        module = importlib.import_module(name)
    sys.modules.pop(name, None)
    if hasattr(capture, f"_{platform}"):
        delattr(capture, f"_{platform}")
    return module


def test_windows_grabs_the_whole_virtual_desktop(monkeypatch):
    """ImageGrab.grab(all_screens=True): every monitor, so COVERS_DESKTOP is true."""
    module = foreign_backend("win32")
    calls = []
    monkeypatch.setattr(module.ImageGrab, "grab", lambda **options: calls.append(options) or Image.new("RGB", (8, 4)))
    grabbed = module.Capture().grab()
    assert calls == [{"all_screens": True}]
    assert grabbed.size == (8, 4) and module.Capture.COVERS_DESKTOP is True


def test_macos_grabs_the_main_display_only(monkeypatch):
    """screencapture with one file is the main display: COVERS_DESKTOP is false, as the base class's default."""
    module = foreign_backend("darwin")
    calls = []
    monkeypatch.setattr(module.ImageGrab, "grab", lambda **options: calls.append(options) or Image.new("RGB", (8, 4)))
    module.Capture().grab()
    assert calls == [{}]
    assert module.Capture.COVERS_DESKTOP is False and capture.Capture.COVERS_DESKTOP is False


def test_a_known_picture_on_screen_comes_out_of_the_jpeg_frame(painter, artifacts_dir):
    """The captured pixels are the shown ones exactly; the decoded frame is within JPEG's loss."""
    pattern = pattern_picture(painter.width, painter.height)
    painter.show(pattern)
    grabbed = create_capture().grab()
    assert mean_difference(grabbed, pattern) == 0
    frame = decode(encode_jpeg(grabbed))
    (artifacts_dir / "agent").mkdir(parents=True, exist_ok=True)
    frame.save(artifacts_dir / "agent" / "connect-captured-frame.png")
    assert frame.size == pattern.size
    assert mean_difference(frame, pattern) < JPEG_TOLERANCE


def test_a_closed_capture_grabs_nothing(root):
    """After close, grab says so instead of reading the screen."""
    grabber = create_capture()
    grabber.close()
    with pytest.raises(RuntimeError, match="closed"):
        grabber.grab()


def test_a_display_that_went_away_is_a_failed_grab_not_a_crash(root):
    """A grab on an X server that is not there is CaptureFailed (the sharer tries again)."""
    from agent.connect.capture._linux import Capture

    with pytest.raises(CaptureFailed):
        Capture(":987").grab()


def test_an_unknown_backend_name_is_one_clear_error(monkeypatch):
    """SOSQUEUE_CAPTURE=bogus: an ImportError naming the variable and the choices."""
    monkeypatch.setenv("SOSQUEUE_CAPTURE", "bogus")
    with pytest.raises(ImportError) as raised:
        create_capture()
    assert str(raised.value) == ("the screen cannot be shared here: SOSQUEUE_CAPTURE='bogus' is not one of "
                                 "linux, win32, darwin")


def test_without_a_display_linux_capture_says_why(monkeypatch):
    """No DISPLAY (a Wayland-only desktop): the reason, not a traceback from Pillow."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("SOSQUEUE_CAPTURE", "linux")
    with pytest.raises(ImportError, match="there is no X11 display"):
        create_capture()


def test_the_automatic_choice_is_the_systems_own_backend(monkeypatch, root):
    """Linux picks the X11 backend; Windows and macOS their own."""
    assert capture.backend().backend_name == "linux"
    assert capture._candidates("win32") == ["win32"]
    assert capture._candidates("darwin") == ["darwin"]
