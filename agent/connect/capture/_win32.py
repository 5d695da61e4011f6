"""Windows: the whole virtual desktop through Pillow's GDI grabber (it handles display scaling).

``ImageGrab.grab(all_screens=True)`` reads every monitor: the picture is the rectangle around
them all (what SM_XVIRTUALSCREEN … SM_CYVIRTUALSCREEN report), its top left the virtual
desktop's, which is left of or above the primary monitor's when another monitor is there.

GDI says nothing of what changed, so :meth:`~agent.connect.capture.Capture.changed` stays the
base class's "maybe" and the sharer compares grabs, slower once the screen stands still. Change
reports would come from DXGI Desktop Duplication (``IDXGIOutputDuplication::AcquireNextFrame``
with a zero timeout: ``DXGI_ERROR_WAIT_TIMEOUT`` means nothing new, ``GetFrameDirtyRects`` and
``GetFrameMoveRects`` say where), one duplication per monitor through a Direct3D 11 device.
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
