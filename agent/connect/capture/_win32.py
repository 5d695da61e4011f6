"""Windows: the whole virtual desktop through Pillow's GDI grabber (it handles display scaling).

``ImageGrab.grab(all_screens=True)`` reads every monitor: the picture is the rectangle around
them all (what SM_XVIRTUALSCREEN … SM_CYVIRTUALSCREEN report), its top left the virtual
desktop's, which is left of or above the primary monitor's when another monitor is there.
"""

import sys

from PIL import Image, ImageGrab

from agent.connect.capture import _base

if sys.platform != "win32":
    raise ImportError("the Windows screen capture works only on Windows")


class Capture(_base.Capture):
    backend_name = "win32"
    COVERS_DESKTOP = True

    def _grab(self) -> Image.Image:
        return ImageGrab.grab(all_screens=True)
