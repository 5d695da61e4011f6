"""What every capture backend shares: the public :meth:`Capture.grab` and its private hook."""

import threading

from PIL import Image


class CaptureFailed(Exception):
    """One grab did not work (the display was busy or went away); the next one may."""


class Capture:
    """Grabs the screen as an RGB image: the whole desktop, or the primary monitor alone (see
    :attr:`COVERS_DESKTOP`).

    :meth:`grab` checks the capture is open, then calls ``_grab`` which each backend
    implements; it is safe to call from one thread at a time.
    """

    #: The name of the backend, as ``SOSQUEUE_CAPTURE`` spells it.
    backend_name = "base"
    #: Whether a picture shows the whole desktop (every monitor, its top left the desktop's);
    #: when false it shows the primary monitor only.
    COVERS_DESKTOP = False

    def __init__(self):
        self._closed = False
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    def grab(self) -> Image.Image:
        """The screen as it is now, in RGB.

        :raises CaptureFailed: when this grab did not work.
        :raises RuntimeError: after :meth:`close`.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the screen capture is closed")
            try:
                image = self._grab()
            except OSError as error:
                raise CaptureFailed(str(error) or type(error).__name__) from None
        return image if image.mode == "RGB" else image.convert("RGB")

    def close(self) -> None:
        """Grab nothing more; closing twice is harmless."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._close()

    def _grab(self) -> Image.Image:
        """The backend's grab (``_linux``, ``_win32``, ``_darwin`` each implement it)."""
        raise NotImplementedError(f"{type(self).__name__} is a capture backend without a _grab")

    def _close(self) -> None:
        """Free what the backend holds (nothing by default)."""
