"""The tray icon through pystray: Windows, macOS, and Linux desktops with a tray host.

pystray picks its own backend once, when it is first imported, and importing it without a
display raises; so it is imported lazily, after ``PYSTRAY_BACKEND`` is set, and the backend
module itself (``pystray._gtk`` …) is imported by name.

On Linux each backend is checked before it is used, because pystray shows nothing, without
an error, when no tray host is there:

- ``appindicator`` needs PyGObject, a D-Bus session bus and a StatusNotifier watcher or,
  for libayatana-appindicator's own fallback, an XEmbed system tray;
- ``gtk`` needs PyGObject, a D-Bus session bus and an XEmbed system tray;
- ``xorg`` needs an XEmbed system tray; pystray draws no menu for it (see :mod:`agent.tray._xorg`).
"""

import contextlib
import functools
import importlib
import logging
import os
import re
import sys
import threading

from agent.tray._base import MenuEntry, Tray, identity
from agent.x11 import core_protocol_only

log = logging.getLogger("sosqueue.agent.tray")

#: pystray's backends this module wraps, and the platforms they run on.
PLATFORMS = {"appindicator": "linux", "gtk": "linux", "xorg": "linux", "win32": "win32", "darwin": "darwin"}

#: macOS runs its status item on the main thread's Cocoa loop, which Tk's mainloop drives.
_DETACHED = {"darwin"}

_SNI_WATCHER = "org.kde.StatusNotifierWatcher"
_NOTIFICATIONS = "org.freedesktop.Notifications"
_BUS_TIMEOUT_MS = 2000
_START_TIMEOUT = 5.0
_JOIN_TIMEOUT = 3.0


def load_backend(name: str):
    """Checks that pystray's backend ``name`` can show an icon here, and imports it.

    :param name: one of :data:`PLATFORMS`.
    :return: the pystray backend module, such as ``pystray._gtk``.
    :raises ImportError: naming what is missing.
    """
    platform = PLATFORMS.get(name)
    if platform is None:
        raise ImportError(f"pystray has no backend {name!r}")
    if not sys.platform.startswith(platform):
        raise ImportError(f"{name} works only on {platform}, not on {sys.platform}")
    if platform == "linux":
        _check_linux(name)
    if "pystray" not in sys.modules:
        os.environ["PYSTRAY_BACKEND"] = name  # pystray's package imports this backend first
    try:
        with _connections_for(name):  # pystray's X backend connects once when it is imported
            return importlib.import_module(f"pystray._{name}")
    except (ImportError, ValueError) as error:  # gi.require_version raises ValueError
        raise ImportError(f"pystray's {name} backend cannot be loaded: {error}") from error


def xembed_tray() -> bool:
    """Whether an XEmbed system tray (such as trayer or a panel's tray) owns the screen's tray."""
    if not os.environ.get("DISPLAY"):
        return False
    try:
        from Xlib import X, display as xdisplay
        from Xlib.error import DisplayError
    except ImportError:
        return False
    try:
        with core_protocol_only():
            connection = xdisplay.Display()
    except (DisplayError, OSError) as error:
        log.debug("no X display: %s", error)
        return False
    try:
        selection = connection.intern_atom(f"_NET_SYSTEM_TRAY_S{connection.get_default_screen()}")
        return connection.get_selection_owner(selection) != X.NONE
    finally:
        connection.close()


def _connections_for(name: str):
    """Where pystray's backend ``name`` opens X connections: the tray icon needs no X extension."""
    return core_protocol_only() if name == "xorg" else contextlib.nullcontext()


