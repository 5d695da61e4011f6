"""The tray icon in an XEmbed system tray (trayer, stalonetray, a panel's tray), through
pystray's X backend, with the tray's menu drawn by Tk.

pystray's X icon has no menu, and it sends the tray host a new dock request with every new
picture. A tray host answers each request by embedding the icon in a new socket, and trayer
then often leaves it 1 px wide: invisible after its first state change. The icon here docks
once and draws each new picture into the window already embedded; a right click on it opens
the same Tk menu as the SOS button.
"""

import functools
import logging
import queue
import select
import threading
import time
from typing import Callable

from agent.tray._base import identity
from agent.tray._fallback import TrayMenu, on_tk_thread
from agent.tray._pystray import PystrayTray

log = logging.getLogger("sosqueue.agent.tray")

_POLL_INTERVAL = 0.1
_CALL_TIMEOUT = 5.0
_LEFT, _RIGHT = 1, 3


class XorgTray(PystrayTray):
    """pystray's X icon: a left click requests help, a right click opens the menu.

    Create it on Tk's thread; the menu lives there, and the icon's thread hands it the
    pointer's place with ``root.after(0, …)``, so Tk's ``mainloop`` must run on that thread.

    :param tk_root: the application's Tk root, for the menu.
    :raises ImportError: without ``tk_root``, or if no XEmbed system tray owns the screen.
    """

    def __init__(self, config, actions, *, translate: Callable[[str], str] = identity, tk_root=None):
        if tk_root is None:
            raise ImportError("the X icon's menu is made with Tk: pass tk_root to create_tray")
        super().__init__(config, actions, translate=translate, backend="xorg")
        self.HAS_MENU = True
        self._root = tk_root
        self._tk_thread = threading.get_ident()
        self.menu: TrayMenu | None = None

    def _make_icon(self):
        icon = super()._make_icon()
        icon.on_menu = self._on_menu
        return icon

    def _stop(self) -> None:
        super()._stop()
        if self.icon is not None:
            # The icon and this tray referred to each other, and this tray holds the Tk root: a
            # garbage collection in another thread would then end Tk there, which aborts the process.
            self.icon.on_menu = None
        self._on_tk(self._destroy_menu)

    def _on_menu(self, x: int, y: int) -> None:
        """Called on the icon's thread with the pointer's place on the screen."""
        self._on_tk(lambda: self._open_menu(x, y))

    def _open_menu(self, x: int, y: int) -> None:
        if not self.running:
            return
        if self.menu is None:
            self.menu = TrayMenu(self, self._root)
        self.menu.popup(x, y)

    def _destroy_menu(self) -> None:
        if self.menu is not None:
            self.menu.destroy()
            self.menu = None

    def _on_tk(self, work: Callable[[], None]) -> None:
        on_tk_thread(self._root, self._tk_thread, work, what="the X icon's menu cannot be shown")


@functools.cache
def xorg_icon(module):
    """pystray's X icon class ``module.Icon``, made to dock once, take right clicks and keep
    X to its own thread."""
    from Xlib import X

    class XorgIcon(module.Icon):
        """pystray's X icon, docked once, with only its own thread talking to X.

        pystray hands calls from other threads (set_state, stop) to the icon's loop by
        sending X messages on the loop's connection, and python-xlib loses track of replies
        and events when two threads use one connection: sometimes the loop or the caller then
        waits forever. Here such calls go through a Python queue that the loop, which polls
        X instead of blocking on it, runs between events.
        """

        #: Called on the icon's thread with the pointer's root x and y after a right click.
        on_menu: Callable[[int, int], None] | None = None

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._message_handlers[X.ButtonRelease] = self._on_button_release

        def _show(self):
            if self._systray_manager is None:
                super()._show()

        def _update_icon(self):
            if self._systray_manager is None:
                super()._update_icon()  # docks, then draws
                return
            # pystray would dock again, and the tray host would embed the icon anew
            self._icon_data = None
            self._draw()
            self._icon_valid = True

        def _on_button_release(self, event):
            # on release, not press: the press's implicit grab would keep Tk's menu from grabbing
            if event.detail == _RIGHT and self.on_menu is not None:
                self.on_menu(event.root_x, event.root_y)

        def _rewrite_implementation(self, *methods):
            self._calls = queue.Queue()
            for method in methods:
                setattr(self, method.__name__, self._on_loop(method))

        def _on_loop(self, method):
            def call():
                if threading.current_thread() is getattr(self, "_thread", None):
                    return method()
                done = queue.Queue()
                self._calls.put((method, done))
                deadline = time.monotonic() + _CALL_TIMEOUT
                while time.monotonic() < deadline:
                    try:
                        error = done.get(timeout=_POLL_INTERVAL)
                    except queue.Empty:
                        thread = getattr(self, "_thread", None)
                        if thread is not None and not thread.is_alive():
                            return None  # the loop has ended; there is nothing left to change
                        continue
                    if error is not None:
                        raise error
                    return None
                log.warning("the X tray icon's loop did not run %s", method.__name__)
            return call

        def _create_window(self):
            window = super()._create_window()
            # pystray does not ask for clicks, so its default action never runs
            window.change_attributes(event_mask=X.ExposureMask | X.StructureNotifyMask
                                     | X.ButtonPressMask | X.ButtonReleaseMask)
            return window

        def _run(self):
            try:
                super()._run()
            finally:
                self._display.close()  # the loop has ended: let go of the X connection now

        def __del__(self):
            try:
                super().__del__()
            except Exception:  # the connection is closed already, or the X server is gone
                pass

        def _events(self):
            while True:
                self._run_calls()
                if self._display.pending_events():
                    yield self._display.next_event()
                else:
                    select.select([self._display], [], [], _POLL_INTERVAL)

        def _run_calls(self):
            while True:
                try:
                    method, done = self._calls.get_nowait()
                except queue.Empty:
                    return
                try:
                    method()
                    done.put(None)
                except Exception as error:
                    done.put(error)

    return XorgIcon
