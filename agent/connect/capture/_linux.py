"""Linux: the X11 screen (also XWayland's) through Pillow's XCB grabber.

It grabs the root window, which is the whole desktop: every monitor, as RandR lays them out.
"""

import os
import time

from PIL import Image, ImageGrab

from agent.connect.capture import _base

if not getattr(Image.core, "HAVE_XCB", False):
    raise ImportError("this Pillow was built without XCB, so it cannot read the X11 screen")

ATTEMPTS = 3
RETRY_PAUSE = 0.02  # Pillow opens an X connection per grab; one right after another is sometimes refused


class Capture(_base.Capture):
    """Reads the screen of ``$DISPLAY`` (the display the agent's window is on)."""

    backend_name = "linux"
    COVERS_DESKTOP = True

    def __init__(self, display: str | None = None):
        display = display or os.environ.get("DISPLAY", "")
        if not display:
            raise ImportError("there is no X11 display (DISPLAY is not set); a Wayland-only desktop cannot be shared")
        super().__init__()
        self.display = display

    def _grab(self) -> Image.Image:
        # Naming the display keeps Pillow on XCB: without it a failed grab would start
        # gnome-screenshot or grim, which flash the screen or ask the customer each time.
        for attempt in range(ATTEMPTS):
            try:
                return ImageGrab.grab(xdisplay=self.display)
            except OSError:
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(RETRY_PAUSE)
        raise AssertionError("unreachable")