def session_bus():
    """The D-Bus session bus, made safe to lose: it must not end the agent when it goes away.

    :raises ImportError: if PyGObject is missing or there is no session bus.
    """
    if not _session_bus_known():
        # GIO would start a private bus with dbus-launch: no tray host is on it, and it
        # stays behind after the agent
        raise ImportError("there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
    Gio, GLib = _gio()
    try:
        bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    except GLib.Error as error:
        raise ImportError(f"there is no D-Bus session bus ({error.message})") from None
    bus.set_exit_on_close(False)
    return bus


def _session_bus_known() -> bool:
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return bool(runtime) and os.path.exists(os.path.join(runtime, "bus"))


def bus_name_available(bus, name: str) -> bool:
    """Whether ``name`` has an owner on ``bus`` or D-Bus can start one."""
    for method, wanted in (("NameHasOwner", (name,)), ("ListActivatableNames", ())):
        try:
            answer = _call_bus(bus, method, wanted)
        except Exception as error:  # GLib.Error; a broken bus means "not available"
            log.debug("D-Bus %s failed: %s", method, error)
            return False
        if answer is True or (isinstance(answer, list) and name in answer):
            return True
    return False


def _call_bus(bus, method: str, arguments: tuple):
    Gio, GLib = _gio()
    signature = "(s)" if arguments else None
    reply = bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                          method, GLib.Variant(signature, arguments) if signature else None,
                          None, Gio.DBusCallFlags.NONE, _BUS_TIMEOUT_MS, None)
    return reply.unpack()[0]


def _gio():
    try:
        import gi
        gi.require_version("Gio", "2.0")
        from gi.repository import Gio, GLib
    except (ImportError, ValueError) as error:
        raise ImportError(f"PyGObject is not installed ({error})") from None
    return Gio, GLib


def _check_linux(name: str) -> None:
    if name != "appindicator" and not os.environ.get("DISPLAY"):
        raise ImportError("there is no X display (DISPLAY is not set)")
    if name == "appindicator" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ImportError("there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)")
    has_xembed = xembed_tray()
    if name in ("xorg", "gtk") and not has_xembed:
        raise ImportError("no XEmbed system tray owns this screen")
    if name == "xorg":
        return
    bus = session_bus()
    if name == "appindicator" and not (has_xembed or bus_name_available(bus, _SNI_WATCHER)):
        raise ImportError(f"neither a StatusNotifier watcher ({_SNI_WATCHER}) nor an XEmbed "
                          "system tray is there")


def _notifications_available(name: str) -> bool:
    if name in ("win32", "darwin"):
        return True
    if name == "xorg":
        return False
    return bus_name_available(session_bus(), _NOTIFICATIONS)


def icon_name(module_id: str) -> str:
    """The name the desktop knows the icon by: stable per module, safe as an id."""
    return "sosqueue-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", module_id).strip("-") or "module")


@functools.cache
def _gtk_icon(module):
    from pystray._util.gtk import mainloop

    class GtkIcon(module.Icon):
        """pystray's GTK icon, with its title also as the tooltip the pointer shows."""

        @mainloop
        def _show(self):
            self._status_icon.set_visible(True)
            self._update_title()

        @mainloop
        def _update_title(self):
            self._status_icon.set_title(self.title)
            self._status_icon.set_tooltip_text(self.title)

    return GtkIcon


def _flush_gtk_on_loop() -> None:
    from gi.repository import Gdk, GLib

    def flush():
        display = Gdk.Display.get_default()
        if display is not None:
            display.flush()
        return False

    GLib.idle_add(flush)


