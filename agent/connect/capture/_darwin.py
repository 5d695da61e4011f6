"""macOS: the main screen through ``screencapture``, which Pillow runs for each grab.

It grabs the main display only (``COVERS_DESKTOP`` is false). macOS asks the customer once to
allow screen recording for the support module; until they do, the pictures show only the
desktop background.

``screencapture`` says nothing of what changed, so :meth:`~agent.connect.capture.Capture.changed`
stays the base class's "maybe" and the sharer compares grabs, slower once the screen stands
still. Change reports would come from a ``CGDisplayStream`` of the main display, whose frame
handler gets the changed rectangles (``CGDisplayStreamUpdateGetRects`` with
``kCGDisplayStreamUpdateDirtyRects``) and only runs when something was drawn.
"""

import shutil
import sys

from PIL import Image, ImageGrab

from agent.connect.capture import _base

if sys.platform != "darwin" or not shutil.which("screencapture"):
    raise ImportError("the macOS screen capture needs macOS and its screencapture tool")


class Capture(_base.Capture):
    backend_name = "darwin"
    COVERS_DESKTOP = False

    def _grab(self) -> Image.Image:
        return ImageGrab.grab()
