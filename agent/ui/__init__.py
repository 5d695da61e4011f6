"""The agent's windows (tkinter): the help window and its small dialogs.

This package module itself does not import tkinter, so a Python without Tk still gets a plain
:class:`~agent.errors.NoDisplay` from :func:`create_root`. Everything that touches Tk runs on
the main thread; other threads hand work to it through :class:`UiQueue`.
"""

import logging
import os
import queue
import sys
from collections.abc import Callable
from dataclasses import dataclass

from agent.errors import NoDisplay
from sosqueue import codes, window_layout
from sosqueue.desktop_entry import WINDOW_CLASS

log = logging.getLogger("sosqueue.agent")

#: The window's words for each status (sosqueue.window_layout's; the app notifies with them too).
STATUS_TEXTS = window_layout.STATUS_TEXTS


@dataclass(frozen=True)
class FormValues:
    """What the customer typed (hidden fields stay empty), the topic they picked (empty when the module
    offers none) and the diagnostics they agreed to send."""

    name: str = ""
    email: str = ""
    description: str = ""
    topic: str = ""
    diagnostics: dict | None = None


@dataclass(frozen=True)
class WindowActions:
    """What the help window reports; the app decides what happens."""

    request_help: Callable[[FormValues], None]
    join_code: Callable[[str], None]
    cancel_request: Callable[[], None]
    close: Callable[[], None]  # the window's close button or Escape
    #: A line the customer adds for the supporter while the request is open; True once it is added
    #: (the line then leaves the input). Without it the window offers no note field.
    add_note: Callable[[str], bool] | None = None


def normalise_code(text: str) -> str | None:
    """``s12-345-678`` for any spelling the customer may type (``S12 345 678``, ``12345678``), else None."""
    try:
        return codes.display(codes.normalize(text))
    except codes.InvalidCode:
        return None


NO_DISPLAY_MESSAGE = (
    "The help window cannot open: there is no graphical display here. "
    'To ask for help from a terminal, run the support module with --sos --no-gui --description "your problem".'
)


def no_display() -> NoDisplay:
    from agent.i18n import _

    return NoDisplay(_(NO_DISPLAY_MESSAGE))
POLL_MS = 100


def create_root(class_name: str = WINDOW_CLASS):
    """A new Tk root window, or :class:`~agent.errors.NoDisplay` with a plain message."""
    if _needs_x_display() and not os.environ.get("DISPLAY"):  # Tk needs X (XWayland sets DISPLAY too)
        raise no_display()
    try:
        import tkinter
    except ImportError as error:  # a Python without Tk (some minimal Linux installs)
        log.warning("tkinter is missing: %s", error)
        raise no_display() from None
    try:
        return tkinter.Tk(className=class_name)
    except tkinter.TclError as error:
        log.warning("cannot open the display: %s", error)
        raise no_display() from None


def _needs_x_display() -> bool:
    return sys.platform not in ("win32", "darwin")


class UiQueue:
    """Hands callables from any thread to the Tk main loop, which runs them in order.

    Tk is not thread-safe: background threads call :meth:`call`, and the main loop drains
    the queue every :data:`POLL_MS` milliseconds with ``root.after``.
    """

    def __init__(self, root, *, on_idle: Callable[[], None] = lambda: None):
        self._root = root
        self._queue: queue.SimpleQueue[tuple[Callable, tuple]] = queue.SimpleQueue()
        self._on_idle = on_idle
        self._running = False

    def start(self) -> None:
        self._running = True
        self._root.after(POLL_MS, self._drain)

    def stop(self) -> None:
        self._running = False

    def call(self, function: Callable, *args) -> None:
        """Run ``function(*args)`` on the main thread, soon (safe from any thread)."""
        self._queue.put((function, args))

    def _drain(self) -> None:
        while self._running:
            try:
                function, args = self._queue.get_nowait()
            except queue.Empty:
                break
            try:
                function(*args)
            except Exception:
                log.exception("error in the window")
        if self._running:
            self._on_idle()
            self._root.after(POLL_MS, self._drain)