class PystrayTray(Tray):
    """A tray icon drawn by pystray, with the full menu where the backend has one.

    Its event loop runs in the daemon thread ``sosqueue-tray`` (beside Tk's mainloop);
    on macOS it is attached to the main thread's loop instead.

    :param backend: pystray's backend, one of :data:`PLATFORMS`.
    :raises ImportError: if the backend cannot show an icon here.
    """

    def __init__(self, config, actions, *, translate=identity, backend: str):
        super().__init__(config, actions, translate=translate)
        self._module = load_backend(backend)
        self._pystray = importlib.import_module("pystray")
        self.backend_name = backend
        self.HAS_MENU = self._module.Icon.HAS_MENU
        self.HAS_DEFAULT_ACTION = self._module.Icon.HAS_DEFAULT_ACTION
        self.HAS_NOTIFICATION = self._module.Icon.HAS_NOTIFICATION and _notifications_available(backend)
        self.icon = None  # the pystray.Icon, made in the tray's thread
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def _start(self) -> None:
        if self.backend_name in _DETACHED:
            self.icon = self._make_icon()
            self.icon.run_detached(setup=self._on_ready)
            return
        self._thread = threading.Thread(target=self._serve, name="sosqueue-tray", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self.icon = self._make_icon()
            self.icon.run(setup=self._on_ready)
        except Exception:
            if self.running:
                log.exception("the tray icon stopped unexpectedly")
            else:  # pystray's GTK backends fail to hide a notification when there is none
                log.debug("the tray icon's loop ended with an error", exc_info=True)
        finally:
            self._ready.set()

    def _make_icon(self):
        with _connections_for(self.backend_name), self._lock:
            return self._icon_class()(icon_name(self._config.module_id), icon=self.picture(),
                                      title=self._title(), menu=self._menu())

    def _title(self) -> str:
        if self.backend_name != "xorg":
            return self.tooltip
        # pystray's xorg backend writes the title as a Latin-1 window name
        return self.tooltip.replace("—", "-").encode("latin-1", "replace").decode("latin-1")

    def _icon_class(self):
        if self.backend_name == "xorg":
            from agent.tray._xorg import xorg_icon
            return xorg_icon(self._module)
        return {"gtk": _gtk_icon}.get(self.backend_name, lambda m: m.Icon)(self._module)

    def _on_ready(self, icon) -> None:
        icon.visible = True
        self._ready.set()
        self._apply(icon)  # a state set while the icon was being made

    def _menu(self):
        pystray = self._pystray
        items = []
        for entry in self.menu_entries():
            if entry is None:
                items.append(pystray.Menu.SEPARATOR)
                continue
            items.append(pystray.MenuItem(
                self._live(entry.key, "label"), self._action(entry.key),
                enabled=self._live(entry.key, "enabled"), visible=self._live(entry.key, "visible"),
                default=entry.default and self.HAS_DEFAULT_ACTION))
        return pystray.Menu(*items)

    def _live(self, key: str, field: str):
        """A callable pystray asks each time it draws the menu, so the menu follows the state."""
        def current(_item):
            entry: MenuEntry = next(e for e in self.menu_entries() if e and e.key == key)
            return getattr(entry, field)
        return current

    def _action(self, key: str):
        def run(_icon, _item):
            self.activate(key)
        return run

    def _loop_alive(self) -> bool:
        if self.backend_name in _DETACHED:
            return self.icon is not None
        return self._thread is not None and self._thread.is_alive() and self._ready.is_set()

    def _update(self) -> None:
        if self.icon is not None and self._loop_alive():
            self._apply(self.icon)

    def _apply(self, icon) -> None:
        with self._lock:
            picture, title = self.picture(), self._title()
        icon.icon = picture
        icon.title = title
        icon.update_menu()

    def _stop(self) -> None:
        thread = self._thread
        if thread is not None:
            self._ready.wait(_START_TIMEOUT)
        if self.icon is not None and (thread is None or thread.is_alive()):
            try:
                self.icon.visible = False
                if self.backend_name in ("appindicator", "gtk"):
                    _flush_gtk_on_loop()  # or the icon stays in the tray after the loop ends
                if thread is not None:  # a detached icon's loop is Tk's: leave it running
                    self.icon.stop()
            except Exception:
                log.warning("the tray icon did not stop cleanly", exc_info=True)
        if thread is not None:
            thread.join(_JOIN_TIMEOUT)
            if thread.is_alive():
                log.warning("the tray icon's thread did not end within %s s", _JOIN_TIMEOUT)

    def _notify(self, title: str, message: str) -> None:
        if self.icon is not None:
            self.icon.notify(message, title)
