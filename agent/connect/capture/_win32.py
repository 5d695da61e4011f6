"""Windows: the primary screen through Pillow's GDI grabber (it handles display scaling)."""

import sys

from PIL import Image, ImageGrab

from agent.connect.capture import _base

if sys.platform != "win32":
    raise ImportError("the Windows screen capture works only on Windows")


class Capture(_base.Capture):
    backend_name = "win32"

    def _grab(self) -> Image.Image:
        return ImageGrab.grab()
