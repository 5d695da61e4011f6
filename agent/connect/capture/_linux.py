"""Linux: the X11 screen (also XWayland's) through Pillow's XCB grabber.

It grabs the root window, which is the whole desktop: every monitor, as RandR lays them out.
The X server's DAMAGE extension tells it when anything was drawn there (:class:`DamageWatch`),
so a screen that stands still is not grabbed at all; where the server lacks DAMAGE (or
python-xlib is missing) :meth:`Capture.changed` is always True and the sharer compares grabs.
"""

import logging
import os
import time

from PIL import Image, ImageGrab

from agent import x11
from agent.connect.capture import _base

try:
    from Xlib.display import Display
    from Xlib.error import ConnectionClosedError, DisplayError, XError
    from Xlib.ext import damage
except ImportError:  # python-xlib comes with the agent extra on Linux; without it, grabs are compared
    Display = None

if not getattr(Image.core, "HAVE_XCB", False):
    raise ImportError("this Pillow was built without XCB, so it cannot read the X11 screen")

log = logging.getLogger(__name__)

#: What a lost or refusing X connection raises in python-xlib.
X_FAILURES = (XError, DisplayError, ConnectionClosedError, OSError) if Display is not None else (OSError,)

ATTEMPTS = 3
RETRY_PAUSE = 0.02  # Pillow opens an X connection per grab; one right after another is sometimes refused


class DamageWatch:
    """A DAMAGE object on the root window of ``display``, read on a connection of its own.

    The server sends one ``DamageNotify`` when the damage goes from empty to anything;
    :meth:`reset`, right before each grab, empties it again, so a notice means "drawn since the
    last grab". Opening raises ``OSError`` where the display or its DAMAGE extension is missing.
    """

    def __init__(self, display: str):
        try:
            self._display = x11.connect(display)
        except X_FAILURES as error:
            raise OSError(f"cannot open {display}: {error}") from None
        try:
            if not self._display.has_extension(damage.extname):
                raise OSError(f"the X server of {display} has no DAMAGE extension")
            self._display.damage_query_version()  # the extension answers nothing before this
            self._notify = self._display.extension_event.DamageNotify
            self._damage = self._display.screen().root.damage_create(damage.DamageReportNonEmpty)
            self._display.sync()
        except X_FAILURES:
            self._display.close()
            raise
        self._drawn = True  # nothing grabbed yet

    def drawn(self) -> bool:
        """Whether anything was drawn since the last :meth:`reset` (reads the notices waiting, never blocks)."""
        while self._display.pending_events():
            if self._display.next_event().type == self._notify:
                self._drawn = True
        return self._drawn

    def reset(self) -> None:
        """Empty the damage before a grab: whatever is drawn from here on is news.

        The round trip makes sure the server has emptied it before the grab's own connection
        reads the screen; notices already waiting are about what that grab will show.
        """
        self._display.damage_subtract(self._damage)
        self._display.sync()
        while self._display.pending_events():
            self._display.next_event()
        self._drawn = False

    def assume_drawn(self) -> None:
        """The grab after :meth:`reset` failed: what it would have shown is still news."""
        self._drawn = True

    def close(self) -> None:
        try:
            self._display.damage_destroy(self._damage)
        finally:
            self._display.close()


class Capture(_base.Capture):
    """Reads the screen of ``$DISPLAY`` (the display the agent's window is on).

    :param watch_changes: ask the X server for change notices (DAMAGE); False grabs and compares always.
    """

    backend_name = "linux"
    COVERS_DESKTOP = True
    HAS_CHANGE_EVENTS = Display is not None

    def __init__(self, display: str | None = None, *, watch_changes: bool = True):
        display = display or os.environ.get("DISPLAY", "")
        if not display:
            raise ImportError("there is no X11 display (DISPLAY is not set); a Wayland-only desktop cannot be shared")
        super().__init__()
        self.display = display
        self._watch = self._open_watch() if watch_changes and self.HAS_CHANGE_EVENTS else None

    @property
    def watches_changes(self) -> bool:
        return self._watch is not None

    def _open_watch(self) -> DamageWatch | None:
        try:
            return DamageWatch(self.display)
        except OSError as error:
            log.info("the screen is compared grab by grab: %s", error)
            return None

    def _changed(self) -> bool:
        if self._watch is None:
            return True
        try:
            return self._watch.drawn()
        except X_FAILURES as error:
            self._lose_watch(error)
            return True

    def _grab(self) -> Image.Image:
        if self._watch is not None:
            try:
                self._watch.reset()
            except X_FAILURES as error:
                self._lose_watch(error)
        # Naming the display keeps Pillow on XCB: without it a failed grab would start
        # gnome-screenshot or grim, which flash the screen or ask the customer each time.
        try:
            return self._grab_root()
        except OSError:
            if self._watch is not None:
                self._watch.assume_drawn()
            raise

    def _grab_root(self) -> Image.Image:
        for attempt in range(ATTEMPTS):
            try:
                return ImageGrab.grab(xdisplay=self.display)
            except OSError:
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(RETRY_PAUSE)
        raise AssertionError("unreachable")

    def _lose_watch(self, error: Exception) -> None:
        log.info("the X server's change notices stopped (%s); the screen is compared grab by grab", error)
        self._drop_watch()

    def _drop_watch(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            try:
                watch.close()
            except X_FAILURES:  # the connection is gone already
                pass

    def _close(self) -> None:
        self._drop_watch()
