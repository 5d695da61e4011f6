"""What every capture backend shares: the public grab() and changed(), and their private hooks."""

import threading

from PIL import Image


class CaptureFailed(Exception):
    """One grab did not work (the display was busy or went away); the next one may."""


class Capture:
    """Grabs the screen as an RGB image: the whole desktop, or the primary monitor alone (see
    :attr:`COVERS_DESKTOP`).

    :meth:`grab` checks the capture is open, then calls ``_grab`` which each backend
    implements; :meth:`changed` asks ``_changed`` whether a grab is worth it. Both are safe to
    call from one thread at a time.
    """

    #: The name of the backend, as ``SOSQUEUE_CAPTURE`` spells it.
    backend_name = "base"
    #: Whether a picture shows the whole desktop (every monitor, its top left the desktop's);
    #: when false it shows the primary monitor only.
    COVERS_DESKTOP = False
    #: Whether the backend can hear from the system that the screen changed, so that an
    #: unchanged screen need not be grabbed (X11's DAMAGE extension). Whether it does on this
    #: display is :attr:`watches_changes`; without it :meth:`changed` is always True.
    HAS_CHANGE_EVENTS = False

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

    @property
    def watches_changes(self) -> bool:
        """Whether :meth:`changed` can say False here (the system reports changes to this capture)."""
        return False

    def changed(self) -> bool:
        """Whether the screen may have changed since the last :meth:`grab` (True before the first).

        Never waits. False only when the system said nothing changed; without
        :attr:`watches_changes` (or when in doubt) True: only a grab can tell.

        :raises RuntimeError: after :meth:`close`.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the screen capture is closed")
            return self._changed()

    def close(self) -> None:
        """Grab nothing more; closing twice is harmless."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._close()

    def _grab(self) -> Image.Image:
        """The backend's grab (``_linux``, ``_win32``, ``_darwin`` each implement it)."""
        raise NotImplementedError(f"{type(self).__name__} is a capture backend without a _grab")

    def _changed(self) -> bool:
        """The backend's answer to :meth:`changed`: unknown, so grab (Windows could read DXGI Desktop
        Duplication's dirty rectangles, macOS a CGDisplayStream's update rectangles)."""
        return True

    def _close(self) -> None:
        """Free what the backend holds (nothing by default)."""
